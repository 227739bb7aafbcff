"""Trade events of exit, modify and cancel, their per-follower actions, and the bookkeeping every action run
shares: claiming, recording the result, and waiting for an entry that is still in flight.

Each master action is a TradeEvent plus one OrderAction per ENTRY mapping, run by a task (`action_run.py`
dispatches to `exits.py` or `modify.py`). An action on an entry still in flight waits for it on a time budget
(`entry_wait_budget`): as long as the sweeper and the reconcile by tag may take to resolve it. An entry that
may have reached the broker (any attempt made) is never treated as unsent. An action that ended FAILED can be
run again: a repeated exit or cancel request, or the admin's "Retry failed"
(`trade_events_retry_failed_actions`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.services.audit import audit_record
from copytrade.core.exceptions import NotFound
from replication import dispatch, selectors, states
from replication.models import OrderAction, OrderMapping, TradeEvent
from replication.services.events import trade_event_refresh_totals
from replication.services.order_state import Outcome, mapping_transition

logger = logging.getLogger(__name__)

Status = states.MappingStatus
ActionStatus = states.ActionStatus
# Set in an action's params when it is run again after FAILED: its wait for an in-flight entry starts anew.
RETRIED_AT = "_retried_at"


# ---------------------------------------------------------------- creating events and actions
def entries_or_404(master_order_id: str) -> list[OrderMapping]:
    entries = list(selectors.entry_mappings(master_order_id=master_order_id).select_related("trade_event"))
    if not entries:
        raise NotFound(f"Master order {master_order_id} not found", code="master_order_not_found")
    return entries


def mirrors_or_404(master_order_id: str) -> list[OrderMapping]:
    """The follower orders mirroring a master order (its entries and the closes it caused); 404 without
    any."""
    mirrors = list(selectors.mirror_mappings(master_order_id=master_order_id).select_related("trade_event"))
    if not mirrors:
        raise NotFound(f"Master order {master_order_id} not found", code="master_order_not_found")
    return mirrors


def event_like(place: TradeEvent, *, event_type: str, dedupe: bool, source: str, details: dict) -> TradeEvent:
    """A new event of `event_type` copying the PLACE event's trade; with `dedupe`, the existing one if any."""
    key = f"{event_type}:{place.master_order_id}" if dedupe else None
    if key:
        existing = TradeEvent.objects.filter(dedupe_key=key).first()
        if existing is not None:
            return existing
    return TradeEvent.objects.create(
        dedupe_key=key,
        master_order_id=place.master_order_id,
        event_type=event_type,
        source=source,
        symbol=place.symbol,
        trading_symbol=place.trading_symbol,
        token=place.token,
        exchange=place.exchange,
        side=place.side,
        quantity=place.quantity,
        price=place.price,
        trigger_price=place.trigger_price,
        product_type=place.product_type,
        order_type=place.order_type,
        details=details,
    )


def actions_create(
    *,
    event: TradeEvent,
    kind: str,
    entries: list[OrderMapping],
    params_for: Callable[[OrderMapping], dict[str, Any]],
    skip_reason_for: Callable[[OrderMapping], str],
) -> list[int]:
    """One action per entry not yet covered by the event: SKIPPED with a reason, or PENDING and enqueued."""
    existing = set(OrderAction.objects.filter(trade_event=event).values_list("mapping_id", flat=True))
    rows = []
    for entry in entries:
        if entry.pk in existing:
            continue
        skip = skip_reason_for(entry)
        rows.append(
            OrderAction(
                trade_event=event,
                mapping=entry,
                kind=kind,
                params=params_for(entry) if not skip else {},
                status=ActionStatus.SKIPPED if skip else ActionStatus.PENDING,
                reason=skip or "",
            )
        )
    OrderAction.objects.bulk_create(rows)
    created = list(
        OrderAction.objects.filter(
            trade_event=event, mapping_id__in=[r.mapping_id for r in rows], status=ActionStatus.PENDING
        ).values_list("pk", flat=True)
    )
    for pk in created:
        dispatch.action_enqueue(pk)
    return created


def with_race_retry(fn: Callable[[], TradeEvent]) -> TradeEvent:
    """Run `fn`; concurrent calls race on the unique constraints, and the loser reads the winner's rows."""
    for _attempt in range(3):
        try:
            return fn()
        except IntegrityError:
            logger.info("concurrent exit/modify/cancel call; reading its rows")
    return fn()


def never_placed(entry: OrderMapping) -> str:
    if entry.status in (Status.SKIPPED, Status.FAILED):
        return f"Order already {entry.status.lower()} or no order ID"
    return ""


def action_event(*, entries: list[OrderMapping], event_type: str, kind: str, source: str) -> TradeEvent:
    """The master order's (deduplicated) event of `event_type` with one `kind` action per entry mapping.

    Asked again, the event's actions on these entries that ended FAILED are run again (see
    `_actions_retry_failed`); the others are left as they are.
    """

    @transaction.atomic
    def create() -> TradeEvent:
        event = event_like(
            entries[0].trade_event, event_type=event_type, dedupe=True, source=source, details={}
        )
        actions_create(
            event=event,
            kind=kind,
            entries=entries,
            params_for=lambda e: {},
            skip_reason_for=never_placed,
        )
        _actions_retry_failed(
            OrderAction.objects.filter(trade_event=event, mapping_id__in=[e.pk for e in entries]),
            requested_by=f"repeated {event_type.lower()} request",
        )
        return event

    return with_race_retry(create)


def _actions_retry_failed(queryset: QuerySet[OrderAction], *, requested_by: str) -> list[int]:
    """Move the FAILED actions of `queryset` (and SKIPPED ones whose entry is placed after all) back to
    PENDING (attempts 0, a new wait budget) and enqueue them.

    Safe to repeat: an exit places its square-off through the EXIT-leg mapping, unique per master order and
    follower (never a second one), and cancel / modify set absolute state at the broker. Returns their ids.
    """
    now = timezone.now()
    retried: list[int] = []
    events: set[int] = set()
    with transaction.atomic():
        # Also SKIPPED actions whose entry turned out to be placed after all (a late acknowledgement of an
        # order that had been given up as "not placed"): the position is real and must be exited too.
        rerun = Q(status=ActionStatus.FAILED) | Q(
            status=ActionStatus.SKIPPED,
            mapping__status__in=states.PLACED,
            kind__in=(OrderAction.Kind.EXIT, OrderAction.Kind.CANCEL),
        )
        for action in queryset.select_for_update().filter(rerun).order_by("pk"):
            params = {**(action.params or {}), RETRIED_AT: now.isoformat()}
            if OrderAction.objects.filter(pk=action.pk, status=action.status).update(
                status=ActionStatus.PENDING,
                attempts=0,
                params=params,
                reason=f"Retry ({requested_by}) after: {action.reason}",
                updated_at=now,
            ):
                retried.append(action.pk)
                events.add(action.trade_event_id)
                dispatch.action_enqueue(action.pk)
                logger.info(
                    "[%s] action %s mapping %s: FAILED (%s), run again (%s)",
                    action.kind,
                    action.pk,
                    action.mapping_id,
                    action.reason,
                    requested_by,
                )
        for event in TradeEvent.objects.filter(pk__in=events):
            trade_event_refresh_totals(event=event)
    return retried


def trade_events_retry_failed_actions(*, event_ids: Iterable[int], actor: str) -> list[int]:
    """An operator's "Retry failed": run again every exit / modify / cancel action of the given trade events
    that ended FAILED; audited when it retried any."""
    events = list(event_ids)
    retried = _actions_retry_failed(OrderAction.objects.filter(trade_event_id__in=events), requested_by=actor)
    if retried:
        audit_record(
            actor=actor,
            action="actions.retried",
            target=",".join(str(pk) for pk in events),
            details={"trade_events": events, "actions": retried},
        )
    return retried


# ---------------------------------------------------------------- running one action: shared bookkeeping
def action_claim(action_id: int) -> OrderAction | None:
    """PENDING -> RUNNING (attempts + 1) under a row lock; None when there is nothing to run."""
    with transaction.atomic():
        action = OrderAction.objects.select_for_update().filter(pk=action_id).first()
        if action is None or action.status != ActionStatus.PENDING:
            return None
        action.status = ActionStatus.RUNNING
        action.attempts += 1
        action.save(update_fields=["status", "attempts", "updated_at"])
    return OrderAction.objects.select_related("mapping", "mapping__follower", "trade_event").get(pk=action_id)


def action_end(
    action: OrderAction, status: str, reason: str, *, retry_in: float | None = None, waiting: bool = False
) -> Outcome:
    """Record the run's result. `waiting`: the run only waited for the entry (bounded by time, not counted
    against REPLICATION_ACTION_MAX_ATTEMPTS, which caps the runs that tried something at the broker)."""
    if (
        status == ActionStatus.PENDING
        and not waiting
        and action.attempts >= settings.REPLICATION_ACTION_MAX_ATTEMPTS
    ):
        status, retry_in = ActionStatus.FAILED, None
        reason = f"{reason} (gave up after {action.attempts} attempts)"
    fields: dict[str, Any] = {"status": status, "reason": reason, "updated_at": timezone.now()}
    if waiting and status == ActionStatus.PENDING:
        fields["attempts"] = F("attempts") - 1  # action_claim counted this run
    OrderAction.objects.filter(pk=action.pk, status=ActionStatus.RUNNING).update(**fields)
    logger.info(
        "[%s] action %s mapping %s follower %s: %s %s",
        action.kind,
        action.pk,
        action.mapping_id,
        action.mapping.follower.account_id,
        status,
        reason,
    )
    if status != ActionStatus.PENDING:
        trade_event_refresh_totals(event=action.trade_event)
    return Outcome(status, retry_in=retry_in if status == ActionStatus.PENDING else None)


def entry_wait_budget() -> float:
    """Seconds an action waits for its in-flight entry before it gives up (FAILED, and can be run again).

    As long as the recovery of an entry may take: a SUBMITTING row is stuck after
    REPLICATION_SUBMITTING_STUCK_AFTER, moved to UNKNOWN by the next sweep (REPLICATION_SWEEP_INTERVAL) and
    reconciled by tag (REPLICATION_RECONCILE_DELAY, then up to REPLICATION_RECONCILE_GRACE before it is
    confirmed absent, and then failed or sent again). The margin covers a lost reconcile message, re-enqueued
    by a sweep once the UNKNOWN row is REPLICATION_SWEEP_AFTER old (plus one more sweep interval). An action
    that runs out of it ends FAILED and can be run again.
    """
    recovery = (
        settings.REPLICATION_SUBMITTING_STUCK_AFTER
        + settings.REPLICATION_SWEEP_INTERVAL
        + settings.REPLICATION_RECONCILE_GRACE
        + settings.REPLICATION_RECONCILE_DELAY
    )
    margin = settings.REPLICATION_SWEEP_AFTER + settings.REPLICATION_SWEEP_INTERVAL
    return float(recovery + margin)


def _waiting_since(action: OrderAction, entry: OrderMapping) -> datetime:
    """When the action's wait began: its creation or last retry, or the entry's last send if later."""
    moments = [action.created_at]
    if entry.submitted_at is not None:
        moments.append(entry.submitted_at)
    retried_at = parse_datetime(str((action.params or {}).get(RETRIED_AT) or ""))
    if retried_at is not None:
        moments.append(retried_at)
    return max(moments)


def wait_in_flight(action: OrderAction, entry: OrderMapping) -> Outcome:
    """Run again shortly while the entry is in flight, FAILED once entry_wait_budget() has passed."""
    waited = (timezone.now() - _waiting_since(action, entry)).total_seconds()
    budget = entry_wait_budget()
    if waited >= budget:
        return action_end(
            action,
            ActionStatus.FAILED,
            f"Entry order still {entry.status.lower()} after waiting {int(waited)}s: gave up; "
            f"run the {action.kind.lower()} again once the entry is resolved",
        )
    # Poll every REPLICATION_ACTION_WAIT at first, then less often (at most 5x) for a long recovery.
    wait = float(settings.REPLICATION_ACTION_WAIT)
    return action_end(
        action,
        ActionStatus.PENDING,
        f"Waiting for the entry order ({entry.status.lower()})",
        retry_in=max(wait, min(waited / 10, 5 * wait)),
        waiting=True,
    )


def reconcile_instead_of_retry(action: OrderAction, entry: OrderMapping) -> None:
    """An entry waiting for a retry (PENDING, attempts >= 1) may have reached the broker on an earlier attempt
    (an error after acceptance): never send it again, resolve it by its orderTag (UNKNOWN -> reconcile)."""
    if mapping_transition(
        entry,
        from_statuses=(Status.PENDING,),
        where={"attempts__gt": 0},
        status=Status.UNKNOWN,
        next_attempt_at=None,
        reason=(
            f"Master {action.kind.lower()} while the order was being retried: an earlier attempt may have "
            "reached Alice Blue; not sent again: confirming by order tag"
        ),
        reason_code=states.ReasonCode.CONFIRMING,
    ):
        logger.warning(
            "[%s] mapping %s follower %s: retrying entry (attempt %s) moved to UNKNOWN, reconcile by tag %s",
            action.kind,
            entry.pk,
            entry.follower.account_id,
            entry.attempts,
            entry.order_tag,
        )
        dispatch.reconcile_enqueue(entry.pk)
    entry.refresh_from_db()


def wait_for_entry(action: OrderAction, entry: OrderMapping) -> Outcome | None:
    """Entries never sent (PENDING, attempts 0) are cancelled locally; entries that may have been sent are
    resolved by tag and waited for, like every in-flight entry. None: the entry was placed."""
    if entry.status == Status.PENDING and entry.attempts == 0:
        if mapping_transition(
            entry,
            from_statuses=(Status.PENDING,),
            where={"attempts": 0},
            status=Status.CANCELLED,
            reason=f"Cancelled before placement (master {action.kind.lower()})",
            reason_code=states.ReasonCode.CANCELLED_BEFORE_PLACEMENT,
        ):
            return action_end(action, ActionStatus.DONE, "Not placed yet: cancelled before placement")
        entry.refresh_from_db()
    if entry.status == Status.PENDING:
        reconcile_instead_of_retry(action, entry)
    if entry.status in states.IN_FLIGHT:
        return wait_in_flight(action, entry)
    if not entry.follower_order_id:
        return action_end(
            action, ActionStatus.SKIPPED, f"Order already {entry.status.lower()} or no order ID"
        )
    return None
