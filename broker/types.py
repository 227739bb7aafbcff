"""Typed results of the Alice Blue client: frozen dataclasses, Decimal prices, str order ids.

Both API flavours (open-api and legacy) return exactly these types, normalised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class ApiFlavor(StrEnum):
    OPENAPI = "openapi"
    LEGACY = "legacy"


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class Exchange(StrEnum):
    """Exchange segments Alice Blue trades (cash, derivatives, currency, commodities)."""

    NSE = "NSE"
    BSE = "BSE"
    NFO = "NFO"
    BFO = "BFO"
    CDS = "CDS"
    BCD = "BCD"
    MCX = "MCX"


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    SL = "SL"  # stop-loss limit
    SLM = "SLM"  # stop-loss market


class ProductType(StrEnum):
    """Our canonical product codes (the seed's): intraday, delivery, carry-forward."""

    MIS = "MIS"
    CNC = "CNC"
    NRML = "NRML"


def enum_choices(enum: type[StrEnum]) -> list[tuple[str, str]]:
    """`(value, value)` pairs of a StrEnum, for model and form choices that must follow these enums."""
    return [(member.value, member.value) for member in enum]


class Validity(StrEnum):
    DAY = "DAY"
    IOC = "IOC"


class OrderStatus(StrEnum):
    """Normalised order status; partial fills stay OPEN with filled_quantity > 0."""

    PENDING = "PENDING"
    OPEN = "OPEN"
    TRIGGER_PENDING = "TRIGGER_PENDING"
    COMPLETE = "COMPLETE"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    UNKNOWN = "UNKNOWN"

    @property
    def is_open(self) -> bool:
        return self in {OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.TRIGGER_PENDING}

    @property
    def is_final(self) -> bool:
        return self in {OrderStatus.COMPLETE, OrderStatus.REJECTED, OrderStatus.CANCELLED}


@dataclass(frozen=True)
class Session:
    """A broker session for one account. `token` is the secret (JWT or legacy session id)."""

    user_id: str
    token: str = field(repr=False)
    flavor: ApiFlavor
    client_id: str = ""


@dataclass(frozen=True)
class OrderRequest:
    """One order to place. `quantity` is in units (lots x lot size), `tag` is sent as orderTag."""

    exchange: str
    token: str
    trading_symbol: str
    side: Side
    quantity: int
    product: ProductType = ProductType.MIS
    order_type: OrderType = OrderType.MARKET
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    validity: Validity = Validity.DAY
    tag: str = ""


@dataclass(frozen=True)
class ModifyRequest:
    """A change to an open order; fields left None keep the order's current value."""

    order_id: str
    exchange: str
    token: str
    trading_symbol: str
    side: Side
    quantity: int
    product: ProductType
    order_type: OrderType
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    validity: Validity = Validity.DAY


@dataclass(frozen=True)
class OrderAck:
    """The broker accepted the order into its OMS (RMS/exchange may still reject it later)."""

    order_id: str
    request_time: str = ""


@dataclass(frozen=True)
class Order:
    order_id: str
    exchange: str
    token: str
    trading_symbol: str
    side: Side
    quantity: int
    filled_quantity: int
    pending_quantity: int
    cancelled_quantity: int
    price: Decimal
    trigger_price: Decimal
    average_price: Decimal
    product: ProductType | str
    order_type: OrderType | str
    status: OrderStatus
    rejection_reason: str = ""
    tag: str = ""
    order_time: str = ""
    exchange_order_id: str = ""


@dataclass(frozen=True)
class Trade:
    order_id: str
    trade_id: str
    exchange: str
    token: str
    trading_symbol: str
    side: Side
    quantity: int
    price: Decimal
    product: ProductType | str
    tag: str = ""
    fill_time: str = ""


@dataclass(frozen=True)
class Position:
    exchange: str
    token: str
    trading_symbol: str
    product: ProductType | str
    net_quantity: int
    buy_quantity: int
    sell_quantity: int
    buy_average: Decimal
    sell_average: Decimal
    net_average: Decimal
    realised_pnl: Decimal
    unrealised_pnl: Decimal | None = None
    last_price: Decimal | None = None


@dataclass(frozen=True)
class Funds:
    available_cash: Decimal
    utilized_margin: Decimal
    collateral: Decimal = Decimal("0")
    # The day's opening cash (open-api `openingCashLimit`, legacy `credits`); None when the answer lacks it.
    opening_cash: Decimal | None = None


@dataclass(frozen=True)
class Profile:
    client_id: str
    name: str
    exchanges: tuple[str, ...] = ()
    products: tuple[str, ...] = ()


@dataclass(frozen=True)
class OrderHistoryEntry:
    order_id: str
    status: OrderStatus
    filled_quantity: int
    average_price: Decimal
    rejection_reason: str = ""
    time: datetime | None = None
