"""Trade-event totals: recomputed from the rows (mappings for PLACE, actions otherwise), never counted up."""

from __future__ import annotations

from django.db.models import Count, Q

from replication import selectors
from replication.models import OrderAction, TradeEvent


def trade_event_refresh_totals(*, event: TradeEvent) -> TradeEvent:
    """Store the event's current totals, status (success / warning / error) and message."""
    if event.event_type == TradeEvent.EventType.PLACE:
        counts = selectors.event_mapping_counts(event=event)
        successful, failed, skipped, pending = (
            counts.successful,
            counts.failed,
            counts.skipped,
            counts.pending,
        )
    else:
        rows = OrderAction.objects.filter(trade_event=event).aggregate(
            done=Count("id", filter=Q(status=OrderAction.Status.DONE)),
            failed=Count("id", filter=Q(status=OrderAction.Status.FAILED)),
            skipped=Count("id", filter=Q(status=OrderAction.Status.SKIPPED)),
            pending=Count(
                "id", filter=Q(status__in=[OrderAction.Status.PENDING, OrderAction.Status.RUNNING])
            ),
        )
        successful, failed, skipped, pending = rows["done"], rows["failed"], rows["skipped"], rows["pending"]
    total = successful + failed + skipped + pending
    if failed and not successful:
        status = TradeEvent.Status.ERROR
    elif failed or pending or (total and not successful):
        # Nothing copied (every follower skipped) is not a success, whatever the seed called it.
        status = TradeEvent.Status.WARNING
    else:
        status = TradeEvent.Status.SUCCESS
    message = (
        f"{event.event_type} {event.master_order_id}: {successful} successful, {failed} failed, "
        f"{skipped} skipped" + (f", {pending} pending" if pending else "")
    )
    fields = {
        "total_followers": total,
        "successful_followers": successful,
        "failed_followers": failed,
        "skipped_followers": skipped,
        "pending_followers": pending,
        "status": status,
        "message": message,
    }
    if any(getattr(event, name) != value for name, value in fields.items()):
        TradeEvent.objects.filter(pk=event.pk).update(**fields)
        for name, value in fields.items():
            setattr(event, name, value)
    return event
