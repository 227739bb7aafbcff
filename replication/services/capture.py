"""Master capture's one ingest path (DESIGN 5.5): every source (the order-update stream, the poll, the
webhook's read of the master's book, the push API) hands a normalised master order to `master_order_ingest`,
which upserts its MasterTrade and decides what the change means for the followers.

Idempotent by construction: each ingest runs in one transaction holding the master account's row lock (so
ingests of one master are serialised, whichever process runs them), the MasterTrade remembers what the
followers' copies were last given (`applied_*`), and every follower-side effect is a deduplicated event with
unique per-follower rows. The same update seen twice, or by two sources, does one thing; an ingest that dies
before committing did nothing, and the next read of the book does it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Account
from accounts.selectors import master_settings_get
from accounts.services.audit import audit_record
from broker.instrument_store import UnknownInstrumentError, instrument_resolve
from broker.instruments import Instrument
from broker.parsing import IST, parse_time
from broker.types import Order, OrderStatus, OrderType, ProductType
from copytrade.core.exceptions import ApplicationError
from replication import closing, risk, selectors
from replication.models import ORDER_TAG_LENGTH, ORDER_TAG_PREFIX, MasterTrade, OrderMapping, TradeEvent
from replication.services import exits, fanout, modify
from replication.services.closes import close_event_create

logger = logging.getLogger(__name__)

State = MasterTrade.State
Kind = MasterTrade.Kind
OPEN_STATUSES = selectors.MASTER_OPEN_STATUSES
FINAL_STATUSES = (OrderStatus.COMPLETE.value, OrderStatus.CANCELLED.value, OrderStatus.REJECTED.value)
DEAD_STATUSES = (OrderStatus.CANCELLED.value, OrderStatus.REJECTED.value)


@dataclass(frozen=True)
class Ingested:
    """What one ingest did: `created` on first sight; `did` names the follower-side effects (copied, queued,
    closing, modified, cancelled) and the bookkeeping (own, dismissed, fills, stale)."""

    trade_pk: int
    broker_order_id: str
    created: bool
    did: tuple[str, ...] = field(default_factory=tuple)


def master_order_ingest(*, account: Account, order: Order, source: str) -> Ingested:
    """Upsert the master order and act on what changed (see the module docstring); safe to call
    concurrently."""
    for attempt in range(3):
        try:
            with transaction.atomic():
                return _ingest(account=account, order=order, source=source)
        except IntegrityError:
            # Two ingests created the same MasterTrade at once (possible only without the account lock, e.g.
            # on SQLite); the loser reads the winner's row.
            if attempt == 2:
                raise
            logger.info("[CAPTURE] order %s ingested concurrently; reading it again", order.order_id)
    raise AssertionError("unreachable")


def _ingest(*, account: Account, order: Order, source: str) -> Ingested:
    Account.objects.select_for_update().filter(pk=account.pk).first()
    trade = (
        MasterTrade.objects.select_for_update()
        .filter(account=account, broker_order_id=order.order_id)
        .first()
    )
    if trade is None:
        return _first_sight(account=account, order=order, source=source)
    return _update(trade=trade, order=order, source=source)


# ---------------------------------------------------------------- normalising
def _text(value: Any) -> str:
    return str(getattr(value, "value", value) or "").upper()


def _price(value: Decimal | None) -> Decimal | None:
    return value if value else None


def _order_values(order: Order) -> dict[str, Any]:
    """The MasterTrade fields an order-book row (or update frame) carries."""
    return {
        "side": _text(order.side),
        "quantity": max(int(order.quantity), 0),
        "price": _price(order.price),
        "trigger_price": _price(order.trigger_price),
        "order_type": _text(order.order_type),
        "status": _text(order.status),
        "rejection_reason": (order.rejection_reason or "")[:255],
    }


def _order_time(text: str) -> datetime | None:
    """When the order was placed: Alice Blue's formats, or ISO 8601 (the order-update frames' time)."""
    moment = parse_time(text)
    if moment is None and text:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
    if moment is not None and timezone.is_naive(moment):
        moment = moment.replace(tzinfo=IST)
    return moment


def _is_own(tag: str) -> bool:
    """An order copytrade placed (its orderTag): never copied back, whoever's book it shows up in."""
    tag = (tag or "").strip()
    if not tag:
        return False
    if tag.startswith(ORDER_TAG_PREFIX) and len(tag) == ORDER_TAG_LENGTH:
        return True
    return OrderMapping.objects.filter(order_tag=tag).exists()


def _instrument(order: Order) -> Instrument | None:
    for symbol in (order.trading_symbol, order.token):
        if not symbol:
            continue
        try:
            return instrument_resolve(exchange=order.exchange, symbol=symbol)
        except UnknownInstrumentError:
            continue
    return None


def _plain_symbol(instrument: Instrument) -> str:
    """The symbol the followers' rules and the seed's messages use ("SBIN"), when it names this contract
    alone on its exchange; else the trading symbol (an option or future: "NIFTY" names many)."""
    try:
        same = instrument_resolve(exchange=instrument.exchange, symbol=instrument.symbol)
    except UnknownInstrumentError:
        return instrument.trading_symbol
    return instrument.symbol if same.token == instrument.token else instrument.trading_symbol


def _copy_problem(trade: MasterTrade, instrument: Instrument | None) -> str:
    if instrument is None:
        return f"Unknown instrument {trade.trading_symbol} on {trade.exchange}: not copied"
    if trade.order_type not in OrderType.__members__.values():
        return f"Order type {trade.order_type or '?'} cannot be copied"
    if trade.product_type not in ProductType.__members__.values():
        return f"Product {trade.product_type or '?'} cannot be copied"
    return ""


# ---------------------------------------------------------------- first sight
def _first_sight(*, account: Account, order: Order, source: str) -> Ingested:
    instrument = _instrument(order)
    values = _order_values(order)
    trade = MasterTrade(
        account=account,
        broker_order_id=order.order_id,
        symbol=(_plain_symbol(instrument) if instrument else order.trading_symbol)[:80],
        trading_symbol=(instrument.trading_symbol if instrument else order.trading_symbol)[:80],
        exchange=_text(order.exchange),
        token=(instrument.token if instrument else order.token)[:32],
        product_type=_text(order.product),
        filled_quantity=max(int(order.filled_quantity), 0),
        average_price=_price(order.average_price),
        tag=(order.tag or "")[:50],
        order_time=_order_time(order.order_time),
        source=source,
        last_source=source,
        **values,
    )
    _remember_applied(trade)
    if _is_own(order.tag):
        trade.kind, trade.state = Kind.OWN, State.DISMISSED
        trade.note = "Placed by copytrade (its order tag): never copied back"
        trade.save()
        logger.info(
            "[CAPTURE] master order %s is copytrade's own (tag %s): ignored", order.order_id, order.tag
        )
        return Ingested(trade.pk, trade.broker_order_id, True, ("own",))
    holding = selectors.master_holding(
        account_pk=account.pk,
        exchange=trade.exchange,
        trading_symbol=trade.trading_symbol,
        product_type=trade.product_type,
    )
    split = closing.split_order(position_before=holding.available, side=trade.side, quantity=trade.quantity)
    trade.kind = split.kind
    trade.position_before = split.position_before
    trade.close_quantity = split.close_quantity
    trade.entry_quantity = split.entry_quantity
    trade.save()
    did: list[str] = []
    if trade.status in DEAD_STATUSES and not trade.filled_quantity:
        trade.state = State.DISMISSED
        trade.note = _dead_note(trade)
        trade.save(update_fields=["state", "note", "updated_at"])
        logger.info(
            "[CAPTURE] master order %s first seen %s: nothing to copy", trade.broker_order_id, trade.status
        )
        return Ingested(trade.pk, trade.broker_order_id, True, ("dismissed",))
    problem = _copy_problem(trade, instrument)
    if problem or instrument is None:
        trade.note = problem
        trade.save(update_fields=["note", "updated_at"])
        logger.warning("[CAPTURE] master order %s: %s", trade.broker_order_id, problem)
        return Ingested(trade.pk, trade.broker_order_id, True, ("queued",))
    notes: list[str] = []
    if trade.close_quantity:
        close_event_create(trade=trade, instrument=instrument, source=source)
        did.append("closing")
        notes.append(
            f"Closes {trade.close_quantity} of the master's {abs(trade.position_before)}: "
            "followers close the same share"
        )
        trade.state = State.COPIED
    if trade.entry_quantity:
        reason = _auto_copy_refusal(trade)
        if reason:
            notes.append(reason)
            trade.state = State.NEW
            did.append("queued")
        else:
            copied = _entry_copy(trade=trade, source=source)
            notes.append(copied)
            did.append("copied" if trade.state == State.COPIED else "queued")
    trade.note = "; ".join(notes)[:255]
    trade.save(update_fields=["state", "note", "updated_at"])
    logger.info(
        "[CAPTURE] master order %s %s %s %s (%s, %s) via %s: %s",
        trade.broker_order_id,
        trade.side,
        trade.quantity,
        trade.trading_symbol,
        trade.kind,
        trade.status,
        source,
        trade.note,
    )
    return Ingested(trade.pk, trade.broker_order_id, True, tuple(did))


def _auto_copy_refusal(trade: MasterTrade) -> str:
    """Why a new master entry is queued for the operator instead of copied ("" when it is copied now)."""
    if not master_settings_get().auto_replicate_new_trades:
        return "Queued: auto-replicate is off"
    placed_at = trade.order_time or timezone.now()
    age = (timezone.now() - placed_at).total_seconds()
    if age > settings.REPLICATION_ENTRY_MAX_AGE:
        return f"Queued: {int(age)}s old when seen (older than REPLICATION_ENTRY_MAX_AGE)"
    limits = selectors.global_limits()
    closed = risk.market_closed_reason(now=timezone.now(), limits=limits)
    if closed and not limits.allow_amo:  # with AMO allowed the fan-out sends after-market orders
        return f"Queued: {closed}"
    return ""


def _entry_part_now(trade: MasterTrade) -> tuple[int, bool]:
    """The entry part to copy as the master order stands, and whether it has executed already (then the copy
    is a market order for what filled: the master's position exists, there is no open order to mirror)."""
    if trade.status in OPEN_STATUSES or not trade.status:
        return trade.entry_quantity, False
    return max(trade.filled_quantity - trade.close_quantity, 0), True


def entry_trade_input(trade: MasterTrade) -> fanout.TradeInput:
    """The master trade's entry part as the fan-out would copy it now (quantity 0 when nothing is left)."""
    quantity, executed = _entry_part_now(trade)
    order_type = OrderType.MARKET.value if executed else trade.order_type
    price = trade.average_price or trade.price if order_type == OrderType.MARKET.value else trade.price
    return fanout.TradeInput(
        id=trade.broker_order_id,
        symbol=trade.symbol,
        side=trade.side,
        quantity=quantity,
        exchange=trade.exchange,
        product_type=trade.product_type,
        order_type=order_type,
        price=price,
        trigger_price=trade.trigger_price if order_type in ("SL", "SLM") else None,
    )


def copy_refusal(trade: MasterTrade) -> str:
    """Why the operator cannot copy this master trade's entry ("" when it can be copied)."""
    if trade.kind == Kind.OWN:
        return "Placed by copytrade itself: never copied back"
    if trade.state in (State.DISMISSED, State.EXPIRED):
        return f"This master trade is {trade.state.lower()}: it is never copied"
    if not trade.entry_quantity:
        return "A close of the master's position: the followers' copies are closed automatically"
    problem = _copy_problem(trade, _instrument_of(trade))
    if problem:
        return problem
    if _entry_part_now(trade)[0] <= 0:
        return _dead_note(trade)
    return ""


def _entry_copy(*, trade: MasterTrade, source: str, follower_ids: list[str] | None = None) -> str:
    """Fan the entry part out (in the caller's transaction); sets trade.state. Returns a note."""
    trade_input = entry_trade_input(trade)
    quantity, order_type = trade_input.quantity, trade_input.order_type
    executed = _entry_part_now(trade)[1]
    if quantity <= 0:
        trade.state = State.DISMISSED
        return _dead_note(trade)
    try:
        result = fanout.trade_fan_out(trade=trade_input, follower_ids=follower_ids, source=source)
    except ApplicationError as exc:
        trade.state = State.NEW
        logger.warning("[CAPTURE] master order %s not copied: %s", trade.broker_order_id, exc.message)
        return f"Not copied: {exc.message}"
    trade.state = State.COPIED
    _remember_applied(trade)
    trade.save()
    placed = sum(1 for m in result.mappings if m.status != OrderMapping.Status.SKIPPED)
    return (
        f"Copied {quantity} ({'market, executed' if executed else order_type.lower()}) to {placed} followers"
    )


def _dead_note(trade: MasterTrade) -> str:
    if trade.status == OrderStatus.REJECTED.value:
        return f"Rejected at Alice Blue: {trade.rejection_reason or 'no reason given'}"[:255]
    return f"{trade.status.capitalize() or 'Closed'} before it filled: nothing to copy"


def _remember_applied(trade: MasterTrade) -> None:
    trade.applied_quantity = trade.quantity
    trade.applied_price = trade.price
    trade.applied_trigger_price = trade.trigger_price
    trade.applied_order_type = trade.order_type
    trade.applied_status = trade.status


# ---------------------------------------------------------------- updates
def _same_order(trade: MasterTrade, order: Order, values: dict[str, Any]) -> bool:
    """Whether an update describes the order we know under its id (side, exchange, instrument): never act on
    an id that came back for another order."""
    if values["side"] and values["side"] != trade.side:
        return False
    if order.exchange and _text(order.exchange) != trade.exchange:
        return False
    names = {trade.trading_symbol.upper(), trade.symbol.upper(), trade.token}
    return not order.trading_symbol or order.trading_symbol.upper() in names or (order.token or "") in names


def _update(*, trade: MasterTrade, order: Order, source: str) -> Ingested:
    did: list[str] = []
    values = _order_values(order)
    if not _same_order(trade, order, values):
        logger.error(
            "[CAPTURE] order id %s came back for another order (%s %s %s, known as %s %s %s): ignored",
            trade.broker_order_id,
            values["side"],
            order.exchange,
            order.trading_symbol,
            trade.side,
            trade.exchange,
            trade.trading_symbol,
        )
        return Ingested(trade.pk, trade.broker_order_id, False, ("conflict",))
    was_final = trade.status in FINAL_STATUSES
    filled = max(int(order.filled_quantity), 0)
    if filled > trade.filled_quantity:
        trade.filled_quantity = filled
        did.append("fills")
    if order.average_price:
        trade.average_price = order.average_price
    trade.last_source = source
    if was_final:
        # A final order does not change any more: an older frame or book read arriving late changes nothing.
        if values["status"] != trade.status:
            did.append("stale")
        trade.save()
        return Ingested(trade.pk, trade.broker_order_id, False, tuple(did))
    for name, value in values.items():
        setattr(trade, name, value)
    trade.save()
    if trade.kind == Kind.OWN:
        return Ingested(trade.pk, trade.broker_order_id, False, ("own", *did))
    mirrored = trade.state == State.COPIED or trade.close_quantity > 0
    if trade.status in DEAD_STATUSES:
        if trade.state == State.NEW and not trade.filled_quantity:
            trade.state, trade.note = State.DISMISSED, _dead_note(trade)
            did.append("dismissed")
        elif mirrored and selectors.mirror_mappings(master_order_id=trade.broker_order_id).exists():
            exits.trade_cancel(master_order_id=trade.broker_order_id, source=source)
            did.append("cancelled")
        trade.applied_status = trade.status
        trade.save()
    elif mirrored and trade.status in OPEN_STATUSES:
        change = _modification(trade)
        if change is not None and selectors.mirror_mappings(master_order_id=trade.broker_order_id).exists():
            modify.trade_modify(master_order_id=trade.broker_order_id, modification=change, source=source)
            did.append("modified")
        _remember_applied(trade)
        trade.save()
    if did:
        logger.info(
            "[CAPTURE] master order %s (%s) via %s: %s", trade.broker_order_id, trade.status, source, did
        )
    return Ingested(trade.pk, trade.broker_order_id, False, tuple(did))


def _modification(trade: MasterTrade) -> modify.Modification | None:
    """What changed since the followers' copies were last given the master order (None: nothing)."""
    changed: dict[str, Any] = {}
    if trade.applied_quantity is not None and trade.quantity != trade.applied_quantity:
        changed["quantity"] = trade.quantity
    if trade.price != trade.applied_price and trade.price is not None:
        changed["price"] = trade.price
    if trade.trigger_price != trade.applied_trigger_price and trade.trigger_price is not None:
        changed["trigger_price"] = trade.trigger_price
    if trade.applied_order_type and trade.order_type != trade.applied_order_type:
        changed["order_type"] = trade.order_type
    return modify.Modification(**changed) if changed else None


# ---------------------------------------------------------------- the operator's queue
def master_trade_copy(
    *, trade_pk: int, source: str = TradeEvent.Source.ADMIN, follower_ids: list[str] | None = None
) -> MasterTrade:
    """Copy a queued (NEW) master trade's entry part now, as the order stands, to every active follower or to
    `follower_ids`."""
    with transaction.atomic():
        trade = MasterTrade.objects.select_for_update().get(pk=trade_pk)
        if trade.state != State.NEW or not trade.entry_quantity or trade.kind == Kind.OWN:
            return trade
        problem = _copy_problem(trade, _instrument_of(trade))
        if problem:
            trade.note = problem
        else:
            trade.note = _entry_copy(trade=trade, source=source, follower_ids=follower_ids)[:255]
        trade.save()
    return trade


def _instrument_of(trade: MasterTrade) -> Instrument | None:
    try:
        return instrument_resolve(exchange=trade.exchange, symbol=trade.trading_symbol or trade.symbol)
    except UnknownInstrumentError:
        return None


def master_trades_copy(
    *, trade_pks: list[int], actor: str, source: str = TradeEvent.Source.ADMIN
) -> tuple[int, int]:
    """Copy the given queued (NEW) master trades now (oldest first); audited. Returns (trades copied,
    followers reached)."""
    copied = 0
    followers: set[int] = set()
    pks = list(
        MasterTrade.objects.filter(pk__in=trade_pks, state=State.NEW)
        .exclude(kind=Kind.OWN)
        .order_by("order_time", "pk")
        .values_list("pk", flat=True)
    )
    for pk in pks:
        trade = master_trade_copy(trade_pk=pk, source=source)
        if trade.state == State.COPIED:
            copied += 1
            followers.update(
                OrderMapping.objects.filter(master_order_id=trade.broker_order_id, leg=OrderMapping.Leg.ENTRY)
                .exclude(status=OrderMapping.Status.SKIPPED)
                .values_list("follower_id", flat=True)
            )
    if pks:
        audit_record(
            actor=actor,
            action="master_trades.copied",
            target=",".join(str(pk) for pk in pks)[:200],
            details={"master_trades": pks, "copied": copied, "followers": len(followers)},
        )
    return copied, len(followers)


def master_trades_auto_replicate(*, actor: str) -> tuple[int, int]:
    """Copy every queued (NEW) master trade still in the queue; returns (trades copied, followers reached)."""
    pks = list(MasterTrade.objects.filter(state=State.NEW, cleared=False).values_list("pk", flat=True))
    return master_trades_copy(trade_pks=pks, actor=actor, source=TradeEvent.Source.API)


def master_trades_dismiss(*, trade_pks: list[int], actor: str) -> int:
    """Dismiss queued trades (NEW -> DISMISSED): they are never copied. Audited."""
    pks = list(MasterTrade.objects.filter(pk__in=trade_pks, state=State.NEW).values_list("pk", flat=True))
    dismissed = MasterTrade.objects.filter(pk__in=pks, state=State.NEW).update(
        state=State.DISMISSED, note=f"Dismissed by {actor}"[:255], updated_at=timezone.now()
    )
    if dismissed:
        audit_record(actor=actor, action="master_trades.dismissed", details={"master_trades": pks})
    return dismissed


def master_trades_clear(
    *, actor: str, account: Account | None = None, broker_order_ids: list[str] | None = None
) -> int:
    """Take trades off the operator's queue (the seed's clear / remove): queued ones are dismissed (never
    copied), the rows stay as the record. Returns how many left the queue."""
    queryset = MasterTrade.objects.filter(cleared=False)
    if account is not None:
        queryset = queryset.filter(account=account)
    if broker_order_ids is not None:
        queryset = queryset.filter(broker_order_id__in=broker_order_ids)
    with transaction.atomic():
        pks = list(queryset.select_for_update().values_list("pk", flat=True))
        MasterTrade.objects.filter(pk__in=pks, state=State.NEW).update(
            state=State.DISMISSED, note=f"Removed from the queue by {actor}"[:255]
        )
        cleared = MasterTrade.objects.filter(pk__in=pks).update(cleared=True, updated_at=timezone.now())
        if cleared:
            audit_record(actor=actor, action="master_trades.cleared", details={"count": cleared})
        return cleared


def master_trades_expire() -> int:
    """Queued trades from an earlier market day can no longer be copied: NEW -> EXPIRED."""
    return MasterTrade.objects.filter(state=State.NEW, created_at__lt=selectors.market_day_start()).update(
        state=State.EXPIRED, note="Expired: from an earlier market day", updated_at=timezone.now()
    )
