"""Reads of the replication app: fan-out targets and their rules, mappings, events, open trades, waits."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as dt_time
from decimal import Decimal
from typing import TypedDict, TypeVar
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import Count, Exists, Model, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.exceptions import CredentialUnreadable, FollowerNotFound
from accounts.models import Account, BrokerCredential, Consent, MasterSettings, RiskConfig
from accounts.selectors import account_capital_today, credential_session_token, master_settings_get
from broker.instrument_store import UnknownInstrumentError, instrument_resolve
from broker.instruments import Instrument
from replication import risk, states
from replication.closing import Holding
from replication.models import (
    CaptureStatus,
    FreezeQuantity,
    MasterTrade,
    OrderAction,
    OrderMapping,
    TradeEvent,
)

Status = states.MappingStatus
M = TypeVar("M", bound=Model)


# What deciding and placing an order never reads: loading them cost a third of the per-follower load time
# (timestamps converted, secrets wrapped). Reading one later costs a query per row, so the fan-out and the
# placement batch tests count queries for a growing number of followers.
_NOT_FOR_ORDERS = (
    "created_at",
    "updated_at",
    "stopped_at",
    "stopped_by",
    *(f"{related}__created_at" for related in ("credential", "risk_config", "consent")),
    *(f"{related}__updated_at" for related in ("credential", "risk_config", "consent")),
    "credential__api_key",
    "credential__api_secret",
    "credential__pending_session_token",
    "credential__pending_since",
    "credential__session_obtained_at",
    "credential__last_error",
    "consent__consent_given_at",
    "consent__consent_token",
    "consent__ip_address",
    "consent__user_agent",
    "consent__terms_version",
    "consent__recorded_by",
)


def followers_with_rules() -> QuerySet[Account]:
    """Accounts with what the rules and the placement read (credential, risk config, consent), and no more."""
    return Account.objects.select_related("credential", "risk_config", "consent").defer(*_NOT_FOR_ORDERS)


def followers_for_fanout(*, follower_ids: Iterable[str] | None = None) -> QuerySet[Account]:
    """Every active follower, or the followers among `follower_ids` whatever their status (an inactive one
    selected by name is SKIPPED with its reason), with credential, risk config and consent."""
    queryset = followers_with_rules().filter(role=Account.Role.FOLLOWER)
    if follower_ids is None:
        queryset = queryset.filter(status=Account.Status.ACTIVE)
    else:
        queryset = queryset.filter(account_id__in=list(follower_ids))
    return queryset.order_by("account_id")


def followers_known_or_404(*, follower_ids: Iterable[str]) -> None:
    """FollowerNotFound (404) naming every id that is not a follower."""
    wanted = list(follower_ids)
    known = set(
        Account.objects.filter(role=Account.Role.FOLLOWER, account_id__in=wanted).values_list(
            "account_id", flat=True
        )
    )
    unknown = [follower_id for follower_id in wanted if follower_id not in known]
    if unknown:
        raise FollowerNotFound(
            f"Unknown followers: {', '.join(unknown[:20])}{' ...' if len(unknown) > 20 else ''}",
            extra={"follower_ids": unknown},
        )


def _related(account: Account, name: str, model: type[M]) -> M | None:
    try:
        return getattr(account, name)
    except model.DoesNotExist:  # type: ignore[attr-defined]  # only concrete models have it, so Model lacks it
        return None


class _Switches(TypedDict):
    account_active: bool
    copy_trading_active: bool
    consent_given: bool
    session_status: str


def follower_rules(*, account: Account, master_settings: MasterSettings) -> risk.FollowerRules:
    """The follower's rules, flattened; a missing risk config means the seed's defaults."""
    config: RiskConfig | None = _related(account, "risk_config", RiskConfig)
    consent: Consent | None = _related(account, "consent", Consent)
    credential: BrokerCredential | None = _related(account, "credential", BrokerCredential)
    try:
        token = credential_session_token(credential)
    except CredentialUnreadable:
        session_status = risk.SESSION_UNREADABLE
    else:
        session_status = (
            credential.session_status
            if credential is not None and token
            else BrokerCredential.SessionStatus.MISSING.value
        )
    base: _Switches = {
        "account_active": account.status == Account.Status.ACTIVE,
        "copy_trading_active": account.copy_trading_active,
        "consent_given": bool(consent and consent.trade_replication_enabled),
        "session_status": session_status,
    }
    if config is None:
        return risk.FollowerRules(**base, lot_multiplier=Decimal(master_settings.default_lot_multiplier))
    return risk.FollowerRules(
        **base,
        enabled=config.enabled,
        sizing_mode=config.sizing_mode,
        lot_multiplier=Decimal(config.lot_multiplier),
        symbol_multipliers={k: Decimal(m) for k, m in (config.symbol_multipliers or {}).items()},
        capital=account_capital_today(account) if config.sizing_mode == risk.CAPITAL else None,
        fixed_quantity=config.fixed_quantity,
        max_quantity=config.max_quantity,
        max_order_value=config.max_order_value,
        max_daily_loss=config.max_daily_loss,
        allowed_instruments=tuple(config.allowed_instruments or ()),
        allowed_product_types=tuple(config.allowed_product_types or ()),
        allowed_order_types=tuple(config.allowed_order_types or ()),
        window_start=config.window_start,
        window_end=config.window_end,
        price_guard_percent=config.price_guard_percent,
        price_guard_action=config.price_guard_action,
    )


def limits_from(row: MasterSettings) -> risk.GlobalLimits:
    return risk.GlobalLimits(
        max_quantity_per_trade=row.max_quantity_per_trade,
        min_lot_size=row.min_lot_size,
        require_consent=settings.COPYTRADE_REQUIRE_CONSENT,
        max_daily_loss_percentage=row.max_daily_loss_percentage,
        max_concurrent_trades=row.max_concurrent_trades,
        copying_stopped=row.copying_stopped,
        enforce_copy_window=row.enforce_copy_window,
        allow_amo=row.allow_amo,
        extra_closed_days=_dates(row.extra_closed_days),
        extra_trading_days=_dates(row.extra_trading_days),
    )


def _dates(values: list[str] | None) -> tuple[date, ...]:
    return tuple(date.fromisoformat(value) for value in values or ())


def global_limits() -> risk.GlobalLimits:
    return limits_from(master_settings_get())


def instrument_freeze_quantity(*, instrument: Instrument) -> int | None:
    """The freeze quantity of the instrument: the contract master's, else the operator's table by (exchange,
    underlying symbol), else None (no limit)."""
    table: dict[tuple[str, str], int] = {}
    if not instrument.freeze_quantity:
        rows = FreezeQuantity.objects.filter(
            exchange=instrument.exchange.upper(), symbol=instrument.symbol.upper()
        ).values_list("exchange", "symbol", "freeze_quantity")
        table = {(exchange, symbol): freeze for exchange, symbol, freeze in rows}
    return risk.freeze_quantity_for(
        contract_freeze=instrument.freeze_quantity,
        operator_freeze=table,
        exchange=instrument.exchange,
        symbol=instrument.symbol,
    )


def mapping_freeze_quantity(*, mapping: OrderMapping) -> tuple[int | None, int]:
    """(freeze quantity, lot size) of a mapping's instrument; (None, 1) when the contract master no longer
    knows it (then nothing is sliced)."""
    try:
        instrument = instrument_resolve(
            exchange=mapping.exchange, symbol=mapping.trading_symbol or mapping.symbol
        )
    except UnknownInstrumentError:
        return None, 1
    return instrument_freeze_quantity(instrument=instrument), instrument.lot_size


def entry_mappings(*, master_order_id: str) -> QuerySet[OrderMapping]:
    return (
        OrderMapping.objects.filter(master_order_id=master_order_id, leg=OrderMapping.Leg.ENTRY)
        .select_related("follower")
        .order_by("follower__account_id", "slice_no")
    )


def mirror_mappings(*, master_order_id: str) -> QuerySet[OrderMapping]:
    """The follower orders that mirror a master order: its ENTRY copies and the CLOSE shares it caused (what a
    master modify or cancel of that order applies to; EXIT legs square positions off and are not mirrors)."""
    return (
        OrderMapping.objects.filter(
            master_order_id=master_order_id, leg__in=(OrderMapping.Leg.ENTRY, OrderMapping.Leg.CLOSE)
        )
        .select_related("follower")
        .order_by("follower__account_id", "leg", "slice_no")
    )


# ---------------------------------------------------------------- positions counted from orders
# Intraday positions end with the day (the broker squares them off), so only today's orders count for them.
INTRADAY_PRODUCTS = ("MIS",)
MASTER_OPEN_STATUSES = ("PENDING", "OPEN", "TRIGGER_PENDING", "UNKNOWN")


def _position_since(product_type: str) -> datetime | None:
    return market_day_start() if product_type.upper() in INTRADAY_PRODUCTS else None


def _holding(rows: Iterable[tuple[str, int, int, bool]]) -> Holding:
    filled = open_buy = open_sell = 0
    for side, quantity, done, is_open in rows:
        buy = side == "BUY"
        filled += done if buy else -done
        if is_open:
            remaining = max(quantity - done, 0)
            open_buy += remaining if buy else 0
            open_sell += 0 if buy else remaining
    return Holding(filled=filled, open_buy=open_buy, open_sell=open_sell)


def master_holding(
    *, account_pk: int, exchange: str, trading_symbol: str, product_type: str, exclude_pk: int | None = None
) -> Holding:
    """The master's position in one instrument and product, from the orders captured (copytrade's own
    excepted)."""
    queryset = MasterTrade.objects.filter(
        account_id=account_pk, exchange=exchange, trading_symbol=trading_symbol, product_type=product_type
    ).exclude(kind=MasterTrade.Kind.OWN)
    since = _position_since(product_type)
    if since is not None:
        queryset = queryset.filter(created_at__gte=since)
    if exclude_pk is not None:
        queryset = queryset.exclude(pk=exclude_pk)
    return _holding(
        (side, quantity, filled, status in MASTER_OPEN_STATUSES)
        for side, quantity, filled, status in queryset.values_list(
            "side", "quantity", "filled_quantity", "status"
        )
    )


def follower_instrument_mappings(
    *, follower_pk: int, exchange: str, trading_symbol: str, product_type: str
) -> QuerySet[OrderMapping]:
    """The follower's orders from copytrade in one instrument and product (every leg), in the position's
    scope."""
    queryset = OrderMapping.objects.filter(
        follower_id=follower_pk, exchange=exchange, trading_symbol=trading_symbol, product_type=product_type
    )
    since = _position_since(product_type)
    return queryset.filter(created_at__gte=since) if since is not None else queryset


def follower_holding(
    *,
    follower_pk: int,
    exchange: str,
    trading_symbol: str,
    product_type: str,
    before: TradeEvent | None = None,
) -> Holding:
    """The follower's position from copies of the master in one instrument and product: filled quantities, and
    the open or in-flight orders that may still fill.

    `before` (a close event) asks for the position that master order acts on: without the orders of its own
    master order (a reversal's entry part) and without entries of later master orders; every exit and close
    counts (they only ever reduce, so counting one too many can make a close smaller, never a reversal).
    """
    queryset = follower_instrument_mappings(
        follower_pk=follower_pk, exchange=exchange, trading_symbol=trading_symbol, product_type=product_type
    )
    if before is not None:
        queryset = queryset.exclude(master_order_id=before.master_order_id).exclude(
            leg=OrderMapping.Leg.ENTRY, trade_event_id__gt=before.pk
        )
    rows = queryset.values_list("side", "quantity", "executed_quantity", "status")
    open_statuses = (*states.IN_FLIGHT, *states.OPEN_AT_BROKER)
    return _holding((side, quantity, done, status in open_statuses) for side, quantity, done, status in rows)


def followers_holding_instrument(*, exchange: str, trading_symbol: str, product_type: str) -> dict[int, int]:
    """Followers that hold (or may hold) a position from copies in the instrument: follower pk -> the pk of
    their latest order there that may hold a position (the anchor of a close action)."""
    queryset = OrderMapping.objects.filter(
        exchange=exchange,
        trading_symbol=trading_symbol,
        product_type=product_type,
        status__in=states.MAY_HOLD_POSITION,
    )
    since = _position_since(product_type)
    if since is not None:
        queryset = queryset.filter(created_at__gte=since)
    latest: dict[int, int] = {}
    for follower_pk, pk in queryset.order_by("follower_id", "pk").values_list("follower_id", "pk"):
        latest[follower_pk] = pk
    return latest


def master_trades_incoming(*, state: str | None = None) -> QuerySet[MasterTrade]:
    """The operator's queue: captured master trades not cleared, newest first (copytrade's own left out)."""
    queryset = (
        MasterTrade.objects.filter(cleared=False)
        .exclude(kind=MasterTrade.Kind.OWN)
        .select_related("account")
        .order_by("-created_at", "-pk")
    )
    return queryset.filter(state=state) if state else queryset


def mappings_list(*, filters: dict[str, str] | None = None) -> QuerySet[OrderMapping]:
    """Mappings newest first, filtered by masterOrderId, followerId, status, leg."""
    filters = filters or {}
    queryset = OrderMapping.objects.select_related("follower").order_by("-created_at", "-id")
    if filters.get("masterOrderId"):
        queryset = queryset.filter(master_order_id=filters["masterOrderId"])
    if filters.get("followerId"):
        queryset = queryset.filter(follower__account_id=filters["followerId"])
    if filters.get("status"):
        queryset = queryset.filter(status=filters["status"].upper())
    if filters.get("leg"):
        queryset = queryset.filter(leg=filters["leg"].upper())
    return queryset


def events_list(*, filters: dict[str, str] | None = None) -> QuerySet[TradeEvent]:
    filters = filters or {}
    queryset = TradeEvent.objects.order_by("-processed_at", "-id")
    if filters.get("masterOrderId"):
        queryset = queryset.filter(master_order_id=filters["masterOrderId"])
    if filters.get("eventType"):
        queryset = queryset.filter(event_type=filters["eventType"].upper())
    return queryset


# ---------------------------------------------------------------- counts
@dataclass(frozen=True)
class Counts:
    successful: int = 0
    failed: int = 0
    skipped: int = 0
    pending: int = 0


def event_mapping_counts(*, event: TradeEvent) -> Counts:
    """Totals of a PLACE event from its ENTRY mappings (the same buckets as states.result_status), one per
    follower: a follower's slices count once (states.sliced_result_status)."""
    entries = OrderMapping.objects.filter(trade_event=event, leg=OrderMapping.Leg.ENTRY)
    rows = entries.filter(slice_count=1).aggregate(
        successful=Count(
            "id",
            filter=Q(status__in=states.PLACED) | Q(status=Status.CANCELLED, follower_order_id__gt=""),
        ),
        skipped=Count("id", filter=Q(status=Status.SKIPPED)),
        pending=Count("id", filter=Q(status__in=states.IN_FLIGHT)),
        total=Count("id"),
    )
    tally = {"SUCCESS": rows["successful"], "SKIPPED": rows["skipped"], "PENDING": rows["pending"]}
    tally["FAILED"] = rows["total"] - sum(tally.values())
    sliced = entries.filter(slice_count__gt=1).values_list("follower_id", "status", "follower_order_id")
    for result in states.results_by_order(
        (follower_pk, states.result_status(status, has_order_id=bool(order_id)))
        for follower_pk, status, order_id in sliced
    ).values():
        tally[result] += 1
    return Counts(tally["SUCCESS"], tally["FAILED"], tally["SKIPPED"], tally["PENDING"])


def exit_legs_by_follower(*, event: TradeEvent) -> dict[int, list[OrderMapping]]:
    """The EXIT legs of an exit event's master order (the CLOSE legs of a close event), by follower pk, in
    slice order (one query for all its results)."""
    if event.event_type == TradeEvent.EventType.EXIT:
        leg = OrderMapping.Leg.EXIT
    elif event.event_type == TradeEvent.EventType.CLOSE:
        leg = OrderMapping.Leg.CLOSE
    else:
        return {}
    legs = (
        OrderMapping.objects.filter(master_order_id=event.master_order_id, leg=leg)
        .only(
            "follower_id",
            "slice_no",
            "status",
            "quantity",
            "reason",
            "follower_order_id",
            "executed_quantity",
        )
        .order_by("follower_id", "slice_no")
    )
    by_follower: dict[int, list[OrderMapping]] = {}
    for row in legs:
        by_follower.setdefault(row.follower_id, []).append(row)
    return by_follower


def event_actions(*, event: TradeEvent) -> QuerySet[OrderAction]:
    return (
        OrderAction.objects.filter(trade_event=event)
        .select_related("mapping", "mapping__follower")
        .order_by("mapping__follower__account_id", "mapping__leg", "mapping__slice_no")
    )


def market_day_start() -> datetime:
    """Midnight today in the market's time zone (Asia/Kolkata), as an aware datetime."""
    zone = ZoneInfo(settings.MARKET_TIME_ZONE)
    return datetime.combine(timezone.now().astimezone(zone).date(), dt_time.min, tzinfo=zone)


def open_copied_trades(*, follower_pks: Iterable[int]) -> QuerySet[OrderMapping]:
    """ENTRY mappings created today (Asia/Kolkata) that may hold a position and have no closing EXIT leg."""
    closing_exit = OrderMapping.objects.filter(
        master_order_id=OuterRef("master_order_id"),
        follower_id=OuterRef("follower_id"),
        leg=OrderMapping.Leg.EXIT,
    ).exclude(status__in=states.EXIT_DID_NOT_CLOSE)
    return OrderMapping.objects.filter(
        follower_id__in=list(follower_pks),
        leg=OrderMapping.Leg.ENTRY,
        status__in=states.MAY_HOLD_POSITION,
        created_at__gte=market_day_start(),
    ).exclude(Exists(closing_exit))


def open_copied_trades_by_follower(*, follower_pks: Iterable[int] | None = None) -> dict[Account, list[str]]:
    """Per follower (None: every follower) holding copied trades open today, their master order ids: what a
    square-off exits."""
    candidates = (
        Account.objects.filter(role=Account.Role.FOLLOWER).values_list("pk", flat=True)
        if follower_pks is None
        else follower_pks
    )
    rows = (
        open_copied_trades(follower_pks=candidates)
        .select_related("follower")
        .order_by("follower__account_id", "master_order_id")
    )
    held: dict[Account, list[str]] = {}
    for mapping in rows:
        orders = held.setdefault(mapping.follower, [])
        if mapping.master_order_id not in orders:
            orders.append(mapping.master_order_id)
    return held


def open_copied_trade_counts(*, follower_pks: Iterable[int], limit: int | None = None) -> dict[int, int]:
    """How many open copied trades each follower has today (followers with none are absent).

    An entry squared off by the master's closes has no EXIT leg of its own: the entries of an instrument in
    which the follower is flat again (nothing filled net, nothing open) are not open trades.

    With `limit` (the max-concurrent-trades rule), only followers whose entries reach it are checked for
    flat instruments; the others get the count of their entries, an upper bound below the limit, which
    decides the rule the same way at a fraction of the cost (the check reads every entry's rows).
    """
    groups: dict[tuple[int, str, str, str], int] = {}
    rows = (
        open_copied_trades(follower_pks=follower_pks)
        .order_by()
        .values_list("follower_id", "exchange", "trading_symbol", "product_type")
        .annotate(open_trades=Count("master_order_id", distinct=True))  # a sliced order is one trade
    )
    entries: dict[int, int] = {}
    for follower_pk, exchange, trading_symbol, product, open_trades in rows:
        groups[(follower_pk, exchange, trading_symbol, product)] = open_trades
        entries[follower_pk] = entries.get(follower_pk, 0) + open_trades
    if limit is not None:
        groups = {key: n for key, n in groups.items() if entries[key[0]] >= limit}
    holdings = _holdings_of(groups)
    counts = {pk: n for pk, n in entries.items() if limit is not None and n < limit}
    for key, open_trades in groups.items():
        if holdings[key].closed:
            continue  # flat, or being closed: the master's closes squared it off
        counts[key[0]] = counts.get(key[0], 0) + open_trades
    return counts


def _holdings_of(keys: Iterable[tuple[int, str, str, str]]) -> dict[tuple[int, str, str, str], Holding]:
    """follower_holding for many (follower, exchange, trading symbol, product) at once, in one query (the
    fan-out asks for every follower's: one query each was most of its time)."""
    wanted = set(keys)
    if not wanted:
        return {}
    rows: dict[tuple[int, str, str, str], list[tuple[str, int, int, bool]]] = {key: [] for key in wanted}
    open_statuses = (*states.IN_FLIGHT, *states.OPEN_AT_BROKER)
    since = {product: _position_since(product) for _f, _e, _s, product in wanted}
    queryset = OrderMapping.objects.filter(
        follower_id__in={key[0] for key in wanted}, trading_symbol__in={key[2] for key in wanted}
    ).values_list(
        "follower_id",
        "exchange",
        "trading_symbol",
        "product_type",
        "side",
        "quantity",
        "executed_quantity",
        "status",
        "created_at",
    )
    for follower_pk, exchange, trading_symbol, product, side, quantity, done, status, created in queryset:
        key = (follower_pk, exchange, trading_symbol, product)
        if key not in rows:
            continue
        scope = since[product]
        if scope is not None and created < scope:
            continue
        rows[key].append((side, quantity, done, status in open_statuses))
    return {key: _holding(found) for key, found in rows.items()}


def open_mapping_followers() -> list[int]:
    """Followers with orders we believe open (ACTIVE/PARTIAL) whose session is not known dead: what the
    status sync reads (a dead session would only earn another refusal until it is renewed)."""
    return list(
        OrderMapping.objects.filter(status__in=states.OPEN_AT_BROKER)
        .exclude(
            follower__credential__session_status__in=(
                BrokerCredential.SessionStatus.EXPIRED,
                BrokerCredential.SessionStatus.MISSING,
            )
        )
        .values_list("follower_id", flat=True)
        .distinct()
        .order_by("follower_id")
    )


# ---------------------------------------------------------------- bounded synchronous wait
def _poll(done: Callable[[], bool], *, timeout: float, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + max(timeout, 0.0)
    while True:
        if done():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def mappings_wait(*, mapping_ids: list[int], timeout: float) -> bool:
    """Wait until none of the mappings is in flight (PENDING/SUBMITTING/UNKNOWN), at most `timeout` s."""
    if not mapping_ids:
        return True
    # Compiled once, run every 10 ms: building the queryset each time was most of the wait's CPU.
    in_flight = OrderMapping.objects.filter(pk__in=mapping_ids, status__in=states.IN_FLIGHT).values("pk")[:1]
    sql, params = in_flight.query.sql_with_params()

    def done() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone() is None

    return _poll(done, timeout=timeout)


def actions_wait(*, event: TradeEvent, timeout: float) -> bool:
    """Wait until the event's actions are done and any exit legs they created are out of flight."""

    def done() -> bool:
        if OrderAction.objects.filter(
            trade_event=event, status__in=[OrderAction.Status.PENDING, OrderAction.Status.RUNNING]
        ).exists():
            return False
        return not OrderMapping.objects.filter(
            trade_event=event,
            leg__in=(OrderMapping.Leg.EXIT, OrderMapping.Leg.CLOSE),
            status__in=states.IN_FLIGHT,
        ).exists()

    return _poll(done, timeout=timeout)


# ---------------------------------------------------------------- capture health
def _age(moment: datetime | None) -> float | None:
    return None if moment is None else round((timezone.now() - moment).total_seconds(), 1)


def capture_health() -> dict[str, object]:
    """How the active master's orders are being captured, for /api/health (informational: capture running on
    the poll alone is a working state). No account ids and no error texts: health is public."""
    from accounts.selectors import master_get_active

    master = master_get_active()
    if master is None:
        return {"ok": True, "master": False}
    rows = {row.kind: row for row in CaptureStatus.objects.filter(account=master)}
    stream, poll = rows.get(CaptureStatus.Kind.STREAM), rows.get(CaptureStatus.Kind.POLL)
    stale_after = float(settings.CAPTURE_STREAM_STALE_AFTER)
    stream_age = _age(stream.last_run_at) if stream else None
    stream_healthy = bool(
        stream and stream.connected and stream_age is not None and stream_age <= stale_after
    )
    poll_age = _age(poll.last_run_at) if poll else None
    master_settings = master_settings_get()
    interval = (
        master_settings.poll_interval_with_stream_seconds
        if stream_healthy
        else master_settings.poll_interval_seconds
    )
    heard = [age for age in (stream_age if stream_healthy else None, poll_age) if age is not None]
    return {
        "ok": True,
        "master": True,
        "stream": {
            "healthy": stream_healthy,
            "connected": bool(stream and stream.connected),
            "feedEnabled": stream.feed_enabled if stream else None,
            "lastFrameAgeSeconds": _age(stream.last_frame_at) if stream else None,
            "reconnects": stream.reconnects if stream else 0,
            "failing": bool(stream and stream.last_error),
        },
        "poll": {
            "lastRunAgeSeconds": poll_age,
            "intervalSeconds": float(interval),
            "failing": bool(poll and poll.last_error),
        },
        "lagSeconds": min(heard) if heard else None,
    }


def master_orders_closed(pairs: Iterable[tuple[str, int]]) -> set[tuple[str, int]]:
    """The (master order id, follower pk) among `pairs` whose follower's copy the master's exit or cancel
    reached (an action of an EXIT or CANCEL event on one of its mappings of that master order)."""
    wanted = set(pairs)
    if not wanted:
        return set()
    found = OrderAction.objects.filter(
        trade_event__event_type__in=(TradeEvent.EventType.EXIT, TradeEvent.EventType.CANCEL),
        mapping__master_order_id__in={order_id for order_id, _pk in wanted},
        mapping__follower_id__in={pk for _order_id, pk in wanted},
    ).values_list("mapping__master_order_id", "mapping__follower_id")
    return set(found) & wanted
