"""Reads for the control panel (the admin dashboard, copy preview, results, exit confirmation, positions).

Everything here only reads: the database, and for positions the broker's position books (read calls inside
each account's budget); nothing is written and no order is sent.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from accounts.models import Account, BrokerCredential
from accounts.selectors import (
    account_broker_client,
    account_capital_today,
    credential_of,
    master_get_active,
    master_settings_get,
    session_state,
)
from broker.exceptions import BrokerError
from broker.instrument_store import UnknownInstrumentError, instrument_resolve
from broker.types import Position
from replication import risk, selectors, states
from replication.models import (
    CaptureStatus,
    FollowerRiskSnapshot,
    MasterTrade,
    OrderAction,
    OrderMapping,
    TradeEvent,
)
from replication.services.control import retry_refusal
from replication.services.fanout import PreviewRow

logger = logging.getLogger(__name__)

Status = states.MappingStatus
TODAY_LIMIT = 100
ATTENTION_LIMIT = 50
STUCK_AFTER = timedelta(seconds=60)


@dataclass
class Counts:
    success: int = 0
    skipped: int = 0
    failed: int = 0
    pending: int = 0

    def add(self, result: str) -> None:
        setattr(self, result.lower(), getattr(self, result.lower()) + 1)

    @property
    def total(self) -> int:
        return self.success + self.skipped + self.failed + self.pending


@dataclass
class TradeRow:
    """A master order on the dashboard: captured from the master, or entered through the API or the panel."""

    master_order_id: str
    at: datetime | None
    symbol: str
    side: str
    quantity: int
    price: Decimal | None
    order_type: str
    status: str
    state: str  # NEW / COPIED / DISMISSED / EXPIRED for a captured trade; "API" or "ADMIN" otherwise
    kind: str
    note: str
    counts: Counts = field(default_factory=Counts)
    exited: bool = False

    @property
    def waiting(self) -> bool:
        return self.state == MasterTrade.State.NEW

    @property
    def copyable(self) -> bool:
        return self.kind in ("", MasterTrade.Kind.ENTRY, MasterTrade.Kind.REVERSAL) and self.state not in (
            MasterTrade.State.DISMISSED,
            MasterTrade.State.EXPIRED,
        )


def _counts_by_order(master_order_ids: list[str]) -> dict[str, Counts]:
    """Per master order, its followers' entry outcomes: a follower's slices count once."""
    rows = OrderMapping.objects.filter(
        master_order_id__in=master_order_ids, leg=OrderMapping.Leg.ENTRY
    ).values_list("master_order_id", "follower_id", "status", "follower_order_id")
    counts: dict[str, Counts] = defaultdict(Counts)
    for (master_order_id, _), result in states.results_by_order(
        ((master_order_id, follower_pk), states.result_status(status, has_order_id=bool(order_id)))
        for master_order_id, follower_pk, status, order_id in rows
    ).items():
        counts[master_order_id].add(result)
    return counts


def master_trades_today() -> list[TradeRow]:
    """Today's master orders (Asia/Kolkata), newest first: captured trades, and trades replicated through the
    API or the panel's manual form, each with its followers' results counted."""
    since = selectors.market_day_start()
    rows: dict[str, TradeRow] = {}
    captured = MasterTrade.objects.filter(created_at__gte=since).order_by("-created_at", "-pk")[:TODAY_LIMIT]
    for trade in captured:
        rows.setdefault(
            trade.broker_order_id,
            TradeRow(
                master_order_id=trade.broker_order_id,
                at=trade.order_time or trade.created_at,
                symbol=trade.trading_symbol or trade.symbol,
                side=trade.side,
                quantity=trade.quantity,
                price=trade.average_price or trade.price,
                order_type=trade.order_type,
                status=trade.status or "—",
                state=trade.state,
                kind=trade.kind,
                note=trade.note,
            ),
        )
    events = TradeEvent.objects.filter(
        event_type=TradeEvent.EventType.PLACE, processed_at__gte=since
    ).order_by("-processed_at")[:TODAY_LIMIT]
    for event in events:
        if event.master_order_id in rows:
            continue
        rows[event.master_order_id] = TradeRow(
            master_order_id=event.master_order_id,
            at=event.processed_at,
            symbol=event.trading_symbol or event.symbol,
            side=event.side,
            quantity=event.quantity,
            price=event.price,
            order_type=event.order_type,
            status=event.status,
            state=event.source,
            kind="",
            note=event.message,
        )
    ids = list(rows)
    counts = _counts_by_order(ids)
    exited = set(
        TradeEvent.objects.filter(event_type=TradeEvent.EventType.EXIT, master_order_id__in=ids).values_list(
            "master_order_id", flat=True
        )
    )
    for row in rows.values():
        row.counts = counts.get(row.master_order_id, Counts())
        row.exited = row.master_order_id in exited
    ordered = sorted(rows.values(), key=lambda r: r.at or since, reverse=True)
    return ordered[:TODAY_LIMIT]


# ---------------------------------------------------------------- followers
@dataclass
class FollowerRow:
    account: Account
    session: str
    consent: bool
    enabled: bool
    stopped: bool
    multiplier: str
    day_pnl: Decimal | None
    max_daily_loss: Decimal | None
    blocker: str  # why a new entry would be skipped right now, "" when ready

    @property
    def ready(self) -> bool:
        return not self.blocker

    @property
    def loss_used(self) -> int | None:
        """Today's loss as a percentage of the daily loss limit (None without a limit or a P&L)."""
        if not self.max_daily_loss or self.day_pnl is None:
            return None
        return int(max(-self.day_pnl, Decimal(0)) * 100 / self.max_daily_loss)


def _multiplier(rules: risk.FollowerRules) -> str:
    if rules.sizing_mode == risk.FIXED_QTY:
        return f"fixed {rules.fixed_quantity}"
    overrides = len(rules.symbol_multipliers)
    per_symbol = f" (+{overrides} per symbol)" if overrides else ""
    if rules.sizing_mode == risk.CAPITAL:
        return f"capital × {risk.format_number(rules.lot_multiplier)}{per_symbol}"
    return f"{risk.format_number(rules.lot_multiplier)}×{per_symbol}"


def follower_readiness() -> list[FollowerRow]:
    """Every follower with what decides whether it gets the next entry (the rules' own switches)."""
    master_settings = master_settings_get()
    limits = selectors.limits_from(master_settings)
    snapshots = {s.follower_id: s for s in FollowerRiskSnapshot.objects.all()}
    followers = (
        Account.objects.filter(role=Account.Role.FOLLOWER)
        .select_related("credential", "risk_config", "consent")
        .order_by("account_id")
    )
    rows = []
    for follower in followers:
        rules = selectors.follower_rules(account=follower, master_settings=master_settings)
        credential = credential_of(follower)
        blocker = risk.entry_switch_reason(rules=rules, limits=limits)
        if not blocker and rules.session_status not in risk.SESSION_USABLE:
            blocker = "No usable broker session: log in with Alice Blue"
        snapshot = snapshots.get(follower.pk)
        rows.append(
            FollowerRow(
                account=follower,
                session=session_state(credential).value,
                consent=rules.consent_given,
                enabled=rules.enabled and rules.account_active,
                stopped=not rules.copy_trading_active,
                multiplier=_multiplier(rules),
                day_pnl=snapshot.day_pnl if snapshot is not None and snapshot.fetched_at else None,
                max_daily_loss=rules.max_daily_loss,
                blocker=blocker,
            )
        )
    return rows


# ---------------------------------------------------------------- needs attention
@dataclass
class AttentionRow:
    mapping: OrderMapping
    problem: str
    retry_refusal: str
    can_reconcile: bool


def needs_attention() -> tuple[list[AttentionRow], list[OrderAction]]:
    """Today's follower orders that need an operator (FAILED, UNKNOWN, REJECTED, or stuck before the broker
    answered), and today's exit/modify/cancel/close actions that failed."""
    since = selectors.market_day_start()
    stuck_before = timezone.now() - STUCK_AFTER
    mappings = (
        OrderMapping.objects.filter(created_at__gte=since)
        .filter(
            Q(status__in=states.NEEDS_ATTENTION)
            | Q(status__in=(Status.PENDING, Status.SUBMITTING), updated_at__lt=stuck_before)
        )
        .select_related("follower")
        .order_by("-updated_at")[:ATTENTION_LIMIT]
    )
    rows = []
    for mapping in mappings:
        problem = mapping.status
        if mapping.status in (Status.PENDING, Status.SUBMITTING):
            problem = f"stuck {mapping.status}"
        rows.append(
            AttentionRow(
                mapping=mapping,
                problem=problem,
                retry_refusal=retry_refusal(mapping),
                can_reconcile=mapping.status == Status.UNKNOWN,
            )
        )
    actions = list(
        OrderAction.objects.filter(created_at__gte=since, status=states.ActionStatus.FAILED)
        .select_related("trade_event", "mapping__follower")
        .order_by("-updated_at")[:ATTENTION_LIMIT]
    )
    return rows, actions


# ---------------------------------------------------------------- results
@dataclass
class ResultRow:
    follower_id: str
    leg: str
    status: str  # SUCCESS / SKIPPED / FAILED / PENDING
    mapping_status: str
    quantity: int
    executed_quantity: int
    reason: str
    follower_order_id: str
    slice: str = ""  # "2/3": the second of three slices of an order above the freeze quantity


@dataclass
class Results:
    master_order_id: str
    event: TradeEvent | None
    rows: list[ResultRow]
    exit_actions: list[OrderAction]
    final: bool
    exited: bool = False

    @property
    def counts(self) -> Counts:
        counts = Counts()
        for result in states.results_by_order(  # a follower's slices count once
            (row.follower_id, row.status) for row in self.rows if row.leg == OrderMapping.Leg.ENTRY
        ).values():
            counts.add(result)
        return counts


def order_results(*, master_order_id: str) -> Results:
    """Per follower, what copying (and exiting) the master order did; final once nothing is in flight."""
    mappings = (
        OrderMapping.objects.filter(master_order_id=master_order_id)
        .select_related("follower")
        .order_by("leg", "follower__account_id", "slice_no", "pk")
    )
    rows = [
        ResultRow(
            follower_id=m.follower.account_id,
            leg=m.leg,
            status=states.result_status(m.status, has_order_id=bool(m.follower_order_id)),
            mapping_status=m.status,
            quantity=m.quantity,
            executed_quantity=m.executed_quantity,
            reason=m.reason or m.note,
            follower_order_id=m.follower_order_id,
            slice=m.slice_label,
        )
        for m in mappings
    ]
    event = TradeEvent.objects.filter(dedupe_key=f"{TradeEvent.EventType.PLACE}:{master_order_id}").first()
    actions = list(
        OrderAction.objects.filter(trade_event__master_order_id=master_order_id)
        .exclude(trade_event__event_type=TradeEvent.EventType.PLACE)
        .select_related("trade_event", "mapping__follower")
        .order_by("trade_event_id", "pk")
    )
    in_flight = any(row.status == "PENDING" for row in rows) or any(
        action.status in (states.ActionStatus.PENDING, states.ActionStatus.RUNNING) for action in actions
    )
    return Results(
        master_order_id=master_order_id,
        event=event,
        rows=rows,
        exit_actions=actions,
        final=bool(rows or actions) and not in_flight,
        exited=TradeEvent.objects.filter(
            dedupe_key=f"{TradeEvent.EventType.EXIT}:{master_order_id}"
        ).exists(),
    )


@dataclass
class ExitPlanRow:
    follower_id: str
    status: str
    quantity: int
    executed_quantity: int
    plan: str


def exit_plan(*, master_order_id: str) -> list[ExitPlanRow]:
    """What exiting the master order will do per follower, from the copies as recorded now."""
    plan = []
    for entry in selectors.entry_mappings(master_order_id=master_order_id):
        filled, left = entry.executed_quantity, max(entry.quantity - entry.executed_quantity, 0)
        if entry.status in states.IN_FLIGHT:
            text = "being placed: cancelled, or squared off once it fills"
        elif entry.status in states.OPEN_AT_BROKER:
            text = (
                f"cancel what is still open, square off what filled ({filled} of {entry.quantity} filled "
                f"when last read, {left} open)"
            )
        elif entry.status == Status.COMPLETED:
            text = f"square off {filled}"
        else:
            text = f"nothing: {entry.status.lower()}"
        if entry.slice_label:
            text = f"slice {entry.slice_label}: {text}"
        plan.append(
            ExitPlanRow(
                follower_id=entry.follower.account_id,
                status=entry.status,
                quantity=entry.quantity,
                executed_quantity=filled,
                plan=text,
            )
        )
    return plan


# ---------------------------------------------------------------- positions
@dataclass
class FollowerPosition:
    follower: Account
    expected: int | None  # the master's net position scaled by the follower's sizing
    copied: int  # filled from copytrade's own orders for this master
    actual: int | None  # at the broker; None when the position book could not be read

    @property
    def drift(self) -> bool:
        return self.actual is not None and self.expected is not None and self.actual != self.expected


@dataclass
class PositionRow:
    exchange: str
    trading_symbol: str
    product: str
    master: int | None
    followers: list[FollowerPosition]

    @property
    def drifting(self) -> bool:
        return any(f.drift for f in self.followers)


@dataclass
class PositionsOverview:
    rows: list[PositionRow]
    master: Account | None
    followers: list[Account]
    errors: dict[str, str]  # account id -> why its positions could not be read
    open_trades: dict[str, int]  # follower account id -> open copied trades today
    read_at: datetime


def _positions_of(account: Account, errors: dict[str, str]) -> dict[tuple[str, str, str], int] | None:
    state = session_state(credential_of(account))
    if state in (BrokerCredential.SessionStatus.EXPIRED, BrokerCredential.SessionStatus.MISSING):
        errors[account.account_id] = f"session {state.value.lower()}"
        return None
    try:
        positions: list[Position] = account_broker_client(account=account).positions()
    except BrokerError as exc:
        errors[account.account_id] = f"positions unreadable ({type(exc).__name__})"
        return None
    except Exception:  # a credential that cannot be decrypted, say: shown, never a 500 on the panel
        logger.exception("positions of %s unreadable", account.account_id)
        errors[account.account_id] = "positions unreadable"
        return None
    return {(p.exchange, p.trading_symbol, str(p.product)): p.net_quantity for p in positions}


def _scaled(
    net: int,
    trading_symbol: str,
    product: str,
    rules: risk.FollowerRules,
    limits: risk.GlobalLimits,
    instrument: tuple[int, str],
    master_capital: Decimal | None,
) -> int | None:
    """The master's net position as the follower's rules would have copied it: sized, and 0 where its allowed
    instruments or products exclude it (its switches, session and copy window are left out: they change by
    the day or the hour); None where capital sizing lacks today's capitals (no broker read here)."""
    if not net:
        return 0
    if risk.capital_unknown_reason(rules=rules, master_capital=master_capital):
        return None
    lot_size, underlying = instrument
    copying = replace(
        rules,
        account_active=True,
        copy_trading_active=True,
        consent_given=True,
        enabled=True,
        session_status=risk.SESSION_VALID,
        max_order_value=None,
        allowed_order_types=(),
    )
    intent = risk.TradeIntent(
        symbol=trading_symbol.removesuffix("-EQ"),
        side="BUY" if net > 0 else "SELL",
        quantity=abs(net),
        product_type=product,
        trading_symbol=trading_symbol,
        lot_size=lot_size,
        underlying=underlying,
        master_capital=master_capital,
    )
    decision = risk.evaluate_entry_static(
        trade=intent, rules=copying, limits=replace(limits, copying_stopped=False, enforce_copy_window=False)
    )
    return decision.quantity if net > 0 else -decision.quantity


def _lot_and_underlying(exchange: str, trading_symbol: str) -> tuple[int, str]:
    try:
        instrument = instrument_resolve(exchange=exchange, symbol=trading_symbol)
    except UnknownInstrumentError:
        return 1, ""
    return instrument.lot_size, instrument.symbol


def positions_overview() -> PositionsOverview:
    """The master's open positions beside each follower's: expected from its sizing, copied by copytrade, and
    actual at the broker (read now), with the differences marked as drift."""
    errors: dict[str, str] = {}
    master = master_get_active()
    master_book = _positions_of(master, errors) if master is not None else {}
    followers = list(
        Account.objects.filter(role=Account.Role.FOLLOWER)
        .select_related("credential", "risk_config", "consent")
        .order_by("account_id")
    )
    books = {f.pk: _positions_of(f, errors) for f in followers}
    keys = {key for key, net in (master_book or {}).items() if net}
    for book in books.values():
        keys.update(key for key, net in (book or {}).items() if net)
    master_settings = master_settings_get()
    limits = selectors.limits_from(master_settings)
    rules = {f.pk: selectors.follower_rules(account=f, master_settings=master_settings) for f in followers}
    master_capital = account_capital_today(master) if master is not None else None
    rows = []
    for exchange, trading_symbol, product in sorted(keys):
        master_net = None if master_book is None else master_book.get((exchange, trading_symbol, product), 0)
        instrument = _lot_and_underlying(exchange, trading_symbol)
        cells = []
        for f in followers:
            book = books[f.pk]
            held = selectors.follower_holding(
                follower_pk=f.pk, exchange=exchange, trading_symbol=trading_symbol, product_type=product
            )
            cells.append(
                FollowerPosition(
                    follower=f,
                    expected=(
                        None
                        if master_net is None
                        else _scaled(
                            master_net,
                            trading_symbol,
                            product,
                            rules[f.pk],
                            limits,
                            instrument,
                            master_capital,
                        )
                    ),
                    copied=held.filled,
                    actual=None if book is None else book.get((exchange, trading_symbol, product), 0),
                )
            )
        rows.append(PositionRow(exchange, trading_symbol, product, master_net, cells))
    open_counts = selectors.open_copied_trade_counts(follower_pks=[f.pk for f in followers])
    return PositionsOverview(
        rows=rows,
        master=master,
        followers=followers,
        errors=errors,
        open_trades={f.account_id: open_counts.get(f.pk, 0) for f in followers},
        read_at=timezone.now(),
    )


def square_off_plan(*, follower_pks: list[int] | None) -> dict[str, list[str]]:
    """Per follower account id, the master orders whose copies squaring off would exit now."""
    held = selectors.open_copied_trades_by_follower(follower_pks=follower_pks)
    return {follower.account_id: orders for follower, orders in held.items()}


# ---------------------------------------------------------------- copy preview and capture
@dataclass
class PreviewLine:
    """One follower on the copy page: what copying would give it, from the fan-out's own rules."""

    follower: Account
    multiplier: str
    quantity: int
    reason: str
    notes: str
    existing_status: str
    ready: bool
    slices: str = ""  # "2 slices of 1800" when the order is above the freeze quantity


def preview_lines(rows: list[PreviewRow]) -> list[PreviewLine]:
    master_settings = master_settings_get()
    rules = {
        row.follower.pk: selectors.follower_rules(account=row.follower, master_settings=master_settings)
        for row in rows
    }
    return [
        PreviewLine(
            follower=row.follower,
            multiplier=_multiplier(rules[row.follower.pk]),
            quantity=row.quantity,
            reason=row.reason,
            notes="; ".join(row.notes),
            existing_status=row.existing_status,
            ready=row.ready,
            slices=row.slice_text,
        )
        for row in rows
    ]


def capture_overview() -> dict[str, object]:
    """The master's capture health for the dashboard: /api/health's block plus when each way last ran."""
    master = master_get_active()
    status = {row.kind: row for row in CaptureStatus.objects.filter(account=master)} if master else {}
    return {
        "master": master,
        "health": selectors.capture_health(),
        "stream": status.get(CaptureStatus.Kind.STREAM),
        "poll": status.get(CaptureStatus.Kind.POLL),
        "auto_replicate": master_settings_get().auto_replicate_new_trades,
    }
