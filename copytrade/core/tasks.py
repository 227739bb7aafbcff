"""Core Celery tasks."""

from celery import shared_task

from copytrade.core.models import Heartbeat
from copytrade.core.services import heartbeat_record


@shared_task(name="copytrade.core.tasks.heartbeat_task", ignore_result=True)
def heartbeat_task() -> None:
    """Record that beat scheduled this and a worker of the default queue ran it."""
    heartbeat_record(name=Heartbeat.DEFAULT_QUEUE)


@shared_task(name="copytrade.core.tasks.placement_heartbeat_task", ignore_result=True)
def placement_heartbeat_task() -> None:
    """Record that beat scheduled this and a worker of the placement queue ran it (routed in the settings)."""
    heartbeat_record(name=Heartbeat.PLACEMENT_QUEUE)
