"""`manage.py alice_simulator --port 9100`: run the local Alice Blue simulator in the foreground."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from broker.simulator.server import run_forever
from broker.simulator.state import DEFAULT_REDIRECT_URL, SimulatorOptions


class Command(BaseCommand):
    help = "Run the Alice Blue simulator (both API generations, the login page and the /sim/ control API)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=9100)
        parser.add_argument("--app-code", default=getattr(settings, "ALICE_APP_CODE", "") or "COPYTRADE")
        parser.add_argument(
            "--api-secret", default=getattr(settings, "ALICE_API_SECRET", "") or "sim-app-secret"
        )
        parser.add_argument("--redirect-url", default=DEFAULT_REDIRECT_URL)
        parser.add_argument("--latency-ms", type=int, default=0)
        parser.add_argument("--demo-accounts", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        sim_options = SimulatorOptions(
            app_code=options["app_code"],
            api_secret=options["api_secret"],
            redirect_url=options["redirect_url"],
            latency_ms=options["latency_ms"],
            demo_accounts=options["demo_accounts"],
        )

        def ready(port: int) -> None:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Alice Blue simulator on http://{options['host']}:{port} (Ctrl-C stops it)"
                )
            )

        run_forever(sim_options, host=options["host"], port=options["port"], on_ready=ready)
