"""Apply what a follower's order book says about an order to its mapping (status, fills, average price)."""

from __future__ import annotations

import logging
from typing import Any

from django.db.models import Q
from django.utils import timezone

from broker.types import Order, OrderStatus
from replication.models import OrderMapping

logger = logging.getLogger(__name__)

Status = OrderMapping.Status


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
    return fields


def order_mapping_apply_order(*, mapping: OrderMapping, order: Order, from_statuses: tuple[str, ...]) -> bool:
    """Write the order-book state onto the mapping if it is still in one of `from_statuses`.

    A conditional UPDATE (no lock): whoever moved the row elsewhere first wins. Returns whether it applied.
    """
    fields = order_fields(order)
    fields["updated_at"] = timezone.now()
    if mapping.placed_at is None:
        fields["placed_at"] = fields["updated_at"]
    updated = OrderMapping.objects.filter(Q(pk=mapping.pk) & Q(status__in=from_statuses)).update(**fields)
    if updated and (
        fields["status"] != mapping.status or fields["executed_quantity"] != mapping.executed_quantity
    ):
        logger.info(
            "[ORDER-SYNC] mapping %s follower %s order %s: %s -> %s (filled %s/%s)",
            mapping.pk,
            mapping.follower_id,
            order.order_id,
            mapping.status,
            fields["status"],
            fields["executed_quantity"],
            mapping.quantity,
        )
    if updated:
        for name, value in fields.items():
            setattr(mapping, name, value)
    return bool(updated)
