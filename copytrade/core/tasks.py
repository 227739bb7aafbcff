"""Core Celery tasks."""

from celery import shared_task

from copytrade.core.services import heartbeat_record


@shared_task(name="copytrade.core.tasks.heartbeat_task", ignore_result=True)
def heartbeat_task() -> None:
    """Record that beat scheduled this and a worker ran it."""
    heartbeat_record(name="worker")
