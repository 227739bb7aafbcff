"""Typed results of the Alice Blue client: frozen dataclasses, Decimal prices, str order ids.

Both API flavours (open-api and legacy) return exactly these types, normalised.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any


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
    amo: bool = False  # an after-market order (orderComplexity AMO), queued for the next session's open


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


@dataclass(frozen=True)
class OrderUpdate:
    """One order event pushed by Alice Blue (order-notify frame or webhook payload), normalised like Order.

    Pushed events are sparse: a value the broker left out is None (or "" for text), never a made-up zero, so
    a consumer can tell "not reported" from "zero". `raw` is the payload as received (it holds no secret).
    """

    order_id: str
    status: OrderStatus
    report_type: str = ""
    exchange: str = ""
    token: str = ""
    trading_symbol: str = ""
    side: Side | None = None
    quantity: int | None = None
    filled_quantity: int | None = None
    cancelled_quantity: int | None = None
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    average_price: Decimal | None = None
    product: ProductType | str = ""
    order_type: OrderType | str = ""
    validity: str = ""
    tag: str = ""
    rejection_reason: str = ""
    fill_quantity: int | None = None  # this fill's quantity (flqty), on fill reports only
    fill_price: Decimal | None = None  # this fill's price (flprc)
    fill_id: str = ""
    exchange_order_id: str = ""
    user_id: str = ""  # the account the broker says the order belongs to (uid)
    event_time: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_fill(self) -> bool:
        """True for a fill report (a trade happened), partial or final."""
        return bool(self.fill_quantity) or self.report_type.strip().lower() in {"fill", "partialfill"}

    def to_order(self) -> Order:
        """The order-book row this event describes; raises ValueError when side or quantity is missing."""
        if self.side is None or self.quantity is None:
            raise ValueError(f"order update {self.order_id} lacks side or quantity")
        filled = self.filled_quantity or 0
        if self.cancelled_quantity is not None:
            cancelled = self.cancelled_quantity
        else:
            cancelled = self.quantity - filled if self.status is OrderStatus.CANCELLED else 0
        return Order(
            order_id=self.order_id,
            exchange=self.exchange,
            token=self.token,
            trading_symbol=self.trading_symbol,
            side=self.side,
            quantity=self.quantity,
            filled_quantity=filled,
            pending_quantity=max(self.quantity - filled, 0) if self.status.is_open else 0,
            cancelled_quantity=cancelled,
            price=self.price if self.price is not None else Decimal("0"),
            trigger_price=self.trigger_price if self.trigger_price is not None else Decimal("0"),
            average_price=self.average_price if self.average_price is not None else Decimal("0"),
            product=self.product,
            order_type=self.order_type,
            status=self.status,
            rejection_reason=self.rejection_reason,
            tag=self.tag,
            order_time=self.event_time.isoformat() if self.event_time else "",
            exchange_order_id=self.exchange_order_id,
        )
