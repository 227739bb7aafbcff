"""Celery tasks of the replication engine: ids in, load, one service, decide retry.

Every task is idempotent (the services act only on rows in the expected state), so `acks_late` with
`reject_on_worker_lost` is safe; the attempt cap is the `attempts` column, not Celery's retry count.
"""

from __future__ import annotations

from celery import shared_task

from replication.services import actions, placement, sweeper

TASK_OPTIONS = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "ignore_result": True,
    "max_retries": None,
}


@shared_task(name="replication.order_mapping_place", **TASK_OPTIONS)
def order_mapping_place_task(self, mapping_id: int) -> None:
    """Place one follower order (PENDING mapping); retried with backoff while the broker is unavailable."""
    outcome = placement.order_mapping_place(mapping_id=mapping_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)


@shared_task(name="replication.order_mappings_place_batch", **TASK_OPTIONS)
def order_mappings_place_batch_task(self, mapping_ids: list[int]) -> None:
    """Place the first attempts of a fan-out's PENDING mappings concurrently; retries go row by row."""
    outcome = placement.order_mappings_place_batch(mapping_ids=mapping_ids)
    for mapping_id, delay in outcome.retry:
        order_mapping_place_task.apply_async((mapping_id,), countdown=delay)


@shared_task(name="replication.order_mapping_reconcile", **TASK_OPTIONS)
def order_mapping_reconcile_task(self, mapping_id: int) -> None:
    """Resolve an UNKNOWN mapping by its orderTag; never places."""
    outcome = placement.order_mapping_reconcile(mapping_id=mapping_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)


@shared_task(name="replication.order_action_run", **TASK_OPTIONS)
def order_action_run_task(self, action_id: int) -> None:
    """Run one exit / modify / cancel of a follower order."""
    outcome = actions.order_action_run(action_id=action_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)


@shared_task(name="replication.follower_orders_sync", **TASK_OPTIONS)
def follower_orders_sync_task(self, follower_pk: int) -> None:
    """Read one follower's order book and update its open mappings."""
    sweeper.follower_orders_sync(follower_pk=follower_pk)


@shared_task(name="replication.order_status_sync", **TASK_OPTIONS)
def order_status_sync_task(self) -> None:
    """Beat: one order-book sync task per follower with open orders."""
    for follower_pk in sweeper.followers_to_sync():
        follower_orders_sync_task.delay(follower_pk)


@shared_task(name="replication.sweep", **TASK_OPTIONS)
def replication_sweep_task(self) -> None:
    """Beat: re-enqueue lost PENDING work, resolve stuck SUBMITTING rows, re-run stale UNKNOWN reconciles."""
    sweeper.replication_sweep()


@shared_task(name="replication.follower_risk_snapshot_refresh", **TASK_OPTIONS)
def follower_risk_snapshot_refresh_task(self, follower_pk: int) -> None:
    """Read one follower's positions and limits into its risk snapshot; auto-liquidate past a loss limit."""
    from replication.services.risk_snapshot import follower_risk_snapshot_refresh

    follower_risk_snapshot_refresh(follower_pk=follower_pk)


@shared_task(name="replication.risk_snapshot_refresh", **TASK_OPTIONS)
def risk_snapshot_refresh_task(self) -> None:
    """Beat: one risk-snapshot task per active, session-VALID follower."""
    from replication.services.risk_snapshot import followers_for_risk_snapshot

    for follower_pk in followers_for_risk_snapshot():
        follower_risk_snapshot_refresh_task.delay(follower_pk)
