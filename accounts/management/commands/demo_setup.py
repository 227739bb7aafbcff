"""manage.py demo_setup: the `make run` demo (admin user, master and followers on the simulator)."""

import os

import requests
from django.core.management.base import BaseCommand, CommandError

from accounts.services.demo import DEMO_FOLLOWERS, demo_accounts_ensure, demo_admin_ensure
from broker.simulator.control_client import SimulatorClient, SimulatorError


class Command(BaseCommand):
    help = "Create the demo admin user (password from COPYTRADE_ADMIN_PASSWORD) and demo accounts."

    def add_arguments(self, parser):
        parser.add_argument("--simulator-url", required=True, help="Root URL of the Alice Blue simulator")

    def handle(self, *args, **options):
        password = os.environ.get("COPYTRADE_ADMIN_PASSWORD", "")
        if not password:
            raise CommandError("COPYTRADE_ADMIN_PASSWORD is not set")
        created = demo_admin_ensure(password=password)
        self.stdout.write(self.style.SUCCESS(f"admin user {'created' if created else 'updated'}"))
        try:
            accounts = demo_accounts_ensure(simulator=SimulatorClient(options["simulator_url"]))
        except (SimulatorError, requests.RequestException) as exc:
            raise CommandError(f"simulator not usable at {options['simulator_url']}: {exc}") from exc
        multipliers = {d.account_id: d for d in DEMO_FOLLOWERS}
        for account in accounts:
            demo = multipliers.get(account.account_id)
            detail = f"x{demo.lot_multiplier}" if demo else "master"
            if demo and demo.allowed_instruments:
                detail += f", only {'/'.join(demo.allowed_instruments)}"
            self.stdout.write(
                f"  {account.account_id:<16} Alice Blue user {account.client_id:<8} ({detail}), session VALID"
            )
