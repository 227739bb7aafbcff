"""The seed's risk-config defaults, defined once (no Django): the RiskConfig model, the full-replace service
and replication's FollowerRules all read them from here."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

from broker.types import OrderType, ProductType

MULTIPLIER = "MULTIPLIER"
FIXED_QTY = "FIXED_QTY"
CAPITAL = "CAPITAL"

LOT_MULTIPLIER = Decimal("1.0")
SIZING_MODE = MULTIPLIER
FIXED_QUANTITY: int | None = None
MAX_QUANTITY = 100
MAX_ORDER_VALUE: Decimal | None = None
MAX_DAILY_LOSS: Decimal | None = None
# An empty list allows everything (replication/risk.py `_in_list`).
ALLOWED_INSTRUMENTS: tuple[str, ...] = ()
ALLOWED_PRODUCT_TYPES: tuple[str, ...] = (
    ProductType.MIS.value,
    ProductType.CNC.value,
    ProductType.NRML.value,
)
ALLOWED_ORDER_TYPES: tuple[str, ...] = (OrderType.MARKET.value, OrderType.LIMIT.value)
ENABLED = True
# Per-symbol multipliers, {trading symbol or underlying: multiplier as a decimal string}; empty: none.
SYMBOL_MULTIPLIERS: dict[str, str] = {}
# The copy window (IST, both ends included) and the price guard (None: off).
WINDOW_START = time(9, 15)
WINDOW_END = time(15, 20)
PRICE_GUARD_PERCENT: Decimal | None = None
GUARD_SKIP = "SKIP"
GUARD_MARKET = "MARKET"
PRICE_GUARD_ACTION = GUARD_SKIP


def as_dict() -> dict[str, object]:
    """Every default by RiskConfig field name (lists, as the JSON columns hold them)."""
    return {
        "lot_multiplier": LOT_MULTIPLIER,
        "sizing_mode": SIZING_MODE,
        "fixed_quantity": FIXED_QUANTITY,
        "max_quantity": MAX_QUANTITY,
        "max_order_value": MAX_ORDER_VALUE,
        "max_daily_loss": MAX_DAILY_LOSS,
        "allowed_instruments": list(ALLOWED_INSTRUMENTS),
        "allowed_product_types": list(ALLOWED_PRODUCT_TYPES),
        "allowed_order_types": list(ALLOWED_ORDER_TYPES),
        "enabled": ENABLED,
        "symbol_multipliers": dict(SYMBOL_MULTIPLIERS),
        "window_start": WINDOW_START,
        "window_end": WINDOW_END,
        "price_guard_percent": PRICE_GUARD_PERCENT,
        "price_guard_action": PRICE_GUARD_ACTION,
    }
