"""Issue a consent link for a follower: they open it, read the terms and agree (older links stop working)."""

from __future__ import annotations

import getpass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.selectors import follower_get
from accounts.services.consent import consent_link_issue
from copytrade.core.exceptions import ApplicationError


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli"


class Command(BaseCommand):
    help = (
        "Print a new consent link for a follower and when it expires. Send it to the follower; any link "
        "issued before stops working."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("follower_id", metavar="FOLLOWER_ID", help="the follower's account id")

    def handle(self, *args, follower_id: str, **options) -> None:
        try:
            account = follower_get(follower_id=follower_id.strip())
            link = consent_link_issue(account=account, actor=_actor())
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        expires = link.expires_at.astimezone(ZoneInfo(settings.MARKET_TIME_ZONE))
        self.stdout.write(self.style.SUCCESS(f"✅ Consent link for {account.account_id}:"))
        self.stdout.write(link.url)
        utc = link.expires_at.isoformat()
        self.stdout.write(f"Expires {expires:%Y-%m-%d %H:%M} IST ({utc}); it works once.")
