"""Trade-event totals: recomputed from the rows (mappings for PLACE, actions otherwise), never counted up."""

from __future__ import annotations

from replication import selectors, states
from replication.models import OrderAction, TradeEvent

_ACTION_RESULTS: dict[str, str] = {
    OrderAction.Status.DONE: "SUCCESS",
    OrderAction.Status.FAILED: "FAILED",
    OrderAction.Status.SKIPPED: "SKIPPED",
    OrderAction.Status.PENDING: "PENDING",
    OrderAction.Status.RUNNING: "PENDING",
}


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
        # One per follower order: the actions on the slices of one follower's leg count once.
        rows = OrderAction.objects.filter(trade_event=event).values_list(
            "status", "mapping__follower_id", "mapping__leg"
        )
        tally = {"SUCCESS": 0, "FAILED": 0, "SKIPPED": 0, "PENDING": 0}
        for result in states.results_by_order(
            ((follower_pk, leg), _ACTION_RESULTS[status]) for status, follower_pk, leg in rows
        ).values():
            tally[result] += 1
        successful, failed, skipped, pending = (
            tally["SUCCESS"],
            tally["FAILED"],
            tally["SKIPPED"],
            tally["PENDING"],
        )
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
