"""The control panel's operations: the kill switch, squaring followers off, copying a master trade to chosen
followers, exiting a master order, and retrying an entry that never reached the broker.

Each is the one place its rule lives (the admin views only parse and report) and each writes an AuditEvent
naming the operator.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from accounts.models import MasterSettings
from accounts.services.audit import audit_record
from copytrade.core.exceptions import Conflict, NotFound, ValidationFailed
from replication import dispatch, selectors, states
from replication.models import MasterTrade, OrderMapping, TradeEvent
from replication.services import capture, fanout
from replication.services.exits import trade_exit
from replication.services.liquidation import follower_open_trades_exit
from replication.services.notify_hooks import kill_switch_notify

logger = logging.getLogger(__name__)

SQUARE_OFF_EVERYONE = "SQUARE OFF EVERYONE"
MANUAL_ORDER_ID = r"^ADMIN-[0-9]{12}-[0-9A-F]{4}$"
Code = OrderMapping.ReasonCode
# A FAILED entry with one of these never reached Alice Blue (refused before sending, or confirmed absent from
# the follower's order book), so sending it again cannot make a second order.
RETRYABLE_CODES = frozenset(
    {
        Code.GAVE_UP,
        Code.NOT_PLACED,
        Code.SESSION_EXPIRED,
        Code.NO_SESSION,
        Code.CREDENTIAL_UNREADABLE,
        Code.EXPIRED_BEFORE_PLACEMENT,
    }
)


# ---------------------------------------------------------------- kill switch
def _settings_for_update() -> MasterSettings:
    # A row never saved holds the defaults: written with them first, then locked.
    MasterSettings.objects.get_or_create(pk=MasterSettings.SINGLETON_ID)
    return MasterSettings.objects.select_for_update().get(pk=MasterSettings.SINGLETON_ID)


@transaction.atomic
def copying_stop(*, actor: str, reason: str = "") -> MasterSettings:
    """Turn the kill switch on: no new entry is copied to anyone (entries not yet sent are skipped before
    sending); exits, cancels and modifications of existing copies still flow. Idempotent; audited."""
    row = _settings_for_update()
    if not row.copying_stopped:
        row.copying_stopped = True
        row.copying_stopped_at = timezone.now()
        row.copying_stopped_by = actor[:150]
        row.copying_stopped_reason = reason.strip()[:255]
        row.save()
        audit_record(actor=actor, action="copying.stopped", target="kill switch", details={"reason": reason})
        kill_switch_notify(
            on=True, actor=actor, reason=row.copying_stopped_reason, since=row.copying_stopped_at
        )
        logger.warning("[KILL SWITCH] copying stopped by %s: %s", actor, reason or "no reason given")
    return row


@transaction.atomic
def copying_resume(*, actor: str) -> MasterSettings:
    """Turn the kill switch off: new master trades are copied again (trades queued meanwhile stay queued)."""
    row = _settings_for_update()
    if row.copying_stopped:
        stopped_at = row.copying_stopped_at or timezone.now()
        stopped_for = timezone.now() - row.copying_stopped_at if row.copying_stopped_at else None
        row.copying_stopped = False
        row.copying_stopped_at = None
        row.copying_stopped_by = ""
        row.copying_stopped_reason = ""
        row.save()
        audit_record(
            actor=actor,
            action="copying.resumed",
            target="kill switch",
            details={"stopped_seconds": int(stopped_for.total_seconds()) if stopped_for else None},
        )
        kill_switch_notify(on=False, actor=actor, since=stopped_at)
        logger.warning("[KILL SWITCH] copying resumed by %s", actor)
    return row


@dataclass
class SquareOffResult:
    """Per follower account id, the master orders whose copies are being exited now."""

    exited: dict[str, list[str]] = field(default_factory=dict)

    @property
    def trades(self) -> int:
        return sum(len(orders) for orders in self.exited.values())


def followers_square_off(*, follower_pks: list[int] | None, actor: str) -> SquareOffResult:
    """Exit every open copied trade of the given followers (None: every follower holding one), through the
    ordinary exit machinery (cancel what is open, square off what filled); only what copytrade placed is
    touched, never a follower's own positions. Idempotent per trade; audited."""
    result = SquareOffResult()
    for follower in selectors.open_copied_trades_by_follower(follower_pks=follower_pks):
        exited = follower_open_trades_exit(follower_pk=follower.pk, source=TradeEvent.Source.ADMIN)
        result.exited[follower.account_id] = exited
    audit_record(
        actor=actor,
        action="followers.squared_off",
        target="all" if follower_pks is None else ",".join(sorted(result.exited))[:200],
        details={"exited": result.exited, "requested": "all" if follower_pks is None else follower_pks},
    )
    logger.warning("[SQUARE OFF] %s squared off %d trades: %s", actor, result.trades, result.exited)
    return result


def copying_stop_and_square_off(*, actor: str, confirmation: str, reason: str = "") -> SquareOffResult:
    """The big red button: the kill switch on, then every follower's copied positions squared off. The
    operator must type SQUARE_OFF_EVERYONE (ValidationFailed otherwise, and nothing happens)."""
    if confirmation.strip() != SQUARE_OFF_EVERYONE:
        raise ValidationFailed(
            f'Type "{SQUARE_OFF_EVERYONE}" to stop copying and square off every follower; nothing was done.',
            code="confirmation_required",
            extra={"field": "confirmation"},
        )
    copying_stop(actor=actor, reason=reason or "stop and square off everyone")
    return followers_square_off(follower_pks=None, actor=actor)


# ---------------------------------------------------------------- copying and exiting master trades
def manual_order_id() -> str:
    """A master order id for a trade the operator enters by hand (unique, short, says where it came from)."""
    return f"ADMIN-{timezone.now():%y%m%d%H%M%S}-{secrets.token_hex(2).upper()}"


def trade_input_for(*, master_order_id: str) -> fanout.TradeInput:
    """The trade as copying it would send it: as first fanned out when it was, else from the captured master
    trade as the order stands now (NotFound when neither exists)."""
    event = TradeEvent.objects.filter(dedupe_key=f"{TradeEvent.EventType.PLACE}:{master_order_id}").first()
    if event is not None:
        return fanout.TradeInput(
            id=event.master_order_id,
            symbol=event.symbol,
            side=event.side,
            quantity=event.quantity,
            exchange=event.exchange,
            product_type=event.product_type,
            order_type=event.order_type,
            price=event.price,
            trigger_price=event.trigger_price,
        )
    trade = MasterTrade.objects.filter(broker_order_id=master_order_id).order_by("-pk").first()
    if trade is None:
        raise NotFound(f"No master trade {master_order_id}", code="master_trade_not_found")
    problem = capture.copy_refusal(trade)
    if problem:
        raise Conflict(problem, code="not_copyable")
    return capture.entry_trade_input(trade)


def master_order_copy(
    *,
    master_order_id: str,
    follower_ids: list[str] | None,
    actor: str,
    trade: fanout.TradeInput | None = None,
) -> TradeEvent:
    """Copy a master order to the chosen followers (None: every active follower), through the fan-out the API
    runs: a captured master trade waiting in the queue becomes COPIED; one copied before is replayed, which
    places orders only for followers not yet mapped. `trade` is a manual trade entered by the operator.
    Conflict while the kill switch is on; ValidationFailed when `follower_ids` is empty. Audited."""
    if follower_ids is not None and not follower_ids:
        raise ValidationFailed("Select at least one follower.", code="no_followers_selected")
    captured = MasterTrade.objects.filter(broker_order_id=master_order_id).order_by("-pk").first()
    if trade is None and captured is not None and captured.state == MasterTrade.State.NEW:
        captured = capture.master_trade_copy(
            trade_pk=captured.pk, source=TradeEvent.Source.ADMIN, follower_ids=follower_ids
        )
        if captured.state != MasterTrade.State.COPIED:
            raise Conflict(captured.note or "Not copied", code="not_copied")
        result_event = TradeEvent.objects.get(dedupe_key=f"{TradeEvent.EventType.PLACE}:{master_order_id}")
    else:
        trade_input = trade or trade_input_for(master_order_id=master_order_id)
        result_event = fanout.trade_fan_out(
            trade=trade_input, follower_ids=follower_ids, source=TradeEvent.Source.ADMIN
        ).event
    audit_record(
        actor=actor,
        action="master_order.copied",
        target=master_order_id,
        details={"followers": "all" if follower_ids is None else follower_ids, "manual": trade is not None},
    )
    return result_event


def master_order_exit(*, master_order_id: str, actor: str) -> TradeEvent:
    """Exit a copied master order on every follower (cancel what is open, square off what filled); audited."""
    event = trade_exit(master_order_id=master_order_id, source=TradeEvent.Source.ADMIN)
    audit_record(actor=actor, action="master_order.exited", target=master_order_id, details={})
    return event


def master_order_dismiss(*, master_order_id: str, actor: str) -> int:
    """Dismiss a waiting master trade (never copied); 0 when it was not waiting."""
    pks = list(
        MasterTrade.objects.filter(broker_order_id=master_order_id, state=MasterTrade.State.NEW).values_list(
            "pk", flat=True
        )
    )
    return capture.master_trades_dismiss(trade_pks=pks, actor=actor)


# ---------------------------------------------------------------- retry
def retry_refusal(mapping: OrderMapping) -> str:
    """Why this mapping cannot be retried from the panel ("" when it can)."""
    if mapping.leg != OrderMapping.Leg.ENTRY:
        return "Only entries are retried here; failed exits are retried from their trade event"
    if mapping.status != OrderMapping.Status.FAILED:
        return f"Only FAILED entries are retried (this one is {mapping.status})"
    if mapping.reason_code not in RETRYABLE_CODES:
        return "It may have reached Alice Blue: reconcile it instead of sending again"
    exit_key = f"{TradeEvent.EventType.EXIT}:{mapping.master_order_id}"
    if TradeEvent.objects.filter(dedupe_key=exit_key).exists():
        return "The master order was exited: retrying would open a position the master closed"
    return ""


def order_mapping_retry(*, mapping_id: int, actor: str) -> OrderMapping:
    """Send a FAILED entry again that certainly never reached the broker (same order tag, so the tag check
    still guards against a double); the follower's switches and the kill switch are checked again before
    sending. Conflict when it cannot be retried. Audited."""
    with transaction.atomic():
        mapping = OrderMapping.objects.select_for_update().select_related("follower").get(pk=mapping_id)
        refusal = retry_refusal(mapping)
        if refusal:
            raise Conflict(refusal, code="not_retryable")
        fanout.copying_allowed_or_409()
        states.check_transition([mapping.status], OrderMapping.Status.PENDING)
        previous = mapping.reason
        # The entry's age and its bounded attempts count from the retry: the operator chose to send it now.
        OrderMapping.objects.filter(pk=mapping.pk).update(
            status=OrderMapping.Status.PENDING,
            reason="",
            reason_code=Code.NONE,
            next_attempt_at=None,
            attempts=0,
            created_at=timezone.now(),
            updated_at=timezone.now(),
        )
        dispatch.placement_batches_enqueue([mapping.pk])
        audit_record(
            actor=actor,
            action="order_mapping.retried",
            target=f"{mapping.follower.account_id}:{mapping.master_order_id}",
            details={"mapping": mapping.pk, "previous_reason": previous},
        )
    mapping.refresh_from_db()
    logger.info("[RETRY] mapping %s follower %s sent again by %s", mapping.pk, mapping.follower_id, actor)
    return mapping
