"""Enqueueing of the accounts tasks, by registered name and on transaction commit.

Services enqueue through here instead of importing `accounts.tasks` (tasks import services, so that import
would be a cycle); `accounts.tasks` registers its tasks under these names.
"""

from __future__ import annotations

from celery import current_app
from django.db import transaction

SESSION_CHECK_TASK = "accounts.tasks.session_check_task"


def session_check_enqueue(*, account_pk: int) -> None:
    """Check the account's session (and any replacement token) in the background once this commits."""
    transaction.on_commit(lambda: current_app.send_task(SESSION_CHECK_TASK, args=[account_pk]))


NOTIFICATION_SEND_TASK = "accounts.notification_send"


def notification_send_enqueue(*, delivery_pk: int) -> None:
    """Send one notification delivery from a worker once this commits (never from the caller's thread)."""
    transaction.on_commit(lambda: current_app.send_task(NOTIFICATION_SEND_TASK, args=[delivery_pk]))
