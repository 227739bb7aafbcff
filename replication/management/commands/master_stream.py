"""Run the master's order-update stream (Alice Blue's order-notify websocket) until stopped."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from replication.services.capture_stream import master_stream_run


class Command(BaseCommand):
    help = (
        "Stream the active master's order updates from Alice Blue and copy them to the followers within a "
        "second. Run one per deployment or more: one streams (it holds a lease), the others stand by and "
        "take over when it stops. Stops on SIGINT/SIGTERM."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--max-seconds", type=float, default=None, help="stop after this many seconds (tests, benchmarks)"
        )

    def handle(self, *args, max_seconds: float | None = None, **options) -> None:
        master_stream_run(max_seconds=max_seconds)
