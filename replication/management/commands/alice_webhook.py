"""Show, subscribe or unsubscribe this deployment's Alice Blue webhook URL for the active master."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from broker.exceptions import BrokerError
from copytrade.core.exceptions import ApplicationError
from replication.services.capture_inbound import webhook_subscription_set, webhook_url


class Command(BaseCommand):
    help = (
        "Alice Blue can POST the master's order events to a URL (a webhook). This deployment's URL has a "
        "secret part: `show` prints it, `subscribe` registers it for the active master at Alice Blue, "
        "`unsubscribe` removes it. Needs COPYTRADE_PUBLIC_URL (this service's public https address)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["show", "subscribe", "unsubscribe"])

    def handle(self, *args, action: str, **options) -> None:
        try:
            if action == "show":
                url = webhook_url()
                self.stdout.write(url)
                return
            url = webhook_subscription_set(subscribe=action == "subscribe")
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        except BrokerError as exc:
            raise CommandError(f"Alice Blue refused: {exc.message}") from exc
        verb = "Subscribed" if action == "subscribe" else "Unsubscribed"
        self.stdout.write(self.style.SUCCESS(f"✅ {verb} {url}"))
