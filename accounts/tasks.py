"""Celery tasks of the accounts app (ids in messages, never secrets); enqueued through accounts.dispatch."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task

from accounts.dispatch import NOTIFICATION_SEND_TASK, SESSION_CHECK_TASK, session_check_enqueue
from accounts.models import Account
from accounts.selectors import account_ids_to_check
from accounts.services.notifications import notification_deliver
from accounts.services.sessions import account_session_check

logger = logging.getLogger(__name__)

SESSION_CHECK_ACTOR = "system:session_check"


@shared_task(name=SESSION_CHECK_TASK, ignore_result=True)
def session_check_task(account_pk: int | None = None) -> None:
    """Verify one account's session (by primary key), or, without an id, enqueue one check per account."""
    if account_pk is None:
        ids = account_ids_to_check()
        logger.info("session check: %d accounts", len(ids))
        for pk in ids:
            session_check_enqueue(account_pk=pk)
        return
    account = Account.objects.filter(pk=account_pk).first()
    if account is None:
        return
    account_session_check(account=account, actor=SESSION_CHECK_ACTOR)


# acks_late (the project's default): a worker lost before claiming the delivery leaves it QUEUED and the
# message is redelivered; once claimed (QUEUED -> SENDING) a redelivered run sends nothing, so a message is
# never sent twice (one lost in the middle of its send stays SENDING in the log).
@shared_task(name=NOTIFICATION_SEND_TASK, bind=True, ignore_result=True, max_retries=None)
def notification_send_task(self: Task[Any, None], delivery_pk: int) -> None:
    """Send one notification delivery; a channel that is down is tried again later (the row counts tries)."""
    retry_in = notification_deliver(delivery_pk=delivery_pk)
    if retry_in is not None:
        raise self.retry(countdown=retry_in)
