"""Writes for the core app."""

from __future__ import annotations

import logging
import socket

from django.utils import timezone

from copytrade.core.models import Heartbeat

logger = logging.getLogger(__name__)


def heartbeat_record(*, name: str = "worker") -> Heartbeat:
    """Upsert the named heartbeat with the current time and host."""
    beat, _ = Heartbeat.objects.update_or_create(
        name=name, defaults={"last_seen": timezone.now(), "hostname": socket.gethostname()}
    )
    return beat
