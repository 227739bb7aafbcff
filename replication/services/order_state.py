"""Moving a mapping between statuses (checked against `replication.states`), and applying what a follower's
order book says about an order to its mapping (status, fills, average price)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from broker.types import Order, OrderStatus
from replication import dispatch, states
from replication.models import OrderMapping, TradeEvent, order_tag_for

logger = logging.getLogger(__name__)

Status = states.MappingStatus


@dataclass(frozen=True)
class Outcome:
    """What a task run did; `retry_in` (seconds) asks the task to run again later."""

    status: str
    retry_in: float | None = None


def mapping_transition(
    mapping: OrderMapping,
    *,
    from_statuses: tuple[str, ...],
    where: dict[str, Any] | None = None,
    **fields: Any,
) -> bool:
    """Conditional UPDATE of the mapping while it is in one of `from_statuses` (and matches `where`); whoever
    moved it first wins.

    No lock is held across broker calls: the status condition makes each move atomic. A new `status` must be
    a legal transition from every status in `from_statuses` (IllegalTransition otherwise: a bug). Returns
    whether the row was updated (and updates the instance when it was).
    """
    if "status" in fields:
        states.check_transition(from_statuses, fields["status"])
    fields["updated_at"] = timezone.now()
    rows = OrderMapping.objects.filter(pk=mapping.pk, status__in=from_statuses, **(where or {}))
    updated = rows.update(**fields)
    if updated:
        for name, value in fields.items():
            setattr(mapping, name, value)
    return bool(updated)


def mapping_status_for(order: Order) -> str:
    """The mapping status an order-book row means (partial fills of an open order are PARTIAL)."""
    if order.status is OrderStatus.COMPLETE:
        return Status.COMPLETED
    if order.status is OrderStatus.REJECTED:
        return Status.REJECTED
    if order.status is OrderStatus.CANCELLED:
        return Status.CANCELLED
    if order.filled_quantity > 0:
        return Status.PARTIAL
    return Status.ACTIVE


def order_fields(order: Order) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "status": mapping_status_for(order),
        "follower_order_id": order.order_id,
        "executed_quantity": max(int(order.filled_quantity), 0),
        "synced_at": timezone.now(),
    }
    if order.average_price:
        fields["average_price"] = order.average_price
    if order.status is OrderStatus.REJECTED:
        fields["reason"] = f"Alice Blue API error: {order.rejection_reason or 'rejected'}"
        fields["reason_code"] = states.ReasonCode.BROKER_REJECTED
    return fields


def order_mapping_apply_order(*, mapping: OrderMapping, order: Order, from_statuses: tuple[str, ...]) -> bool:
    """Write the order-book state onto the mapping if it is still in one of `from_statuses`.

    Returns whether it applied (see `mapping_transition`).
    """
    before = (mapping.status, mapping.executed_quantity)
    fields = order_fields(order)
    if mapping.placed_at is None:
        fields["placed_at"] = fields["synced_at"]
    if fields["status"] != Status.REJECTED and (mapping.reason or mapping.reason_code):
        # The order is at the broker: whatever kept it in flight (retrying, confirming by tag) is over.
        fields.update(reason="", reason_code=states.ReasonCode.NONE)
    applied = mapping_transition(mapping, from_statuses=from_statuses, **fields)
    if applied and before != (mapping.status, mapping.executed_quantity):
        logger.info(
            "[ORDER-SYNC] mapping %s follower %s order %s: %s -> %s (filled %s/%s)",
            mapping.pk,
            mapping.follower_id,
            order.order_id,
            before[0],
            mapping.status,
            mapping.executed_quantity,
            mapping.quantity,
        )
    return applied


def leg_mapping_create(
    *,
    trade_event: TradeEvent,
    master_order_id: str,
    like: OrderMapping,
    leg: str,
    side: str,
    quantity: int,
    order_type: str,
    price: Any = None,
    trigger_price: Any = None,
    slice_no: int = 0,
    slice_count: int = 1,
    amo: bool = False,
) -> OrderMapping:
    """A new PENDING mapping of `leg` (an EXIT or CLOSE; or an ENTRY slice a modify adds) for `like`'s
    follower and instrument, with its deterministic tag, and its placement enqueued on commit. Raises
    IntegrityError when the follower already has that leg and slice for the master order (the unique
    constraint: at most one, however often this runs)."""
    mapping = OrderMapping.objects.create(
        trade_event=trade_event,
        master_order_id=master_order_id,
        follower=like.follower,
        leg=leg,
        slice_no=slice_no,
        slice_count=slice_count,
        order_tag=order_tag_for(
            master_order_id=master_order_id, follower_pk=like.follower_id, leg=leg, slice_no=slice_no
        ),
        symbol=like.symbol,
        trading_symbol=like.trading_symbol,
        token=like.token,
        exchange=like.exchange,
        side=side,
        quantity=quantity,
        price=price if order_type in ("LIMIT", "SL") else None,
        trigger_price=trigger_price if order_type in ("SL", "SLM") else None,
        product_type=like.product_type,
        order_type=order_type,
        amo=amo,
        status=Status.PENDING,
    )
    dispatch.placement_enqueue(mapping.pk)
    return mapping
