"""Create (or re-activate) the master account: the one whose orders are copied."""

from __future__ import annotations

import getpass

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Account
from accounts.services.accounts import master_create
from copytrade.core.exceptions import ApplicationError


class Command(BaseCommand):
    help = "Create the master account (exactly one may be active). Log it in afterwards with the vendor flow."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("account_id", metavar="accountId", help="external id, e.g. MASTER-1 or an e-mail")
        parser.add_argument("--client-id", required=True, help="Alice Blue user id (UCC)")
        parser.add_argument("--name", default="")
        parser.add_argument("--api-flavor", choices=[c for c, _ in Account.ApiFlavor.choices])
        parser.add_argument("--replace", action="store_true", help="deactivate the current master first")

    def handle(
        self,
        *args,
        account_id: str,
        client_id: str,
        name: str,
        api_flavor: str | None,
        replace: bool,
        **options,
    ) -> None:
        try:
            actor = f"cli:{getpass.getuser()}"
        except (OSError, KeyError):
            actor = "cli"
        try:
            account = master_create(
                account_id=account_id.strip(),
                client_id=client_id.strip(),
                name=name,
                api_flavor=api_flavor,
                replace=replace,
                actor=actor,
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"✅ {account.account_id} is the master "
                f"(Alice Blue user {account.client_id}, {account.api_flavor} API)."
            )
        )
        self.stdout.write(f"Log it in: /api/alice/oauth/vendor/start?accountId={account.account_id}")
