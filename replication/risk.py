"""Entry rules and sizing for one follower, as pure functions on Decimals and ints (no Django, no I/O).

Rule order (DESIGN 5.2, first failure wins -> SKIPPED with the reason): kill switch -> account not active ->
stopped by master -> consent -> risk config disabled -> copy window (an NSE trading day, then the follower's
window in IST; only while MasterSettings.enforce_copy_window is on; with MasterSettings.allow_amo an entry
while the NSE is closed is sent as an after-market order instead) -> session -> instrument -> order type ->
product type -> price guard (a LIMIT price too far from the last price: skipped, or sent as MARKET) ->
sizing (multiplier, fixed or capital; per-symbol multipliers; lot-size rounding, caps) -> zero -> order
value (on the follower's quantity) -> today's loss against the follower's max_daily_loss -> today's loss
against MasterSettings.max_daily_loss_percentage of the opening cash -> MasterSettings.max_concurrent_trades.
Exits never go through these rules. A follower quantity above the freeze quantity is then sent as slices.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from decimal import ROUND_FLOOR, Decimal

from accounts import risk_defaults
from copytrade.core.rupees import format_rupees
from replication import market_calendar

MULTIPLIER = risk_defaults.MULTIPLIER
FIXED_QTY = risk_defaults.FIXED_QTY
CAPITAL = risk_defaults.CAPITAL

SESSION_VALID = "VALID"
SESSION_UNVERIFIED = "UNVERIFIED"  # stored, not yet proven by a call: tried (the call is the check)
SESSION_USABLE = (SESSION_VALID, SESSION_UNVERIFIED)
SESSION_EXPIRED = "EXPIRED"
SESSION_UNREADABLE = "UNREADABLE"  # the stored credential cannot be decrypted

REASON_KILL_SWITCH = "Copying stopped by the kill switch"
REASON_STOPPED = "Copy trading disabled for this follower"
REASON_NO_CONSENT = "Follower has not given consent"
REASON_DISABLED = "Account is disabled"
REASON_NOT_ACTIVE = "Follower not found or not active"
REASON_SESSION_EXPIRED = "Broker session expired for this follower"
REASON_NO_SESSION = "No broker session for this follower"
REASON_CREDENTIAL_UNREADABLE = "Broker credential cannot be decrypted: replace it"
REASON_VALUE_UNCHECKED = "Order value could not be checked: no price given for the order"
_SESSION_REASONS = {SESSION_EXPIRED: REASON_SESSION_EXPIRED, SESSION_UNREADABLE: REASON_CREDENTIAL_UNREADABLE}
REASON_POSITIONS_UNAVAILABLE = "Daily loss could not be checked: positions unavailable"
REASON_FUNDS_UNAVAILABLE = "Daily loss could not be checked: funds unavailable"
REASON_MASTER_CAPITAL_UNKNOWN = (
    "Capital sizing: master capital unknown (no fixed capital, broker limits unread)"
)
REASON_MASTER_CAPITAL_ZERO = "Capital sizing: master capital is 0 or below"
REASON_FOLLOWER_CAPITAL_UNKNOWN = (
    "Capital sizing: follower capital unknown (no fixed capital, broker limits unread)"
)
REASON_NO_LAST_PRICE = "Price guard could not be checked: no last price"
GUARD_SKIP = risk_defaults.GUARD_SKIP
GUARD_MARKET = risk_defaults.GUARD_MARKET


@dataclass(frozen=True)
class TradeIntent:
    """The master order as the rules see it; quantities in units, `lot_size` from the contract master."""

    symbol: str
    side: str
    quantity: int
    order_type: str = "MARKET"
    product_type: str = "MIS"
    price: Decimal | None = None
    trading_symbol: str = ""
    lot_size: int = 1
    # Capital sizing and per-symbol multipliers: the contract's underlying symbol (NIFTY for a NIFTY option)
    # and the master's capital today (None: unknown).
    underlying: str = ""
    master_capital: Decimal | None = None


@dataclass(frozen=True)
class FollowerRules:
    """One follower's switches and risk config, flattened (defaults are the seed's)."""

    account_active: bool = True
    copy_trading_active: bool = True
    consent_given: bool = True
    session_status: str = SESSION_VALID
    enabled: bool = risk_defaults.ENABLED
    sizing_mode: str = risk_defaults.SIZING_MODE
    lot_multiplier: Decimal = risk_defaults.LOT_MULTIPLIER
    fixed_quantity: int | None = risk_defaults.FIXED_QUANTITY
    max_quantity: int | None = risk_defaults.MAX_QUANTITY
    max_order_value: Decimal | None = risk_defaults.MAX_ORDER_VALUE
    max_daily_loss: Decimal | None = risk_defaults.MAX_DAILY_LOSS
    allowed_instruments: tuple[str, ...] = risk_defaults.ALLOWED_INSTRUMENTS
    allowed_product_types: tuple[str, ...] = risk_defaults.ALLOWED_PRODUCT_TYPES
    allowed_order_types: tuple[str, ...] = risk_defaults.ALLOWED_ORDER_TYPES
    # {TRADING SYMBOL or UNDERLYING: multiplier}, replacing lot_multiplier for that instrument (also as the
    # factor of capital sizing); the follower's capital today for capital sizing (None: unknown).
    symbol_multipliers: Mapping[str, Decimal] = field(default_factory=dict)
    capital: Decimal | None = None
    # The copy window in IST (both ends included) and the price guard (None or 0: off).
    window_start: time = risk_defaults.WINDOW_START
    window_end: time = risk_defaults.WINDOW_END
    price_guard_percent: Decimal | None = risk_defaults.PRICE_GUARD_PERCENT
    price_guard_action: str = risk_defaults.PRICE_GUARD_ACTION


@dataclass(frozen=True)
class GlobalLimits:
    """MasterSettings as the rules use them, plus whether consent is required."""

    max_quantity_per_trade: int | None = 1000
    min_lot_size: int = 1
    require_consent: bool = True
    # None or 0 turns the rule off (a percentage of 0 or a cap of 0 trades would block every entry).
    max_daily_loss_percentage: Decimal | None = None
    max_concurrent_trades: int | None = None
    # The operator's kill switch: no new entry for anyone while it is on (exits never pass these rules).
    copying_stopped: bool = False
    # The copy window and NSE calendar rule (MasterSettings.enforce_copy_window), with the operator's extra
    # closed days and special sessions.
    enforce_copy_window: bool = False
    allow_amo: bool = False  # while the market is closed, entries go as after-market orders instead
    extra_closed_days: tuple[date, ...] = ()
    extra_trading_days: tuple[date, ...] = ()


@dataclass(frozen=True)
class Sizing:
    quantity: int
    notes: tuple[str, ...] = ()
    zero_reason: str = ""


@dataclass(frozen=True)
class Decision:
    """Copy with `quantity`, or skip with `reason`; `notes` say what sizing changed (e.g. a cap)."""

    quantity: int = 0
    reason: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    order_type: str = ""  # set when a rule changes the copy's order type (the price guard's MARKET)
    amo: bool = False  # sent as an after-market order (the market is closed, MasterSettings.allow_amo)

    @property
    def skipped(self) -> bool:
        return bool(self.reason)


def format_number(value: Decimal) -> str:
    """A Decimal as the seed's JavaScript printed numbers: no exponent, no trailing zeros (0.50 -> 0.5)."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def format_money(value: Decimal) -> str:
    """A configured amount as the seed's DECIMAL(15,2) column printed it (10000 -> 10000.00)."""
    return format(value.quantize(Decimal("0.01")), "f")


def _in_list(value: str, allowed: Iterable[str]) -> bool:
    wanted = {item.strip().upper() for item in allowed if item and item.strip()}
    return not wanted or value.upper() in wanted


def round_down_to_lot(quantity: int, lot_size: int) -> int:
    """`quantity` rounded down to a whole number of lots (lot sizes below 1 count as 1)."""
    lot = max(int(lot_size or 1), 1)
    return (max(quantity, 0) // lot) * lot


def symbol_multiplier(*, rules: FollowerRules, trading_symbol: str, underlying: str) -> tuple[Decimal, str]:
    """The multiplier for one contract and the key that set it: the exact trading symbol's override, else the
    underlying's, else lot_multiplier (key "")."""
    for key in (trading_symbol.strip().upper(), underlying.strip().upper()):
        if key and key in rules.symbol_multipliers:
            return Decimal(rules.symbol_multipliers[key]), key
    return rules.lot_multiplier, ""


def capital_unknown_reason(*, rules: FollowerRules, master_capital: Decimal | None) -> str:
    """Why capital sizing cannot scale for this follower (no guessing with real money), or ""."""
    if rules.sizing_mode != CAPITAL:
        return ""
    if master_capital is None:
        return REASON_MASTER_CAPITAL_UNKNOWN
    if master_capital <= 0:
        return REASON_MASTER_CAPITAL_ZERO
    if rules.capital is None:
        return REASON_FOLLOWER_CAPITAL_UNKNOWN
    return ""


def _capital_scaled(
    *, master_quantity: int, rules: FollowerRules, master_capital: Decimal | None, factor: Decimal
) -> tuple[int | None, str]:
    """floor(master quantity x follower capital / master capital x factor), or None and the skip reason."""
    unknown = capital_unknown_reason(rules=rules, master_capital=master_capital)
    if unknown or master_capital is None:
        return None, unknown
    follower_capital = max(rules.capital or Decimal("0"), Decimal("0"))
    # Multiplied before dividing: an exact ratio (2,00,000 / 10,00,000) floors exactly.
    scaled = Decimal(master_quantity) * follower_capital * factor / master_capital
    return int(scaled.to_integral_value(rounding=ROUND_FLOOR)), ""


def _capital_note(
    *, rules: FollowerRules, master_capital: Decimal, factor: Decimal, master_quantity: int, lot_size: int
) -> str:
    follower_capital = max(rules.capital or Decimal("0"), Decimal("0"))
    ratio = (follower_capital * factor / master_capital).quantize(Decimal("0.0001"), rounding=ROUND_FLOOR)
    return (
        f"Capital {format_rupees(follower_capital)} / {format_rupees(master_capital)} × "
        f"{format_number(factor)} = {format_number(ratio)}× of {master_quantity}"
        f" (lot {max(int(lot_size or 1), 1)})"
    )


def size_quantity(
    *,
    master_quantity: int,
    rules: FollowerRules,
    limits: GlobalLimits,
    lot_size: int,
    trading_symbol: str = "",
    underlying: str = "",
    master_capital: Decimal | None = None,
) -> Sizing:
    """The follower's quantity: multiplier (floor), fixed, or capital-proportional (floor), rounded down to
    the lot size, then capped. A per-symbol multiplier (trading symbol first, then underlying) replaces the
    multiplier, also as the capital factor; fixed quantities ignore it."""
    notes: list[str] = []
    multiplier, key = symbol_multiplier(rules=rules, trading_symbol=trading_symbol, underlying=underlying)
    if key and rules.sizing_mode != FIXED_QTY:
        notes.append(f"Multiplier for {key}: {format_number(multiplier)}")
    if rules.sizing_mode == FIXED_QTY:
        raw = int(rules.fixed_quantity or 0)
        quantity = round_down_to_lot(raw, lot_size)
        zero_reason = f"Fixed quantity {raw} is below the lot size {lot_size}"
    elif rules.sizing_mode == CAPITAL:
        scaled_capital, unknown = _capital_scaled(
            master_quantity=master_quantity, rules=rules, master_capital=master_capital, factor=multiplier
        )
        if scaled_capital is None or master_capital is None:
            return Sizing(0, tuple(notes), unknown)
        quantity = round_down_to_lot(scaled_capital, lot_size)
        capital = _capital_note(
            rules=rules,
            master_capital=master_capital,
            factor=multiplier,
            master_quantity=master_quantity,
            lot_size=lot_size,
        )
        notes.append(f"{capital} -> {quantity}")
        zero_reason = f"Quantity becomes 0 after capital sizing: {capital}"
    else:
        scaled = (Decimal(master_quantity) * multiplier).to_integral_value(rounding=ROUND_FLOOR)
        quantity = round_down_to_lot(int(scaled), lot_size)
        zero_reason = f"Quantity becomes 0 after multiplier: {format_number(multiplier)}"
        if key:
            zero_reason += f" (for {key})"
        if quantity and quantity != scaled:
            notes.append(f"Rounded down to lot size {lot_size}: {quantity}")
    max_quantity = rules.max_quantity or risk_defaults.MAX_QUANTITY  # the seed: missing or 0 means 100
    for cap, label in (
        (max_quantity, "max_quantity"),
        (limits.max_quantity_per_trade, "max_quantity_per_trade"),
    ):
        if cap and quantity > cap:
            quantity = round_down_to_lot(cap, lot_size)
            notes.append(f"Capped to {label}: {quantity}")
            zero_reason = f"Quantity becomes 0 after cap {label}: {cap} (lot size {lot_size})"
    if 0 < quantity < limits.min_lot_size:
        return Sizing(
            0, tuple(notes), f"Quantity {quantity} is below the minimum lot size {limits.min_lot_size}"
        )
    return Sizing(quantity, tuple(notes), zero_reason if quantity == 0 else "")


def needs_capital(rules: FollowerRules, limits: GlobalLimits) -> bool:
    """Whether sizing this follower needs capitals it lacks: capital mode, its capital unknown, and its own
    switches and session would let an entry through (no broker read for a follower skipped anyway)."""
    return (
        rules.sizing_mode == CAPITAL
        and not entry_switch_reason(rules=rules, limits=limits)
        and rules.session_status in SESSION_USABLE
    )


def pnl_parts(positions: Iterable[object]) -> tuple[Decimal, Decimal]:
    """Today's (realised, unrealised) P&L from positions; unrealised computed where the broker omits it."""
    realised = Decimal("0")
    unrealised_total = Decimal("0")
    for position in positions:
        realised += Decimal(getattr(position, "realised_pnl", 0) or 0)
        unrealised = getattr(position, "unrealised_pnl", None)
        if unrealised is None:
            last_price = getattr(position, "last_price", None)
            net_quantity = int(getattr(position, "net_quantity", 0) or 0)
            if last_price is not None and net_quantity:
                unrealised = (
                    Decimal(last_price) - Decimal(getattr(position, "net_average", 0))
                ) * net_quantity
        unrealised_total += Decimal(unrealised or 0)
    return realised, unrealised_total


def day_pnl(positions: Iterable[object]) -> Decimal:
    """Today's P&L from broker positions: realised plus unrealised (computed where a last price is known)."""
    realised, unrealised = pnl_parts(positions)
    return realised + unrealised


def loss_limit_breach(
    *,
    rules: FollowerRules,
    limits: GlobalLimits,
    pnl_today: Decimal | None,
    opening_cash: Decimal | None,
) -> str:
    """The reason when today's known loss is at or beyond a loss limit, else "" (unknown: no breach).

    Follower max_daily_loss first, then MasterSettings.max_daily_loss_percentage of the opening cash.
    """
    if pnl_today is None:
        return ""
    loss = -pnl_today if pnl_today < 0 else Decimal("0")
    if rules.max_daily_loss and loss >= rules.max_daily_loss:
        return f"Daily loss ₹{format_number(loss)} reached max: ₹{format_money(rules.max_daily_loss)}"
    percentage = limits.max_daily_loss_percentage
    if percentage and opening_cash is not None:
        threshold = opening_cash * percentage / Decimal("100")
        # A loss of 0 never breaches, even against a capital of 0.
        if loss > 0 and loss >= threshold:
            return (
                f"Daily loss ₹{format_number(loss)} reached {format_money(percentage)}% "
                f"of capital ₹{format_money(opening_cash)}"
            )
    return ""


def _clock(value: time) -> str:
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


def _outside(*, now: datetime, limits: GlobalLimits, start: time, end: time, what: str) -> str:
    """Not an NSE trading day, or outside [start, end] IST ("" inside, or while the rule is off)."""
    if not limits.enforce_copy_window:
        return ""
    moment = market_calendar.ist(now)
    closed = market_calendar.closed_reason(
        moment.date(), extra_closed=limits.extra_closed_days, extra_open=limits.extra_trading_days
    )
    if closed:
        return f"Not an NSE trading day: {closed}"
    if not market_calendar.in_window(moment, start=start, end=end):
        return f"Outside {what} {_clock(start)}–{_clock(end)} IST"
    return ""


def copy_window_reason(*, now: datetime, rules: FollowerRules, limits: GlobalLimits) -> str:
    """Why a new entry at `now` (aware) is outside the copy rules: not an NSE trading day, or outside the
    follower's window in IST; "" inside (or while MasterSettings.enforce_copy_window is off)."""
    return _outside(
        now=now, limits=limits, start=rules.window_start, end=rules.window_end, what="the copy window"
    )


def market_closed_reason(*, now: datetime, limits: GlobalLimits) -> str:
    """Why the NSE is closed at `now` (not a trading day, or outside 09:15 to 15:30 IST); "" while it is open
    or while the copy window rule is off. Master capture then queues a new entry for the operator."""
    return _outside(
        now=now,
        limits=limits,
        start=market_calendar.MARKET_OPEN,
        end=market_calendar.MARKET_CLOSE,
        what="NSE market hours",
    )


@dataclass(frozen=True)
class PriceGuard:
    """The price guard's verdict: `reason` skips; `as_market` sends the copy as MARKET, `note` says why."""

    reason: str = ""
    as_market: bool = False
    note: str = ""


def price_deviation_percent(*, price: Decimal, last_price: Decimal) -> Decimal:
    """How far `price` is from `last_price`, in percent of the last price (absolute)."""
    return abs(price - last_price) * Decimal("100") / last_price


def price_guard(*, trade: TradeIntent, rules: FollowerRules, last_price: Decimal | None) -> PriceGuard:
    """A LIMIT entry priced more than `price_guard_percent` from the last price: skipped, or sent as MARKET
    (the follower's `price_guard_action`). No last price: skipped (no guessing with real money)."""
    if not rules.price_guard_percent or trade.order_type.strip().upper() != "LIMIT" or not trade.price:
        return PriceGuard()
    if not last_price or last_price <= 0:
        return PriceGuard(reason=REASON_NO_LAST_PRICE)
    deviation = price_deviation_percent(price=trade.price, last_price=last_price)
    if deviation <= rules.price_guard_percent:
        return PriceGuard()
    text = (
        f"LIMIT price ₹{format_number(trade.price)} is {format_money(deviation)}% from the last price "
        f"₹{format_number(last_price)} (price guard {format_number(rules.price_guard_percent)}%)"
    )
    if rules.price_guard_action == GUARD_MARKET:
        return PriceGuard(as_market=True, note=f"Sent as MARKET: {text}")
    return PriceGuard(reason=f"Price guard: {text}")


def evaluate_entry(
    *,
    trade: TradeIntent,
    rules: FollowerRules,
    limits: GlobalLimits,
    reference_price: Decimal | None = None,
    pnl_today: Decimal | None = None,
    opening_cash: Decimal | None = None,
    open_trades: int = 0,
    now: datetime | None = None,
    last_price: Decimal | None = None,
) -> Decision:
    """Apply the rules in order to an entry order; the first failure wins.

    `reference_price` prices market orders (the master's fill, else the last price); `pnl_today` is the
    follower's P&L today and `opening_cash` its opening capital (needed only by the loss rules that are set;
    None then means it could not be read, which skips: no guessing with real money); `open_trades` counts
    the follower's open copied trades today; `now` is the time of the fan-out (the copy window) and
    `last_price` the instrument's last price (the price guard).
    """
    decision = evaluate_entry_static(
        trade=trade,
        rules=rules,
        limits=limits,
        reference_price=reference_price,
        now=now,
        last_price=last_price,
    )
    if decision.skipped:
        return decision
    reason = account_state_reason(
        rules=rules,
        limits=limits,
        pnl_today=pnl_today,
        opening_cash=opening_cash,
        open_trades=open_trades,
    )
    if reason:
        return Decision(reason=reason, notes=decision.notes)
    return decision


def entry_switch_reason(*, rules: FollowerRules, limits: GlobalLimits) -> str:
    """Why an ENTRY order may no longer be sent (checked again just before sending), or "".

    The follower's own switches only (stop, consent, account and risk-config enabled): they can change
    between the fan-out and the send, and an opted-out follower must never get an order. The kill switch comes
    first: it stops every follower at once. Exits never go through this.
    """
    if limits.copying_stopped:
        return REASON_KILL_SWITCH
    if not rules.account_active:
        return REASON_NOT_ACTIVE
    if not rules.copy_trading_active:
        return REASON_STOPPED
    if limits.require_consent and not rules.consent_given:
        return REASON_NO_CONSENT
    if not rules.enabled:
        return REASON_DISABLED
    return ""


def evaluate_entry_static(
    *,
    trade: TradeIntent,
    rules: FollowerRules,
    limits: GlobalLimits,
    reference_price: Decimal | None = None,
    now: datetime | None = None,
    last_price: Decimal | None = None,
) -> Decision:
    """The rules that need nothing from the broker or the follower's other trades (up to order value).

    `now` (aware) is required while the copy window is enforced; `last_price` feeds the price guard.
    """
    switched_off = entry_switch_reason(rules=rules, limits=limits)
    if switched_off:
        return Decision(reason=switched_off)
    amo_notes: tuple[str, ...] = ()
    if limits.enforce_copy_window:
        if now is None:
            raise ValueError("the copy window needs the time of the fan-out")
        outside = copy_window_reason(now=now, rules=rules, limits=limits)
        closed = market_closed_reason(now=now, limits=limits) if outside and limits.allow_amo else ""
        if outside and not closed:
            return Decision(reason=outside)
        if closed:  # the market is closed and the operator allows after-market orders
            amo_notes = (f"Sent as AMO (after-market order): {closed}",)
    if rules.session_status not in SESSION_USABLE:
        return Decision(reason=_SESSION_REASONS.get(rules.session_status, REASON_NO_SESSION))
    symbol = trade.symbol.strip().upper()
    if rules.allowed_instruments and not (
        _in_list(symbol, rules.allowed_instruments)
        or (trade.trading_symbol and _in_list(trade.trading_symbol, rules.allowed_instruments))
    ):
        return Decision(reason=f"Symbol {symbol} not in allowed instruments")
    order_type = trade.order_type.strip().upper()
    if not _in_list(order_type, rules.allowed_order_types):
        return Decision(reason=f"Order type {order_type} not allowed")
    product_type = trade.product_type.strip().upper()
    if not _in_list(product_type, rules.allowed_product_types):
        return Decision(reason=f"Product type {product_type} not allowed")
    guard = price_guard(trade=trade, rules=rules, last_price=last_price)
    if guard.reason:
        return Decision(reason=guard.reason)
    guard_notes: tuple[str, ...] = (guard.note,) if guard.as_market else ()
    guard_order_type = "MARKET" if guard.as_market else ""
    if guard.as_market:  # priced (order value) as the market order it becomes
        trade = replace(trade, order_type="MARKET", price=None)
        reference_price = last_price
    sizing = size_quantity(
        master_quantity=trade.quantity,
        rules=rules,
        limits=limits,
        lot_size=trade.lot_size,
        trading_symbol=trade.trading_symbol or trade.symbol,
        underlying=trade.underlying,
        master_capital=trade.master_capital,
    )
    notes = amo_notes + guard_notes + sizing.notes
    if sizing.quantity <= 0:
        return Decision(reason=sizing.zero_reason, notes=notes)
    price = trade.price if trade.price else reference_price
    if rules.max_order_value and not price:
        # No price to value the order with (a market order given without one): a limit that cannot be
        # checked is not passed silently.
        return Decision(reason=REASON_VALUE_UNCHECKED, notes=notes)
    if rules.max_order_value and price:
        value = Decimal(sizing.quantity) * price
        if value > rules.max_order_value:
            limit = format_money(rules.max_order_value)
            return Decision(
                reason=f"Order value ₹{format_number(value)} exceeds max: ₹{limit}",
                notes=notes,
            )
    return Decision(quantity=sizing.quantity, notes=notes, order_type=guard_order_type, amo=bool(amo_notes))


def account_state_reason(
    *,
    rules: FollowerRules,
    limits: GlobalLimits,
    pnl_today: Decimal | None,
    opening_cash: Decimal | None,
    open_trades: int,
) -> str:
    """The rules after order value, in order: max_daily_loss, loss % of capital, concurrent trades."""
    if rules.max_daily_loss or limits.max_daily_loss_percentage:
        if pnl_today is None:
            return REASON_POSITIONS_UNAVAILABLE
        breach = loss_limit_breach(rules=rules, limits=limits, pnl_today=pnl_today, opening_cash=opening_cash)
        if breach:
            return breach
        if limits.max_daily_loss_percentage and opening_cash is None:
            return REASON_FUNDS_UNAVAILABLE
    if limits.max_concurrent_trades and open_trades >= limits.max_concurrent_trades:
        return f"Max concurrent trades reached: {limits.max_concurrent_trades}"
    return ""


def scale_modified_quantity(
    *,
    master_quantity: int,
    rules: FollowerRules,
    limits: GlobalLimits,
    lot_size: int,
    trading_symbol: str = "",
    underlying: str = "",
    master_capital: Decimal | None = None,
) -> int:
    """A modified master quantity re-scaled for the follower as its entry was sized (0 when it scales to
    nothing)."""
    return size_quantity(
        master_quantity=master_quantity,
        rules=rules,
        limits=limits,
        lot_size=lot_size,
        trading_symbol=trading_symbol,
        underlying=underlying,
        master_capital=master_capital,
    ).quantity


def needs_positions(rules: FollowerRules, limits: GlobalLimits | None = None) -> bool:
    """Whether evaluating this follower needs its broker positions (a daily-loss rule is set)."""
    return bool(rules.max_daily_loss or (limits and limits.max_daily_loss_percentage))


def needs_last_price(trade: TradeIntent, rules: Iterable[FollowerRules]) -> bool:
    """Whether the fan-out must read the last price: a LIMIT entry and a follower with a price guard."""
    return trade.order_type.strip().upper() == "LIMIT" and any(r.price_guard_percent for r in rules)


def needs_opening_cash(limits: GlobalLimits) -> bool:
    """Whether the loss rules need the follower's opening cash (the percentage-of-capital rule is set)."""
    return bool(limits.max_daily_loss_percentage)


# ---------------------------------------------------------------- freeze-quantity slicing
def freeze_quantity_for(
    *, contract_freeze: int | None, operator_freeze: dict[tuple[str, str], int], exchange: str, symbol: str
) -> int | None:
    """The freeze quantity that applies: the contract master's, else the operator's table by (exchange,
    underlying symbol), else None (no limit)."""
    if contract_freeze:
        return contract_freeze
    return operator_freeze.get((exchange.upper(), symbol.upper())) or None


def slice_size(*, freeze_quantity: int | None, lot_size: int) -> int | None:
    """The largest slice: the freeze quantity rounded down to whole lots; None without a freeze quantity,
    0 when the freeze quantity is below one lot."""
    if not freeze_quantity:
        return None
    return round_down_to_lot(freeze_quantity, lot_size)


def freeze_skip_reason(*, freeze_quantity: int | None, lot_size: int) -> str:
    """Why an order cannot be sliced at all: the freeze quantity is below one lot ('' when it can)."""
    if slice_size(freeze_quantity=freeze_quantity, lot_size=lot_size) == 0:
        return f"Freeze quantity {freeze_quantity} is below one lot ({lot_size}): order cannot be sliced"
    return ""


def slice_quantities(total: int, freeze_quantity: int | None, lot_size: int) -> list[int]:
    """`total` as exchange-acceptable slices: each a whole number of lots and at most the freeze quantity
    (slice size = the freeze quantity rounded down to lots), the last one the remainder; one slice without
    a freeze quantity or at or below it; [] for nothing to send or a freeze quantity below one lot."""
    if total <= 0:
        return []
    size = slice_size(freeze_quantity=freeze_quantity, lot_size=lot_size)
    if size is None or total <= (freeze_quantity or 0):
        return [total]
    if size == 0:
        return []
    full, rest = divmod(total, size)
    return [size] * full + ([rest] if rest else [])


def exit_slice_of(*, exit_slice_no: int, entry_slice_count: int) -> int:
    """The entry slice an EXIT slice squares off: EXIT slices k, k + n, k + 2n, ... square off entry slice k
    of n (more than one when the square-off itself is above the freeze quantity)."""
    return exit_slice_no % max(entry_slice_count, 1)


def slices_redistribute(
    *, total: int, floors: list[int], modifiable: list[bool], freeze_quantity: int | None, lot_size: int
) -> tuple[list[int], list[int]]:
    """A new follower total spread over its existing slices, then over new ones.

    `floors` are what each slice has filled (a slice never goes below it); a slice that is not `modifiable`
    (final at the broker) stays at its floor. Existing open slices are filled in order up to the slice size;
    what is left is new slices (`slice_quantities`). Returns (the existing slices' new quantities, the new
    slices); a total below what has filled leaves every slice at its floor. A 0 for an open slice means it
    is no longer needed (cancel it).
    """
    size = slice_size(freeze_quantity=freeze_quantity, lot_size=lot_size)
    quantities = list(floors)
    remaining = max(total - sum(floors), 0)
    for index, open_ in enumerate(modifiable):
        if not open_ or remaining <= 0:
            continue
        room = remaining if size is None else max(size - quantities[index], 0)
        add = round_down_to_lot(min(room, remaining), lot_size)
        quantities[index] += add
        remaining -= add
    return quantities, slice_quantities(remaining, freeze_quantity, lot_size)
