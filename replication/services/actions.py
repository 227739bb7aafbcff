"""Exit, modify and cancel of follower orders that mirror a master order (DESIGN 5.3, 5.4).

Each is a TradeEvent plus one OrderAction per ENTRY mapping, run by a task. Exit = cancel what is still
open, then square off exactly the filled quantity with an EXIT-leg mapping placed through the placement
task (its own orderTag, unique per master order and follower): running an exit twice places nothing new.

An action on an entry that is still in flight waits for it on a time budget (`entry_wait_budget`): as long as
the sweeper and the reconcile by tag may take to resolve it. An entry that may have reached the broker (any
attempt made) is never treated as unsent. An action that ended FAILED can be run again: a repeated exit or
cancel request for the master order, or the admin's "Retry failed" (`trade_events_retry_failed_actions`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.exceptions import SessionMissing
from accounts.selectors import account_broker_client, master_settings_get
from accounts.services.sessions import account_session_mark_expired
from broker.client import AliceBlueClient
from broker.exceptions import BrokerAuthError, BrokerError, BrokerRejectedError
from broker.types import ModifyRequest, Order, OrderStatus, OrderType, ProductType, Side
from copytrade.core.exceptions import NotFound, ValidationFailed
from replication import risk, selectors
from replication.models import OrderAction, OrderMapping, TradeEvent, order_tag_for
from replication.services import placement
from replication.services.fanout import ORDER_TYPES
from replication.services.order_state import order_mapping_apply_order
from replication.services.placement import Outcome

logger = logging.getLogger(__name__)

Status = OrderMapping.Status
ActionStatus = OrderAction.Status
NOT_FINAL = (Status.ACTIVE, Status.PARTIAL, Status.COMPLETED, Status.CANCELLED, Status.REJECTED)
# Set in an action's params when it is run again after FAILED: its wait for an in-flight entry starts anew.
RETRIED_AT = "_retried_at"


@dataclass(frozen=True)
class Modification:
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    quantity: int | None = None
    order_type: str | None = None

    def as_params(self) -> dict[str, Any]:
        return {
            k: (str(v) if isinstance(v, Decimal) else v) for k, v in self.__dict__.items() if v is not None
        }


def modification_parse(payload: Any) -> Modification:
    """Validate `modification` ({price?, trigger_price?, quantity?, order_type?}); 400 naming the field."""
    if not isinstance(payload, dict) or not payload:
        raise ValidationFailed("modification is required", extra={"field": "modification"})
    values: dict[str, Any] = {}
    for name in ("price", "trigger_price"):
        if payload.get(name) not in (None, ""):
            try:
                number = Decimal(str(payload[name]))
            except (InvalidOperation, ValueError):
                number = Decimal("-1")
            if not number.is_finite() or number <= 0:
                raise ValidationFailed(
                    f"modification.{name} must be a positive number", extra={"field": f"modification.{name}"}
                )
            values[name] = number
    if payload.get("quantity") not in (None, ""):
        quantity = payload["quantity"]
        if isinstance(quantity, bool) or not str(quantity).isdigit() or int(quantity) <= 0:
            raise ValidationFailed(
                "modification.quantity must be a positive whole number",
                extra={"field": "modification.quantity"},
            )
        values["quantity"] = int(quantity)
    if payload.get("order_type") not in (None, ""):
        order_type = str(payload["order_type"]).strip().upper().replace("-", "")
        if order_type not in ORDER_TYPES:
            raise ValidationFailed(
                f"modification.order_type must be one of {', '.join(ORDER_TYPES)}",
                extra={"field": "modification.order_type"},
            )
        values["order_type"] = order_type
    if not values:
        raise ValidationFailed(
            "modification needs at least one of price, trigger_price, quantity, order_type",
            extra={"field": "modification"},
        )
    return Modification(**values)


# ---------------------------------------------------------------- creating events and actions
def _entries_or_404(master_order_id: str) -> list[OrderMapping]:
    entries = list(selectors.entry_mappings(master_order_id=master_order_id).select_related("trade_event"))
    if not entries:
        raise NotFound(f"Master order {master_order_id} not found", code="master_order_not_found")
    return entries


def _event_like(
    place: TradeEvent, *, event_type: str, dedupe: bool, source: str, details: dict
) -> TradeEvent:
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


def _create_actions(
    *, event: TradeEvent, kind: str, entries: list[OrderMapping], params_for, skip_reason_for
) -> list[int]:
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
    created = OrderAction.objects.filter(
        trade_event=event, mapping_id__in=[r.mapping_id for r in rows], status=ActionStatus.PENDING
    ).values_list("pk", flat=True)
    from replication.tasks import order_action_run_task

    for pk in created:
        order_action_run_task.delay_on_commit(pk)
    return list(created)


def _with_race_retry(fn):
    for _attempt in range(3):
        try:
            return fn()
        except IntegrityError:
            logger.info("concurrent exit/modify/cancel call; reading its rows")
    return fn()


def _never_placed(entry: OrderMapping) -> str:
    if entry.status in (Status.SKIPPED, Status.FAILED):
        return f"Order already {entry.status.lower()} or no order ID"
    return ""


def _action_event(*, entries: list[OrderMapping], event_type: str, kind: str, source: str) -> TradeEvent:
    """The master order's (deduplicated) event of `event_type` with one `kind` action per entry mapping.

    Asked again, the event's actions on these entries that ended FAILED are run again (see
    `_actions_retry_failed`); the others are left as they are.
    """

    @transaction.atomic
    def create() -> TradeEvent:
        event = _event_like(
            entries[0].trade_event, event_type=event_type, dedupe=True, source=source, details={}
        )
        _create_actions(
            event=event,
            kind=kind,
            entries=entries,
            params_for=lambda e: {},
            skip_reason_for=_never_placed,
        )
        _actions_retry_failed(
            OrderAction.objects.filter(trade_event=event, mapping_id__in=[e.pk for e in entries]),
            requested_by=f"repeated {event_type.lower()} request",
        )
        return event

    return _with_race_retry(create)


def _actions_retry_failed(queryset, *, requested_by: str) -> list[int]:
    """Move the FAILED actions of `queryset` (and SKIPPED ones whose entry is placed after all) back to
    PENDING (attempts 0, a new wait budget) and enqueue them.

    Safe to repeat: an exit places its square-off through the EXIT-leg mapping, unique per master order and
    follower (never a second one), and cancel / modify set absolute state at the broker. Returns their ids.
    """
    from replication.services.events import trade_event_refresh_totals
    from replication.tasks import order_action_run_task

    now = timezone.now()
    retried: list[int] = []
    events: set[int] = set()
    with transaction.atomic():
        # Also SKIPPED actions whose entry turned out to be placed after all (a late acknowledgement of an
        # order that had been given up as "not placed"): the position is real and must be exited too.
        rerun = Q(status=ActionStatus.FAILED) | Q(
            status=ActionStatus.SKIPPED, mapping__status__in=[Status.ACTIVE, Status.PARTIAL, Status.COMPLETED]
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
                order_action_run_task.delay_on_commit(action.pk)
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


def trade_events_retry_failed_actions(*, event_ids: Iterable[int], requested_by: str = "admin") -> list[int]:
    """Run again every exit / modify / cancel action of the given trade events that ended FAILED (admin)."""
    return _actions_retry_failed(
        OrderAction.objects.filter(trade_event_id__in=list(event_ids)), requested_by=requested_by
    )


def trade_exit(*, master_order_id: str, source: str = TradeEvent.Source.API) -> TradeEvent:
    """Exit every follower of the master order (cancel open, square off filled); idempotent. Asked again, it
    runs the exit actions that ended FAILED once more (at most one square-off order per follower still)."""
    entries = _entries_or_404(master_order_id)
    logger.info("[EXIT] Processing exit for master order: %s", master_order_id)
    return _action_event(
        entries=entries, event_type=TradeEvent.EventType.EXIT, kind=OrderAction.Kind.EXIT, source=source
    )


def trade_exit_follower(
    *, master_order_id: str, follower_pk: int, source: str = TradeEvent.Source.RISK
) -> TradeEvent | None:
    """Exit one follower of the master order (auto-liquidation): the same EXIT event and action as a master
    exit, so a later master exit finds this follower's action and does nothing twice. None if not mapped."""
    entries = [e for e in _entries_or_404(master_order_id) if e.follower_id == follower_pk]
    if not entries:
        return None
    logger.info("[EXIT] Processing exit of master order %s for follower #%s", master_order_id, follower_pk)
    return _action_event(
        entries=entries, event_type=TradeEvent.EventType.EXIT, kind=OrderAction.Kind.EXIT, source=source
    )


def trade_cancel(*, master_order_id: str, source: str = TradeEvent.Source.API) -> TradeEvent:
    """Cancel every follower order of the master order that is still open (master cancel). Asked again, it
    runs the cancel actions that ended FAILED once more."""
    entries = _entries_or_404(master_order_id)
    logger.info("[CANCEL] Processing cancel for master order: %s", master_order_id)
    return _action_event(
        entries=entries, event_type=TradeEvent.EventType.CANCEL, kind=OrderAction.Kind.CANCEL, source=source
    )


def trade_modify(
    *, master_order_id: str, modification: Modification, source: str = TradeEvent.Source.API
) -> TradeEvent:
    """Apply a master modification to every follower order not yet final; quantity re-scaled per follower."""
    entries = _entries_or_404(master_order_id)
    place = entries[0].trade_event
    logger.info(
        "[MODIFY] Processing modification for master order: %s %s", master_order_id, modification.as_params()
    )
    limits = selectors.limits_from(master_settings_get())
    lot_size = int((place.details or {}).get("lot_size") or 1)
    open_entries = [e for e in entries if e.status in (*OrderMapping.IN_FLIGHT, *OrderMapping.OPEN_AT_BROKER)]

    def params_for(entry: OrderMapping) -> dict[str, Any]:
        params = modification.as_params()
        if modification.quantity is not None:
            rules = selectors.follower_rules(account=entry.follower, master_settings=master_settings_get())
            params["quantity"] = risk.scale_modified_quantity(
                master_quantity=modification.quantity, rules=rules, limits=limits, lot_size=lot_size
            )
        return params

    def skip_reason_for(entry: OrderMapping) -> str:
        if modification.quantity is not None and not params_for(entry)["quantity"]:
            return f"Quantity becomes 0 after multiplier for modified quantity {modification.quantity}"
        return ""

    with transaction.atomic():
        event = _event_like(
            place,
            event_type=TradeEvent.EventType.MODIFY,
            dedupe=False,
            source=source,
            details={"modification": modification.as_params()},
        )
        _create_actions(
            event=event,
            kind=OrderAction.Kind.MODIFY,
            entries=open_entries,
            params_for=params_for,
            skip_reason_for=skip_reason_for,
        )
    return event


# ---------------------------------------------------------------- running one action
def _claim(action_id: int) -> OrderAction | None:
    with transaction.atomic():
        action = OrderAction.objects.select_for_update().filter(pk=action_id).first()
        if action is None or action.status != ActionStatus.PENDING:
            return None
        action.status = ActionStatus.RUNNING
        action.attempts += 1
        action.save(update_fields=["status", "attempts", "updated_at"])
    return OrderAction.objects.select_related("mapping", "mapping__follower", "trade_event").get(pk=action_id)


def _end(
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
        fields["attempts"] = F("attempts") - 1  # _claim counted this run
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
    from replication.services.events import trade_event_refresh_totals

    if status != ActionStatus.PENDING:
        trade_event_refresh_totals(event=action.trade_event)
    return Outcome(status, retry_in=retry_in if status == ActionStatus.PENDING else None)


def order_action_run(*, action_id: int) -> Outcome:
    """Run a PENDING exit / modify / cancel; anything else is a no-op (redelivery, duplicate enqueue)."""
    action = _claim(action_id)
    if action is None:
        return Outcome("noop")
    entry = OrderMapping.objects.select_related("follower").get(pk=action.mapping_id)
    try:
        if action.kind == OrderAction.Kind.MODIFY:
            return _run_modify(action, entry)
        return _run_cancel_or_exit(action, entry)
    except (BrokerAuthError, SessionMissing) as exc:
        reason = (
            "Session expired" if isinstance(exc, BrokerAuthError) else "No broker session for this follower"
        )
        if isinstance(exc, BrokerAuthError):
            account_session_mark_expired(account=entry.follower, reason=f"Session expired: {exc.message}")
        return _end(action, ActionStatus.FAILED, reason)
    except BrokerError as exc:
        # Cancel and modify set absolute state, so sending them again after an unknown outcome is safe.
        return _end(
            action,
            ActionStatus.PENDING,
            f"Alice Blue API error: {exc.message}",
            retry_in=settings.REPLICATION_RETRY_BACKOFF * action.attempts,
        )


def entry_wait_budget() -> float:
    """Seconds an action waits for its in-flight entry before it gives up (FAILED, and can be run again).

    As long as the recovery of an entry may take: a SUBMITTING row is stuck after
    REPLICATION_SUBMITTING_STUCK_AFTER, moved to UNKNOWN by the next sweep (REPLICATION_SWEEP_INTERVAL) and
    reconciled by tag (REPLICATION_RECONCILE_DELAY, then up to REPLICATION_RECONCILE_GRACE before "not
    placed"). The margin covers a lost reconcile message, re-enqueued by a sweep once the UNKNOWN row is
    REPLICATION_SWEEP_AFTER old (plus one more sweep interval).
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


def _wait_in_flight(action: OrderAction, entry: OrderMapping) -> Outcome:
    """Run again shortly while the entry is in flight, FAILED once entry_wait_budget() has passed."""
    waited = (timezone.now() - _waiting_since(action, entry)).total_seconds()
    budget = entry_wait_budget()
    if waited >= budget:
        return _end(
            action,
            ActionStatus.FAILED,
            f"Entry order still {entry.status.lower()} after waiting {int(waited)}s: gave up; "
            f"run the {action.kind.lower()} again once the entry is resolved",
        )
    # Poll every REPLICATION_ACTION_WAIT at first, then less often (at most 5x) for a long recovery.
    wait = float(settings.REPLICATION_ACTION_WAIT)
    return _end(
        action,
        ActionStatus.PENDING,
        f"Waiting for the entry order ({entry.status.lower()})",
        retry_in=max(wait, min(waited / 10, 5 * wait)),
        waiting=True,
    )


def _reconcile_instead_of_retry(action: OrderAction, entry: OrderMapping) -> None:
    """An entry waiting for a retry (PENDING, attempts >= 1) may have reached the broker on an earlier attempt
    (an error after acceptance): never send it again, resolve it by its orderTag (UNKNOWN -> reconcile)."""
    if OrderMapping.objects.filter(pk=entry.pk, status=Status.PENDING, attempts__gt=0).update(
        status=Status.UNKNOWN,
        next_attempt_at=None,
        reason=(
            f"Master {action.kind.lower()} while the order was being retried: an earlier attempt may have "
            "reached Alice Blue; reconciling by order tag, not sent again"
        ),
        updated_at=timezone.now(),
    ):
        logger.warning(
            "[%s] mapping %s follower %s: retrying entry (attempt %s) moved to UNKNOWN, reconcile by tag %s",
            action.kind,
            entry.pk,
            entry.follower.account_id,
            entry.attempts,
            entry.order_tag,
        )
        placement.enqueue_reconcile(entry.pk)
    entry.refresh_from_db()


def _wait_for_entry(action: OrderAction, entry: OrderMapping) -> Outcome | None:
    """Entries never sent (PENDING, attempts 0) are cancelled locally; entries that may have been sent are
    resolved by tag and waited for, like every in-flight entry. None: the entry was placed."""
    if entry.status == Status.PENDING and entry.attempts == 0:
        if OrderMapping.objects.filter(pk=entry.pk, status=Status.PENDING, attempts=0).update(
            status=Status.CANCELLED,
            reason=f"Cancelled before placement (master {action.kind.lower()})",
            updated_at=timezone.now(),
        ):
            return _end(action, ActionStatus.DONE, "Not placed yet: cancelled before placement")
        entry.refresh_from_db()
    if entry.status == Status.PENDING:
        _reconcile_instead_of_retry(action, entry)
    if entry.status in OrderMapping.IN_FLIGHT:
        return _wait_in_flight(action, entry)
    if not entry.follower_order_id:
        return _end(action, ActionStatus.SKIPPED, f"Order already {entry.status.lower()} or no order ID")
    return None


def _find(client: AliceBlueClient, entry: OrderMapping) -> Order | None:
    for order in client.order_book():
        if order.order_id == entry.follower_order_id or (entry.order_tag and order.tag == entry.order_tag):
            return order
    return None


def _run_cancel_or_exit(action: OrderAction, entry: OrderMapping) -> Outcome:
    waiting = _wait_for_entry(action, entry)
    if waiting is not None:
        return waiting
    follower = entry.follower
    client = account_broker_client(account=follower)
    order = _find(client, entry)
    if order is None:
        return _end(action, ActionStatus.FAILED, f"Order {entry.follower_order_id} not in today's order book")
    cancelled_now = 0
    # Anything not final may still fill, including a status we do not recognise (OrderStatus.UNKNOWN).
    if not order.status.is_final:
        logger.info("[EXIT-ORDER] Cancelling order %s for follower %s", order.order_id, follower.account_id)
        refused = False
        try:
            client.cancel_order(order.order_id, exchange=entry.exchange, trading_symbol=entry.trading_symbol)
        except BrokerRejectedError as exc:
            refused = True
            logger.info(
                "[EXIT-ORDER] cancel of %s refused (%s); re-reading the order", order.order_id, exc.reason
            )
        order = _find(client, entry) or order
        if refused and order.status is OrderStatus.UNKNOWN:
            # A status we do not recognise whose cancel Alice Blue refuses is not open there: go on with the
            # filled part rather than wait for a change that will not come.
            logger.warning(
                "[EXIT-ORDER] order %s: unrecognised status and cancel refused; treated as closed",
                order.order_id,
            )
        elif not order.status.is_final:
            return _end(
                action,
                ActionStatus.PENDING,
                "Cancel sent; waiting for the order to close",
                retry_in=settings.REPLICATION_ACTION_WAIT,
            )
        else:
            cancelled_now = max(order.quantity - order.filled_quantity, 0)
            logger.info("[EXIT-ORDER] Successfully cancelled %s", order.order_id)
    order_mapping_apply_order(mapping=entry, order=order, from_statuses=NOT_FINAL)
    if action.kind == OrderAction.Kind.CANCEL:
        text = (
            f"Order cancelled ({cancelled_now} open)"
            if cancelled_now
            else f"Order already {entry.status.lower()}"
        )
        return _end(action, ActionStatus.DONE, text)
    filled = int(order.filled_quantity)
    parts = [f"cancelled {cancelled_now} open"] if cancelled_now else []
    if filled > 0:
        _exit_leg_create(action=action, entry=entry, quantity=filled)
        parts.append(f"squaring off {filled} filled")
    return _end(
        action, ActionStatus.DONE, "Exit order processed" + (f": {', '.join(parts)}" if parts else "")
    )


def _exit_leg_create(*, action: OrderAction, entry: OrderMapping, quantity: int) -> None:
    """The EXIT-leg mapping (opposite side, same product, market) for exactly `quantity`, once."""
    leg = OrderMapping.Leg.EXIT
    try:
        with transaction.atomic():
            mapping = OrderMapping.objects.create(
                trade_event=action.trade_event,
                master_order_id=entry.master_order_id,
                follower=entry.follower,
                leg=leg,
                order_tag=order_tag_for(
                    master_order_id=entry.master_order_id, follower_pk=entry.follower_id, leg=leg
                ),
                symbol=entry.symbol,
                trading_symbol=entry.trading_symbol,
                token=entry.token,
                exchange=entry.exchange,
                side=Side(entry.side).opposite.value,
                quantity=quantity,
                product_type=entry.product_type,
                order_type=OrderType.MARKET.value,
                status=Status.PENDING,
            )
            from replication.tasks import order_mapping_place_task

            order_mapping_place_task.delay_on_commit(mapping.pk)
    except IntegrityError:
        logger.info(
            "[EXIT] exit leg for master %s follower %s exists already",
            entry.master_order_id,
            entry.follower_id,
        )
        return
    logger.info(
        "[EXIT] mapping %s: square off %s %s %s for follower %s (tag %s)",
        mapping.pk,
        mapping.side,
        quantity,
        entry.symbol,
        entry.follower.account_id,
        mapping.order_tag,
    )


def _run_modify(action: OrderAction, entry: OrderMapping) -> Outcome:
    params = action.params
    fields: dict[str, Any] = {}
    if "quantity" in params:
        fields["quantity"] = int(params["quantity"])
    for name in ("price", "trigger_price"):
        if name in params:
            fields[name] = Decimal(params[name])
    if "order_type" in params:
        fields["order_type"] = params["order_type"]
    # Only a never-sent entry (PENDING, attempts 0) may be rewritten locally. One waiting for a retry may be
    # at the broker already (its retry looks the tag up first): wait for it like any in-flight entry, then
    # modify the order at the broker.
    if (
        entry.status == Status.PENDING
        and entry.attempts == 0
        and OrderMapping.objects.filter(pk=entry.pk, status=Status.PENDING, attempts=0).update(
            updated_at=timezone.now(), **fields
        )
    ):
        return _end(action, ActionStatus.DONE, "Order modification applied before placement")
    entry.refresh_from_db()
    if entry.status in OrderMapping.IN_FLIGHT:
        return _wait_in_flight(action, entry)
    if entry.status not in OrderMapping.OPEN_AT_BROKER or not entry.follower_order_id:
        return _end(action, ActionStatus.SKIPPED, f"Order already {entry.status.lower()} or no order ID")
    order_type = fields.get("order_type", entry.order_type)
    change = ModifyRequest(
        order_id=entry.follower_order_id,
        exchange=entry.exchange,
        token=entry.token,
        trading_symbol=entry.trading_symbol or entry.symbol,
        side=Side(entry.side),
        quantity=fields.get("quantity", entry.quantity),
        product=ProductType(entry.product_type),
        order_type=OrderType(order_type),
        price=fields.get("price", entry.price) if order_type in ("LIMIT", "SL") else None,
        trigger_price=fields.get("trigger_price", entry.trigger_price)
        if order_type in ("SL", "SLM")
        else None,
    )
    logger.info(
        "[MODIFY] Modifying order %s for follower %s: %s",
        entry.follower_order_id,
        entry.follower.account_id,
        params,
    )
    client = account_broker_client(account=entry.follower)
    try:
        client.modify_order(change)
    except BrokerRejectedError as exc:
        return _end(action, ActionStatus.FAILED, f"Alice Blue API error: {exc.reason}")
    OrderMapping.objects.filter(pk=entry.pk).update(updated_at=timezone.now(), **fields)
    return _end(action, ActionStatus.DONE, "Order modified")
