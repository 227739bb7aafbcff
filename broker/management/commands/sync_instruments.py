"""manage.py sync_instruments: download the contract master into the instrument cache."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from broker.exceptions import BrokerError
from broker.instrument_store import instruments_sync
from broker.instruments import ContractMasterError


class Command(BaseCommand):
    help = "Download Alice Blue's contract master (V2 CSV) for the configured exchanges into the database."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--url", help="Base URL of the V2 contract master (default: ALICE_CONTRACT_MASTER_URL)"
        )
        parser.add_argument(
            "--exchange",
            action="append",
            dest="exchanges",
            help="Exchange to sync (repeatable; default: ALICE_CONTRACT_EXCHANGES)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        exchanges = [e.upper() for e in options["exchanges"]] if options["exchanges"] else None
        try:
            counts = instruments_sync(base_url=options["url"], exchanges=exchanges)
        except (BrokerError, ContractMasterError) as exc:
            raise CommandError(f"Contract master sync failed: {exc}") from exc
        for exchange, count in counts.items():
            self.stdout.write(self.style.SUCCESS(f"{exchange}: {count} contracts"))
