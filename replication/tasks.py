"""Celery tasks of the replication engine: ids in, load, one service, decide retry.

Every task is idempotent (the services act only on rows in the expected state), so `acks_late` with
`reject_on_worker_lost` is safe; the attempt cap is the `attempts` column, not Celery's retry count. Task
names come from `replication.dispatch`, the only way the services enqueue work.

An unexpected error (a bug, bad data, the database away) is retried a few times with a backoff; if it
persists, the task settles its rows with the reason (`*_settle_unexpected`) instead of failing the same way
forever.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal, TypedDict, TypeVar

from celery import Task, shared_task
from celery.exceptions import Retry

from replication import dispatch
from replication.services import (
    capital,
    capture_inbound,
    capture_poll,
    notify_events,
    placement,
    placement_batch,
    reconcile,
    risk_snapshot,
    sweeper,
)
from replication.services.action_run import order_action_run, order_action_settle_unexpected

logger = logging.getLogger(__name__)

_T = TypeVar("_T")


class _TaskOptions(TypedDict):
    bind: Literal[True]
    acks_late: bool
    reject_on_worker_lost: bool
    ignore_result: bool
    max_retries: None


TASK_OPTIONS: _TaskOptions = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "ignore_result": True,
    "max_retries": None,
}
UNEXPECTED_ERROR_RETRIES = 3


def _guarded(
    task: Task[Any, Any], run: Callable[[], _T], *, errors: int, settle: Callable[[BaseException], object]
) -> _T | None:
    """Run `run`; retry an unexpected exception UNEXPECTED_ERROR_RETRIES times (1, 2, 4 s), then `settle`.

    `errors` counts the unexpected errors of this task's earlier runs (carried in its kwargs, apart from the
    ordinary retries a service asks for).
    """
    try:
        return run()
    except Retry:
        raise
    except Exception as exc:
        if errors < UNEXPECTED_ERROR_RETRIES:
            logger.exception("%s%s: unexpected error, retry %d", task.name, task.request.args, errors + 1)
            kwargs = {**(task.request.kwargs or {}), "unexpected_errors": errors + 1}
            raise task.retry(countdown=2**errors, kwargs=kwargs, exc=exc) from exc
        logger.exception("%s%s: unexpected error again; settling its rows", task.name, task.request.args)
        settle(exc)
        return None


@shared_task(name=dispatch.PLACE, **TASK_OPTIONS)
def order_mapping_place_task(self: Task[Any, None], mapping_id: int, unexpected_errors: int = 0) -> None:
    """Place one follower order (PENDING mapping); retried with backoff while the broker is unavailable."""
    outcome = _guarded(
        self,
        lambda: placement.order_mapping_place(mapping_id=mapping_id),
        errors=unexpected_errors,
        settle=lambda exc: placement.order_mappings_settle_unexpected(mapping_ids=[mapping_id], error=exc),
    )
    if outcome is not None and outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)


@shared_task(name=dispatch.PLACE_BATCH, **TASK_OPTIONS)
def order_mappings_place_batch_task(
    self: Task[Any, None], mapping_ids: list[int], unexpected_errors: int = 0
) -> None:
    """Place the first attempts of a fan-out's PENDING mappings concurrently; retries go row by row."""
    outcome = _guarded(
        self,
        lambda: placement_batch.order_mappings_place_batch(mapping_ids=mapping_ids),
        errors=unexpected_errors,
        settle=lambda exc: placement.order_mappings_settle_unexpected(mapping_ids=mapping_ids, error=exc),
    )
    for mapping_id, delay in outcome.retry if outcome is not None else []:
        dispatch.placement_enqueue(mapping_id, countdown=delay)


@shared_task(name=dispatch.RECONCILE, **TASK_OPTIONS)
def order_mapping_reconcile_task(self: Task[Any, None], mapping_id: int, unexpected_errors: int = 0) -> None:
    """Resolve an UNKNOWN mapping by its orderTag (and send it again once confirmed absent, when allowed)."""
    outcome = _guarded(
        self,
        lambda: reconcile.order_mapping_reconcile(mapping_id=mapping_id),
        errors=unexpected_errors,
        settle=lambda exc: reconcile.order_mapping_reconcile_settle_unexpected(
            mapping_id=mapping_id, error=exc
        ),
    )
    if outcome is not None and outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)


@shared_task(name=dispatch.ACTION_RUN, **TASK_OPTIONS)
def order_action_run_task(self: Task[Any, None], action_id: int, unexpected_errors: int = 0) -> None:
    """Run one exit / modify / cancel of a follower order."""
    outcome = _guarded(
        self,
        lambda: order_action_run(action_id=action_id),
        errors=unexpected_errors,
        settle=lambda exc: order_action_settle_unexpected(action_id=action_id, error=exc),
    )
    if outcome is not None and outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)


@shared_task(name=dispatch.FOLLOWER_ORDERS_SYNC, **TASK_OPTIONS)
def follower_orders_sync_task(self: Task[Any, None], follower_pk: int) -> None:
    """Read one follower's order book and update its open mappings (the next beat tick tries again)."""
    sweeper.follower_orders_sync(follower_pk=follower_pk)


@shared_task(name=dispatch.ORDER_STATUS_SYNC, **TASK_OPTIONS)
def order_status_sync_task(self: Task[Any, None]) -> None:
    """Beat: one order-book sync task per follower with open orders and a session worth calling with."""
    for follower_pk in sweeper.followers_to_sync():
        dispatch.follower_orders_sync_enqueue(follower_pk)


@shared_task(name=dispatch.SWEEP, **TASK_OPTIONS)
def replication_sweep_task(self: Task[Any, None]) -> None:
    """Beat: re-enqueue lost PENDING work, resolve stuck SUBMITTING rows, re-run stale UNKNOWN reconciles."""
    sweeper.replication_sweep()


@shared_task(name=dispatch.FOLLOWER_RISK_SNAPSHOT, **TASK_OPTIONS)
def follower_risk_snapshot_refresh_task(self: Task[Any, None], follower_pk: int) -> None:
    """Read one follower's positions and limits into its risk snapshot; auto-liquidate past a loss limit."""
    risk_snapshot.follower_risk_snapshot_refresh(follower_pk=follower_pk)


@shared_task(name=dispatch.RISK_SNAPSHOTS, **TASK_OPTIONS)
def risk_snapshot_refresh_task(self: Task[Any, None]) -> None:
    """Beat: one risk-snapshot task per active follower whose session is worth calling with."""
    for follower_pk in risk_snapshot.followers_for_risk_snapshot():
        dispatch.follower_risk_snapshot_enqueue(follower_pk)


@shared_task(name=dispatch.NOTIFY_SCAN, **TASK_OPTIONS)
def notify_scan_task(self: Task[Any, None]) -> None:
    """Beat: notify follower orders FAILED / UNKNOWN and master capture down (each once)."""
    notify_events.notify_scan()


@shared_task(name=dispatch.NOTIFY_READINESS, **TASK_OPTIONS)
def notify_readiness_task(self: Task[Any, None]) -> None:
    """Beat, before the open: notify the followers that are not ready (once a day)."""
    notify_events.readiness_notify()


@shared_task(name=dispatch.CAPITALS_REFRESH, **TASK_OPTIONS)
def capitals_refresh_task(self: Task[Any, None]) -> None:
    """Beat (before the open): read today's capital (opening cash) of the accounts capital sizing uses."""
    capital.capitals_refresh()


@shared_task(name=dispatch.MASTER_POLL, **TASK_OPTIONS)
def poll_master_task(self: Task[Any, None]) -> None:
    """Beat (every CAPTURE_POLL_TICK s): poll the master's order book when its interval has passed; the poll's
    lease makes one poll run at a time however many ticks and workers there are."""
    capture_poll.master_poll()


@shared_task(name=dispatch.WEBHOOK_ORDER_REFRESH, **TASK_OPTIONS)
def webhook_order_refresh_task(self: Task[Any, None], broker_order_id: str) -> None:
    """Read the order an Alice Blue webhook named from the master's own book, and ingest that read."""
    capture_inbound.webhook_order_refresh(broker_order_id=broker_order_id)
