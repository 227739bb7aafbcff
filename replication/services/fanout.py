"""Fan-out of a master order to followers (replicate, copy-selected, auto-replicate, admin "Copy").

One transaction writes the TradeEvent and one OrderMapping per target follower (SKIPPED with the rule's
reason, or PENDING with the scaled quantity); a follower quantity above the freeze quantity is one PENDING
mapping per slice, each with its own orderTag. One placement task per PENDING mapping is enqueued on
commit. The unique (master_order_id, follower, leg, slice_no) is the idempotency guard: a replay,
concurrent or not, returns the existing mappings and places nothing new (a follower with any ENTRY row is
never sliced again).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Field, QuerySet
from django.utils import timezone

from accounts.models import Account
from accounts.selectors import master_settings_get
from broker.instrument_store import UnknownInstrumentError, instrument_resolve
from broker.instruments import Instrument
from copytrade.core.exceptions import Conflict, NotFound
from replication import dispatch, risk, selectors
from replication.models import OrderMapping, TradeEvent, order_tag_for
from replication.services.capital import sizing_capitals
from replication.services.last_price import instrument_last_price
from replication.services.risk_snapshot import AccountState, follower_account_states

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TradeInput:
    """A validated master trade (the seed's `trade` object, normalised)."""

    id: str
    symbol: str
    side: str
    quantity: int
    exchange: str = "NSE"
    product_type: str = "MIS"
    order_type: str = "MARKET"
    price: Decimal | None = None
    trigger_price: Decimal | None = None


def trade_instrument(trade: TradeInput) -> Instrument:
    """The contract for the trade; 404 naming trade.symbol when the contract master does not know it."""
    try:
        return instrument_resolve(exchange=trade.exchange, symbol=trade.symbol)
    except UnknownInstrumentError as exc:
        raise NotFound(
            f"trade.symbol: {exc}", code="instrument_not_found", extra={"field": "trade.symbol"}
        ) from None


@dataclass
class FanOutResult:
    event: TradeEvent
    mappings: list[OrderMapping]
    created_ids: list[int] = field(default_factory=list)


def _decide(
    *, trade: TradeInput, instrument: Instrument, followers: list[Account]
) -> dict[int, risk.Decision]:
    master_settings = master_settings_get()
    limits = selectors.limits_from(master_settings)
    intent = risk.TradeIntent(
        symbol=trade.symbol,
        side=trade.side,
        quantity=trade.quantity,
        order_type=trade.order_type,
        product_type=trade.product_type,
        price=trade.price,
        trading_symbol=instrument.trading_symbol,
        lot_size=instrument.lot_size,
        underlying=instrument.symbol,
    )
    rules = {f.pk: selectors.follower_rules(account=f, master_settings=master_settings) for f in followers}
    # Capital sizing's capitals (read from the broker only when today's value is missing), before the rules.
    capitals = sizing_capitals(followers=followers, rules=rules, limits=limits)
    rules, intent = capitals.rules, replace(intent, master_capital=capitals.master_capital)
    # The copy window's clock and the price guard's last price: read once for the whole fan-out.
    now = timezone.now()
    last_price = (
        instrument_last_price(instrument=instrument)
        if risk.needs_last_price(intent, rules.values())
        else None
    )
    static = {
        pk: risk.evaluate_entry_static(
            trade=intent, rules=rule, limits=limits, now=now, last_price=last_price
        )
        for pk, rule in rules.items()
    }
    reaching = [f for f in followers if not static[f.pk].skipped]
    # P&L and opening cash come from fresh risk snapshots (no broker call), else are read live, and only for
    # followers that reach the loss rules with one of them set.
    states = follower_account_states(
        accounts=[f for f in reaching if risk.needs_positions(rules[f.pk], limits)],
        need_opening_cash=risk.needs_opening_cash(limits),
        opening_cash_known=capitals.opening_cash,
    )
    open_trades = (
        selectors.open_copied_trade_counts(
            follower_pks=[f.pk for f in reaching], limit=limits.max_concurrent_trades
        )
        if limits.max_concurrent_trades and reaching
        else {}
    )
    decisions = dict(static)
    for f in reaching:
        state = states.get(f.pk, AccountState())
        if state.session_expired:
            decisions[f.pk] = risk.Decision(reason=risk.REASON_SESSION_EXPIRED, notes=static[f.pk].notes)
            continue
        decisions[f.pk] = risk.evaluate_entry(
            trade=intent,
            rules=rules[f.pk],
            limits=limits,
            pnl_today=state.pnl_today,
            opening_cash=state.opening_cash,
            open_trades=open_trades.get(f.pk, 0),
            now=now,
            last_price=last_price,
        )
    return decisions


def _event_for_place(*, trade: TradeInput, instrument: Instrument, source: str) -> TradeEvent:
    key = f"PLACE:{trade.id}"
    event = TradeEvent.objects.filter(dedupe_key=key).first()
    if event is not None:
        return event
    return TradeEvent.objects.create(
        dedupe_key=key,
        master_order_id=trade.id,
        event_type=TradeEvent.EventType.PLACE,
        source=source,
        symbol=trade.symbol,
        trading_symbol=instrument.trading_symbol,
        token=instrument.token,
        exchange=trade.exchange,
        side=trade.side,
        quantity=trade.quantity,
        price=trade.price,
        trigger_price=trade.trigger_price,
        product_type=trade.product_type,
        order_type=trade.order_type,
        details={"lot_size": instrument.lot_size, "underlying": instrument.symbol},
    )


def trade_fan_out(
    *,
    trade: TradeInput,
    follower_ids: Sequence[str] | None = None,
    source: str = TradeEvent.Source.API,
) -> FanOutResult:
    """Write the event and every follower's ENTRY mapping in one transaction; enqueue placements on commit.

    `follower_ids` None means every active follower; given, every id must be a follower (FollowerNotFound,
    404, naming the unknown ones, and nothing written), and inactive ones are SKIPPED. Followers already
    mapped for this master order keep their mapping (idempotent replay). Everything is validated before the
    transaction, so nothing is half-written. Concurrent calls for the same order race on the unique
    constraints; the loser retries and finds the winner's rows.
    """
    instrument = trade_instrument(trade)
    copying_allowed_or_409()
    _replay_allowed(trade)
    if follower_ids is not None:
        selectors.followers_known_or_404(follower_ids=follower_ids)
    for _attempt in range(3):
        try:
            return _fan_out_once(
                trade=trade,
                instrument=instrument,
                follower_ids=follower_ids,
                source=source,
            )
        except IntegrityError:
            logger.info("fan-out of %s raced with another call; reading its rows", trade.id)
            time.sleep(0.05)
    return _fan_out_once(
        trade=trade,
        instrument=instrument,
        follower_ids=follower_ids,
        source=source,
    )


def copying_allowed_or_409() -> None:
    """Conflict (409, nothing written) while the operator's kill switch stops all new copying."""
    row = master_settings_get()
    if row.copying_stopped:
        since = row.copying_stopped_at.isoformat(timespec="seconds") if row.copying_stopped_at else "?"
        raise Conflict(
            f"Copying is stopped by the kill switch (since {since}, by {row.copying_stopped_by or '?'}): "
            "nothing was copied; resume copying to copy new trades",
            code="copying_stopped",
        )


@dataclass(frozen=True)
class PreviewRow:
    """What copying the trade would do for one follower, from the same rules the fan-out applies."""

    follower: Account
    quantity: int
    reason: str
    notes: tuple[str, ...]
    existing_status: str = ""  # the follower's mapping for this master order, when it has one
    slices: tuple[int, ...] = ()  # the order's slices when it is above the freeze quantity

    @property
    def ready(self) -> bool:
        return not self.reason and not self.existing_status

    @property
    def slice_text(self) -> str:
        """ "3 slices of 1800" (the last one the remainder) for an order above the freeze quantity."""
        if len(self.slices) < 2:
            return ""
        rest = f", last {self.slices[-1]}" if self.slices[-1] != self.slices[0] else ""
        return f"{len(self.slices)} slices of {self.slices[0]}{rest}"


def trade_fan_out_preview(*, trade: TradeInput) -> list[PreviewRow]:
    """A dry run of the fan-out for every follower (any status): quantity or skip reason; nothing is written
    and no order is sent (the loss rules may read the follower's positions, as the fan-out would)."""
    instrument = trade_instrument(trade)
    every = Account.objects.filter(role=Account.Role.FOLLOWER).values_list("account_id", flat=True)
    followers = list(selectors.followers_for_fanout(follower_ids=every))
    existing = dict(
        OrderMapping.objects.filter(master_order_id=trade.id, leg=OrderMapping.Leg.ENTRY).values_list(
            "follower_id", "status"
        )
    )
    decisions = _decide(trade=trade, instrument=instrument, followers=followers) if followers else {}
    sliced = _sliced(decisions, instrument=instrument)
    return [
        PreviewRow(
            follower=f,
            quantity=sliced[f.pk][0].quantity,
            reason=sliced[f.pk][0].reason,
            notes=sliced[f.pk][0].notes,
            existing_status=existing.get(f.pk, ""),
            slices=tuple(sliced[f.pk][1]),
        )
        for f in followers
    ]


def _sliced(
    decisions: dict[int, risk.Decision], *, instrument: Instrument
) -> dict[int, tuple[risk.Decision, list[int]]]:
    """Each follower's decision with its slices (caps applied before: they bound the follower's total); a
    freeze quantity below one lot skips the follower."""
    if not decisions:
        return {}
    freeze = selectors.instrument_freeze_quantity(instrument=instrument)
    lot = instrument.lot_size
    sliced: dict[int, tuple[risk.Decision, list[int]]] = {}
    for pk, decision in decisions.items():
        if decision.skipped:
            sliced[pk] = (decision, [])
            continue
        slices = risk.slice_quantities(decision.quantity, freeze, lot)
        if not slices:
            reason = risk.freeze_skip_reason(freeze_quantity=freeze, lot_size=lot)
            sliced[pk] = (risk.Decision(reason=reason, notes=decision.notes), [])
        elif len(slices) > 1:
            note = f"sent as {len(slices)} slices (freeze quantity {freeze})"
            # the price guard's MARKET and the after-market flag apply to every slice
            sliced[pk] = (replace(decision, notes=(*decision.notes, note)), slices)
        else:
            sliced[pk] = (decision, slices)
    return sliced


_REPLAY_FIELDS = ("symbol", "exchange", "side", "quantity", "product_type", "order_type")


def _replay_allowed(trade: TradeInput) -> None:
    """A replay must be the same trade, and never after the master order was exited (Conflict otherwise).

    Identical replays are idempotent (existing results, new followers placed); a replay with other details
    would size late followers on a different trade, and one after an exit would open positions the master
    has closed.
    """
    if TradeEvent.objects.filter(dedupe_key=f"EXIT:{trade.id}").exists():
        raise Conflict(
            f"Master order {trade.id} was exited; replicating it again would open new positions",
            code="trade_exited",
            extra={"field": "trade.id"},
        )
    event = TradeEvent.objects.filter(dedupe_key=f"PLACE:{trade.id}").first()
    if event is None:
        return
    differences = [
        f"{name} {getattr(event, name)} != {getattr(trade, name)}"
        for name in _REPLAY_FIELDS
        if str(getattr(event, name)).upper() != str(getattr(trade, name)).upper()
    ]
    if differences:
        raise Conflict(
            f"Trade {trade.id} was already replicated with other details ({'; '.join(differences)})",
            code="trade_conflict",
            extra={"field": "trade"},
        )


def _fan_out_once(
    *,
    trade: TradeInput,
    instrument: Instrument,
    follower_ids: Sequence[str] | None,
    source: str,
) -> FanOutResult:
    followers = list(selectors.followers_for_fanout(follower_ids=follower_ids))
    mapped = set(
        OrderMapping.objects.filter(master_order_id=trade.id, leg=OrderMapping.Leg.ENTRY).values_list(
            "follower_id", flat=True
        )
    )
    new_followers = [f for f in followers if f.pk not in mapped]
    # Rules may read positions from the broker: done before the transaction, never inside it.
    decisions = _decide(trade=trade, instrument=instrument, followers=new_followers) if new_followers else {}
    sliced = _sliced(decisions, instrument=instrument)
    with transaction.atomic():
        event = _event_for_place(trade=trade, instrument=instrument, source=source)
        rows = _mapping_rows(
            event=event, trade=trade, instrument=instrument, followers=new_followers, decisions=sliced
        )
        _rows_insert(rows)
        _ids_assign(rows)
        pending = [row.pk for row in rows if row.status == OrderMapping.Status.PENDING]
        dispatch.placement_batches_enqueue(pending)
    # The answer is the rows just written (as written) and, on a replay, the existing ones (read after the
    # commit has released the placements, off their critical path).
    created = rows
    existing: list[OrderMapping] = []
    if mapped:
        scope = [f.pk for f in followers] if follower_ids is not None else None
        created_tags = {row.order_tag for row in rows}
        existing = [m for m in _scoped_mappings(trade.id, scope) if m.order_tag not in created_tags]
    mappings = sorted([*created, *existing], key=lambda m: (m.follower.account_id, m.slice_no))
    for m in created:
        if m.status == OrderMapping.Status.SKIPPED:
            logger.info(
                "[REPLICATE] mapping %s follower %s SKIPPED: %s", m.pk, m.follower.account_id, m.reason
            )
        else:  # the worker logs each placement; at 1,000 followers these lines cost the request's CPU
            logger.debug(
                "[REPLICATE] mapping %s follower %s PENDING quantity %s (tag %s)",
                m.pk,
                m.follower.account_id,
                m.quantity,
                m.order_tag,
            )
    logger.info(
        "[REPLICATE] event %s master order %s: %d new mappings (%d to place), %d existing",
        event.event_id,
        trade.id,
        len(created),
        len(pending),
        len(mappings) - len(created),
    )
    return FanOutResult(event=event, mappings=mappings, created_ids=[m.pk for m in created])


def _rows_insert(rows: list[OrderMapping]) -> None:
    """INSERT the new mappings in one executemany (one multi-row statement on MySQL/MariaDB).

    Values are prepared as Django saves them (`get_db_prep_save`), once per distinct value of a column
    (most columns carry the trade's values, the same on every row), and the rows share one timestamp.
    `bulk_create` compiled every value of every row, a third of the request's CPU at 100 followers. Ids
    are assigned afterwards (`_ids_assign`).
    """
    if not rows:
        return
    fields = [f for f in OrderMapping._meta.concrete_fields if not f.primary_key]
    now = timezone.now()
    for column in fields:
        if getattr(column, "auto_now", False) or getattr(column, "auto_now_add", False):
            for row in rows:
                setattr(row, column.attname, now)
    prepared: dict[tuple[int, type, Any], Any] = {}

    def prepare(index: int, column: Field, value: Any) -> Any:
        try:
            key = (index, type(value), value)
            return prepared[key]
        except KeyError:
            prepared[key] = column.get_db_prep_save(value, connection)
            return prepared[key]
        except TypeError:  # unhashable (a JSON value): prepared each time
            return column.get_db_prep_save(value, connection)

    params = [
        tuple(prepare(index, column, getattr(row, column.attname)) for index, column in enumerate(fields))
        for row in rows
    ]
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(OrderMapping._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608 - model identifiers, values are parameters
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
    for row in rows:
        row._state.adding = False
        row._state.db = connection.alias


def _ids_assign(rows: list[OrderMapping]) -> None:
    """Give the rows just inserted their ids: the insert returns them where the database can (PostgreSQL,
    SQLite), else one query reads them by their unique order tags (MySQL/MariaDB)."""
    missing = {row.order_tag: row for row in rows if row.pk is None}
    if not missing:
        return
    for tag, pk in OrderMapping.objects.filter(order_tag__in=list(missing)).values_list("order_tag", "pk"):
        missing[tag].pk = pk
    unassigned = [tag for tag, row in missing.items() if row.pk is None]
    if unassigned:
        raise RuntimeError(f"{len(unassigned)} inserted mappings not found by their order tag")


def _scoped_mappings(master_order_id: str, follower_pks: list[int] | None) -> QuerySet[OrderMapping]:
    queryset = selectors.entry_mappings(master_order_id=master_order_id)
    if follower_pks is not None:
        queryset = queryset.filter(follower_id__in=follower_pks)
    return queryset


def _mapping_rows(
    *,
    event: TradeEvent,
    trade: TradeInput,
    instrument: Instrument,
    followers: list[Account],
    decisions: dict[int, tuple[risk.Decision, list[int]]],
) -> list[OrderMapping]:
    """One ENTRY mapping per follower (one per slice of a sliced follower), unsaved. Built from positional
    values (every column, defaults where the trade sets nothing), Django's fast path: keyword construction of
    30 columns per row was a tenth of the request's CPU at 100 followers."""
    fields = OrderMapping._meta.concrete_fields
    common = {field.attname: field.get_default() for field in fields}
    common.update(
        trade_event_id=event.pk,
        master_order_id=trade.id,
        leg=OrderMapping.Leg.ENTRY,
        symbol=trade.symbol,
        trading_symbol=instrument.trading_symbol,
        token=instrument.token,
        exchange=trade.exchange,
        side=trade.side,
        price=trade.price,
        trigger_price=trade.trigger_price,
        product_type=trade.product_type,
        order_type=trade.order_type,
    )
    follower_field, event_field = OrderMapping.follower.field, OrderMapping.trade_event.field
    rows = []
    for follower in followers:
        decision, slices = decisions[follower.pk]
        for slice_no, quantity in enumerate(slices or [decision.quantity]):
            values = {
                **common,
                "follower_id": follower.pk,
                "slice_no": slice_no,
                "slice_count": max(len(slices), 1),
                "order_tag": order_tag_for(
                    master_order_id=trade.id,
                    follower_pk=follower.pk,
                    leg=OrderMapping.Leg.ENTRY,
                    slice_no=slice_no,
                ),
                "quantity": quantity,
                "status": OrderMapping.Status.SKIPPED if decision.skipped else OrderMapping.Status.PENDING,
                "reason": decision.reason,
                "reason_code": OrderMapping.ReasonCode.RULE
                if decision.skipped
                else OrderMapping.ReasonCode.NONE,
                "note": "; ".join(decision.notes)[:255],
                "amo": decision.amo,
            }
            if decision.order_type:  # the price guard sends a stale LIMIT as MARKET: no price
                values.update(order_type=decision.order_type, price=None)
            row = OrderMapping(*[values[field.attname] for field in fields])  # type: ignore[misc]  # positional
            follower_field.set_cached_value(row, follower)
            event_field.set_cached_value(row, event)
            rows.append(row)
    return rows
