"""Entry rules and sizing for one follower, as pure functions on Decimals and ints (no Django, no I/O).

Rule order (DESIGN 5.2, first failure wins -> SKIPPED with the reason): stopped by master -> consent ->
risk config disabled -> session -> instrument -> order type -> product type -> sizing (multiplier or fixed,
lot-size rounding, caps) -> zero -> order value (on the follower's quantity) -> today's loss.
Exits never go through these rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

MULTIPLIER = "MULTIPLIER"
FIXED_QTY = "FIXED_QTY"
DEFAULT_MAX_QUANTITY = 100  # the seed: a missing or zero max_quantity means 100

SESSION_VALID = "VALID"
SESSION_EXPIRED = "EXPIRED"

REASON_STOPPED = "Copy trading disabled for this follower"
REASON_NO_CONSENT = "Follower has not given consent"
REASON_DISABLED = "Account is disabled"
REASON_SESSION_EXPIRED = "Broker session expired for this follower"
REASON_NO_SESSION = "No broker session for this follower"


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


@dataclass(frozen=True)
class FollowerRules:
    """One follower's switches and risk config, flattened (defaults are the seed's)."""

    copy_trading_active: bool = True
    consent_given: bool = True
    session_status: str = SESSION_VALID
    enabled: bool = True
    sizing_mode: str = MULTIPLIER
    lot_multiplier: Decimal = Decimal("1")
    fixed_quantity: int | None = None
    max_quantity: int | None = DEFAULT_MAX_QUANTITY
    max_order_value: Decimal | None = None
    max_daily_loss: Decimal | None = None
    allowed_instruments: tuple[str, ...] = ()
    allowed_product_types: tuple[str, ...] = ("MIS", "CNC", "NRML")
    allowed_order_types: tuple[str, ...] = ("MARKET", "LIMIT")


@dataclass(frozen=True)
class GlobalLimits:
    """MasterSettings as the rules use them, plus whether consent is required."""

    max_quantity_per_trade: int | None = 1000
    min_lot_size: int = 1
    require_consent: bool = True


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


def size_quantity(
    *, master_quantity: int, rules: FollowerRules, limits: GlobalLimits, lot_size: int
) -> Sizing:
    """The follower's quantity: multiplier (floor) or fixed, rounded down to the lot size, then capped."""
    notes: list[str] = []
    if rules.sizing_mode == FIXED_QTY:
        raw = int(rules.fixed_quantity or 0)
        quantity = round_down_to_lot(raw, lot_size)
        zero_reason = f"Fixed quantity {raw} is below the lot size {lot_size}"
    else:
        scaled = (Decimal(master_quantity) * rules.lot_multiplier).to_integral_value(rounding=ROUND_FLOOR)
        quantity = round_down_to_lot(int(scaled), lot_size)
        zero_reason = f"Quantity becomes 0 after multiplier: {format_number(rules.lot_multiplier)}"
        if quantity and quantity != scaled:
            notes.append(f"Rounded down to lot size {lot_size}: {quantity}")
    max_quantity = rules.max_quantity or DEFAULT_MAX_QUANTITY
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


def day_pnl(positions: Iterable[object]) -> Decimal:
    """Today's P&L from broker positions: realised plus unrealised (computed where a last price is known)."""
    total = Decimal("0")
    for position in positions:
        total += Decimal(getattr(position, "realised_pnl", 0) or 0)
        unrealised = getattr(position, "unrealised_pnl", None)
        if unrealised is None:
            last_price = getattr(position, "last_price", None)
            net_quantity = int(getattr(position, "net_quantity", 0) or 0)
            if last_price is not None and net_quantity:
                unrealised = (
                    Decimal(last_price) - Decimal(getattr(position, "net_average", 0))
                ) * net_quantity
        total += Decimal(unrealised or 0)
    return total


def evaluate_entry(
    *,
    trade: TradeIntent,
    rules: FollowerRules,
    limits: GlobalLimits,
    reference_price: Decimal | None = None,
    pnl_today: Decimal | None = None,
) -> Decision:
    """Apply the rules in order to an entry order; the first failure wins.

    `reference_price` prices market orders (the master's fill, else the last price); `pnl_today` is the
    follower's P&L today (needed only when max_daily_loss is set; None then means it could not be read).
    """
    if not rules.copy_trading_active:
        return Decision(reason=REASON_STOPPED)
    if limits.require_consent and not rules.consent_given:
        return Decision(reason=REASON_NO_CONSENT)
    if not rules.enabled:
        return Decision(reason=REASON_DISABLED)
    if rules.session_status != SESSION_VALID:
        return Decision(
            reason=REASON_SESSION_EXPIRED if rules.session_status == SESSION_EXPIRED else REASON_NO_SESSION
        )
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
    sizing = size_quantity(
        master_quantity=trade.quantity, rules=rules, limits=limits, lot_size=trade.lot_size
    )
    if sizing.quantity <= 0:
        return Decision(reason=sizing.zero_reason, notes=sizing.notes)
    price = trade.price if trade.price else reference_price
    if rules.max_order_value and price:
        value = Decimal(sizing.quantity) * price
        if value > rules.max_order_value:
            limit = format_money(rules.max_order_value)
            return Decision(
                reason=f"Order value ₹{format_number(value)} exceeds max: ₹{limit}",
                notes=sizing.notes,
            )
    if rules.max_daily_loss:
        if pnl_today is None:
            return Decision(
                reason="Daily loss could not be checked: positions unavailable", notes=sizing.notes
            )
        loss = -pnl_today if pnl_today < 0 else Decimal("0")
        if loss >= rules.max_daily_loss:
            limit = format_money(rules.max_daily_loss)
            return Decision(
                reason=f"Daily loss ₹{format_number(loss)} reached max: ₹{limit}",
                notes=sizing.notes,
            )
    return Decision(quantity=sizing.quantity, notes=sizing.notes)


def scale_modified_quantity(
    *, master_quantity: int, rules: FollowerRules, limits: GlobalLimits, lot_size: int
) -> int:
    """A modified master quantity re-scaled for the follower (0 when it scales to nothing)."""
    return size_quantity(
        master_quantity=master_quantity, rules=rules, limits=limits, lot_size=lot_size
    ).quantity


def needs_positions(rules: FollowerRules) -> bool:
    """Whether evaluating this follower needs its broker positions (the daily-loss rule)."""
    return bool(rules.max_daily_loss)
