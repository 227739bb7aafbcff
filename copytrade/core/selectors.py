"""Reads for the core app: the health report."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from copytrade.core.models import Heartbeat

logger = logging.getLogger(__name__)


def _database_health() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "vendor": connection.vendor}


def _broker_health() -> dict[str, Any]:
    from copytrade.celery import app

    transport = settings.CELERY_BROKER_URL.split(":", 1)[0]
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return {"ok": False, "transport": transport, "error": type(exc).__name__}
    return {"ok": True, "transport": transport}


def _beat_health() -> dict[str, Any]:
    """Beat's heartbeat through each Celery queue: ok when a worker of every queue ran one lately; lastSeen
    and ageSeconds are the stalest queue's."""
    rows = {
        settings.CELERY_TASK_DEFAULT_QUEUE: Heartbeat.DEFAULT_QUEUE,
        settings.PLACEMENT_QUEUE: Heartbeat.PLACEMENT_QUEUE,
    }
    seen = dict(Heartbeat.objects.filter(name__in=rows.values()).values_list("name", "last_seen"))
    stale_after = timedelta(seconds=settings.HEARTBEAT_INTERVAL_SECONDS * 3).total_seconds()
    queues: dict[str, dict[str, Any]] = {}
    for queue, name in rows.items():
        last_seen = seen.get(name)
        age = None if last_seen is None else round((timezone.now() - last_seen).total_seconds(), 1)
        queues[queue] = {
            "ok": age is not None and age <= stale_after,
            "lastSeen": last_seen.isoformat() if last_seen else None,
            "ageSeconds": age,
        }
    stalest = max(queues.values(), key=lambda q: float("inf") if q["ageSeconds"] is None else q["ageSeconds"])
    return {
        "ok": all(q["ok"] for q in queues.values()),
        "lastSeen": stalest["lastSeen"],
        "ageSeconds": stalest["ageSeconds"],
        "queues": queues,
    }


def _call_budget_health() -> dict[str, Any]:
    from accounts.selectors import broker_budget_report

    try:
        return broker_budget_report()
    except Exception as exc:  # the budget's storage (Redis) unreachable
        return {"ok": False, "error": type(exc).__name__}


def _capture_health() -> dict[str, Any]:
    from replication.selectors import capture_health

    try:
        return capture_health()
    except Exception as exc:  # the database away: the database check says so
        return {"ok": True, "error": type(exc).__name__}


def health_report() -> dict[str, Any]:
    """Database, Celery broker, beat/worker freshness (per queue), the Alice Blue call budget and master
    capture (shown, never failing the report: a master captured by the poll alone is working); ok only when
    all are."""
    checks = {
        "database": _database_health(),
        "broker": _broker_health(),
        "beat": _beat_health(),
        "aliceCallBudget": _call_budget_health(),
        "capture": _capture_health(),
    }
    return {"ok": all(check["ok"] for check in checks.values()), "checks": checks}
