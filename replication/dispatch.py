"""The one way the replication engine starts background work: Celery tasks sent by their registered names,
when the current transaction commits (at once outside a transaction), ids only.

Tasks are sent by name, never imported: `replication.tasks` imports the services, which import this module, so
importing the tasks here (even inside a function) would close an import cycle. `replication.tasks` registers
each task under the name defined here, so the two cannot drift apart (a test checks every name is registered).
"""

from __future__ import annotations

from collections.abc import Sequence

from celery import current_app
from django.conf import settings
from django.db import transaction

PLACE = "replication.order_mapping_place"
PLACE_BATCH = "replication.order_mappings_place_batch"
RECONCILE = "replication.order_mapping_reconcile"
ACTION_RUN = "replication.order_action_run"
FOLLOWER_ORDERS_SYNC = "replication.follower_orders_sync"
ORDER_STATUS_SYNC = "replication.order_status_sync"
SWEEP = "replication.sweep"
FOLLOWER_RISK_SNAPSHOT = "replication.follower_risk_snapshot_refresh"
RISK_SNAPSHOTS = "replication.risk_snapshot_refresh"
MASTER_POLL = "replication.master_poll"
WEBHOOK_ORDER_REFRESH = "replication.webhook_order_refresh"
NOTIFY_SCAN = "replication.notify_scan"
NOTIFY_READINESS = "replication.notify_readiness"
CAPITALS_REFRESH = "replication.capitals_refresh"

TASK_NAMES = (
    PLACE,
    PLACE_BATCH,
    RECONCILE,
    ACTION_RUN,
    FOLLOWER_ORDERS_SYNC,
    ORDER_STATUS_SYNC,
    SWEEP,
    FOLLOWER_RISK_SNAPSHOT,
    RISK_SNAPSHOTS,
    MASTER_POLL,
    WEBHOOK_ORDER_REFRESH,
    NOTIFY_SCAN,
    NOTIFY_READINESS,
    CAPITALS_REFRESH,
)


def _send_on_commit(name: str, args: list, *, countdown: float | None = None) -> None:
    def send() -> None:
        current_app.send_task(name, args=args, countdown=countdown or None)

    transaction.on_commit(send)


def placement_enqueue(mapping_id: int, *, countdown: float | None = None) -> None:
    """Place (or retry) one follower order."""
    _send_on_commit(PLACE, [mapping_id], countdown=countdown)


def placement_batches(mapping_ids: Sequence[int], *, first: int, size: int) -> list[list[int]]:
    """`mapping_ids` split into a first batch of `first` and then batches of `size` (in order)."""
    size = max(1, size)
    first = max(1, min(first, size))
    if not mapping_ids:
        return []
    starts = [0, *range(first, len(mapping_ids), size)]
    return [list(mapping_ids[a:b]) for a, b in zip(starts, [*starts[1:], len(mapping_ids)], strict=True)]


def placement_batches_enqueue(mapping_ids: Sequence[int]) -> None:
    """First attempts of a fan-out: one batch task per REPLICATION_PLACEMENT_BATCH_SIZE mappings, after a
    first batch of REPLICATION_PLACEMENT_FIRST_BATCH, which is claimed and on the wire while the larger ones
    are being claimed."""
    for batch in placement_batches(
        mapping_ids,
        first=settings.REPLICATION_PLACEMENT_FIRST_BATCH,
        size=settings.REPLICATION_PLACEMENT_BATCH_SIZE,
    ):
        _send_on_commit(PLACE_BATCH, [batch])


def reconcile_enqueue(mapping_id: int, *, countdown: float | None = None) -> None:
    """Look an UNKNOWN mapping's order tag up in the follower's order book."""
    _send_on_commit(RECONCILE, [mapping_id], countdown=countdown)


def action_enqueue(action_id: int, *, countdown: float | None = None) -> None:
    """Run one exit / modify / cancel of a follower order."""
    _send_on_commit(ACTION_RUN, [action_id], countdown=countdown)


def follower_orders_sync_enqueue(follower_pk: int) -> None:
    """Read one follower's order book into its open mappings."""
    _send_on_commit(FOLLOWER_ORDERS_SYNC, [follower_pk])


def follower_risk_snapshot_enqueue(follower_pk: int) -> None:
    """Refresh one follower's P&L and opening cash."""
    _send_on_commit(FOLLOWER_RISK_SNAPSHOT, [follower_pk])


def webhook_order_refresh_enqueue(broker_order_id: str) -> None:
    """Read one master order (named by a webhook) from the master's own book and ingest it."""
    _send_on_commit(WEBHOOK_ORDER_REFRESH, [broker_order_id])
