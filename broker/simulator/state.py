"""All simulator state, in memory, owned by one event loop (so no locks)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from broker.simulator.contract_master import ContractMaster, Instrument, load_contract_master, seed_prices
from broker.simulator.notify_hub import OrderNotifyHub

IST = ZoneInfo("Asia/Kolkata")
DEFAULT_REDIRECT_URL = "http://127.0.0.1:8000/api/alice/oauth/vendor/callback"


@dataclass(frozen=True)
class SimulatorOptions:
    """Command-line defaults that survive a /sim/reset."""

    app_code: str = "COPYTRADE"
    api_secret: str = "sim-app-secret"  # noqa: S105 - the simulator's published demo secret
    redirect_url: str = DEFAULT_REDIRECT_URL
    latency_ms: int = 0
    demo_accounts: bool = False


@dataclass
class SimConfig:
    """Behaviour switches set through POST /sim/config (camelCase keys on the wire)."""

    openapi_session_expired_mode: str = "http401"  # http401 | ec087
    legacy_session_expired_mode: str = "http401"  # http401 | json
    empty_book_mode: str = "error"  # error | empty | list (legacy one-element list)
    place_error_mode: str = "toplevel"  # toplevel | per_element
    rate_limit: int = 1800
    rate_window_seconds: float = 900.0
    read_only_users: list[str] = field(default_factory=list)
    fill_timestamp_format: str = "iso"  # iso (YYYY-MM-DD HH:MM:SS) | dmy (DD-MM-YYYY HH:MM:SS)
    legacy_comma_amounts: bool = False
    marketable_limit_fill: bool = False
    auth_code_ttl_seconds: float = 300.0
    carry_positions: bool = True
    cancel_not_open_code: str = "EC993"
    latency_ms: int = 0
    order_notify_mode: str = "token"  # createWsToken: token | empty (200, empty body) | html (200, SPA page)
    order_notify_user_modes: dict[str, str] = field(default_factory=dict)  # per-user override of the mode
    order_notify_idle_seconds: float = 60.0  # a socket without a heartbeat for this long is closed
    order_notify_delay_ms: int = 0  # extra delay of every frame and webhook POST after its event
    webhook_timeout_seconds: float = 2.0


CONFIG_KEYS: dict[str, str] = {
    "openapiSessionExpiredMode": "openapi_session_expired_mode",
    "legacySessionExpiredMode": "legacy_session_expired_mode",
    "emptyBookMode": "empty_book_mode",
    "placeErrorMode": "place_error_mode",
    "rateLimit": "rate_limit",
    "rateWindowSeconds": "rate_window_seconds",
    "readOnlyUsers": "read_only_users",
    "fillTimestampFormat": "fill_timestamp_format",
    "legacyCommaAmounts": "legacy_comma_amounts",
    "marketableLimitFill": "marketable_limit_fill",
    "authCodeTtlSeconds": "auth_code_ttl_seconds",
    "carryPositions": "carry_positions",
    "cancelNotOpenCode": "cancel_not_open_code",
    "latencyMs": "latency_ms",
    "orderNotifyMode": "order_notify_mode",
    "orderNotifyUserModes": "order_notify_user_modes",
    "orderNotifyIdleSeconds": "order_notify_idle_seconds",
    "orderNotifyDelayMs": "order_notify_delay_ms",
    "webhookTimeoutSeconds": "webhook_timeout_seconds",
}
ORDER_NOTIFY_MODES = frozenset({"token", "empty", "html"})


@dataclass
class Account:
    user_id: str
    client_id: str
    name: str
    api_key: str
    api_secret: str = ""
    app_code: str = ""
    redirect_url: str = ""
    cash: Decimal = Decimal("1000000")
    logged_in_day: date | None = None
    last_enc_key: str | None = None


@dataclass
class SimSession:
    token: str
    user_id: str
    day: date
    expired: bool = False


@dataclass
class AuthCode:
    code: str
    user_id: str
    app_code: str
    issued_at: float
    used: bool = False


@dataclass
class Fill:
    trade_id: str
    order_id: str
    quantity: int
    price: Decimal
    time: datetime


@dataclass
class HistoryEntry:
    status: str
    filled_quantity: int
    average_price: Decimal
    time: datetime
    rejection_reason: str = ""


@dataclass
class SimOrder:
    order_id: str
    user_id: str
    flavor: str
    instrument: Instrument
    side: str  # BUY | SELL
    quantity: int
    product: str  # as sent (upper-cased)
    product_class: str  # MIS | CNC | NRML | MTF
    order_type: str  # MARKET | LIMIT | SL | SLM
    price: Decimal
    trigger_price: Decimal
    validity: str
    complexity: str
    disclosed_quantity: int
    tag: str
    algo_id: str
    placed_at: datetime
    day: date
    status: str = "OPEN"  # OPEN | TRIGGER_PENDING | COMPLETE | REJECTED | CANCELLED
    filled_quantity: int = 0
    cancelled_quantity: int = 0
    filled_value: Decimal = Decimal("0")
    rejection_reason: str = ""
    exchange_order_id: str = ""
    updated_at: datetime | None = None
    fills: list[Fill] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)

    @property
    def pending_quantity(self) -> int:
        if self.status in {"COMPLETE", "REJECTED", "CANCELLED"}:
            return 0
        return self.quantity - self.filled_quantity

    @property
    def average_price(self) -> Decimal:
        if not self.filled_quantity:
            return Decimal("0")
        return (self.filled_value / self.filled_quantity).quantize(Decimal("0.01"))

    @property
    def is_open(self) -> bool:
        return self.status in {"OPEN", "TRIGGER_PENDING"}


@dataclass
class PositionState:
    """Net position of one (user, exchange, token, product class); prices kept exact."""

    user_id: str
    instrument: Instrument
    product_class: str
    day_buy_quantity: int = 0
    day_buy_value: Decimal = Decimal("0")
    day_sell_quantity: int = 0
    day_sell_value: Decimal = Decimal("0")
    overnight_quantity: int = 0
    overnight_price: Decimal = Decimal("0")
    net_quantity: int = 0
    net_average: Decimal = Decimal("0")
    realised_pnl: Decimal = Decimal("0")


@dataclass
class FaultRule:
    fault_id: str
    user_id: str | None
    endpoint: str | None
    latency_ms: int
    mode: str | None
    rate: float
    remaining: int | None
    hold_seconds: float


class SimClock:
    """Wall-clock IST time shifted by whole days on each /sim/new-day."""

    def __init__(self) -> None:
        self.day_offset = 0

    def now(self) -> datetime:
        return datetime.now(IST).replace(microsecond=0) + timedelta(days=self.day_offset)

    def today(self) -> date:
        return self.now().date()


class SimState:
    """Everything the simulator knows; rebuilt (except options and contract master) by reset()."""

    def __init__(self, options: SimulatorOptions) -> None:
        self.options = options
        self.master: ContractMaster = load_contract_master()
        self.notify = OrderNotifyHub()
        # Order ids continue where a simulator started earlier today left off (a restarted `make run` keeps
        # its database): the sequence starts at the milliseconds since midnight of this process's start.
        now = datetime.now(IST)
        self.order_sequence_base = (now.hour * 3600 + now.minute * 60 + now.second) * 1000
        self.reset()

    def reset(self) -> None:
        """Drop accounts, sessions, orders, faults, logs, switches, the day offset and order-notify state."""
        self.notify.reset()
        self.clock = SimClock()
        self.config = SimConfig(latency_ms=self.options.latency_ms)
        self.accounts: dict[str, Account] = {}
        self.sessions: dict[str, SimSession] = {}
        self.auth_codes: dict[str, AuthCode] = {}
        self.prices: dict[tuple[str, str], Decimal] = seed_prices(self.master)
        self.orders: dict[str, SimOrder] = {}
        self.positions: dict[tuple[str, str, str, str], PositionState] = {}
        self.faults: list[FaultRule] = []
        self.request_log: list[dict[str, Any]] = []
        self.rate_windows: dict[str, tuple[float, int]] = {}
        self.order_sequence = itertools.count(self.order_sequence_base + 1)
        self.trade_sequence = itertools.count(207745101)
        self.exchange_sequence = itertools.count(1100000067912001)
        self.client_sequence = itertools.count(912444)
        self.fault_sequence = itertools.count(1)
        self.request_sequence = itertools.count(1)

    def next_order_id(self) -> str:
        """`yymmdd` of the trading day + a 9-digit sequence."""
        return f"{self.clock.today():%y%m%d}{next(self.order_sequence):09d}"

    def last_price(self, instrument: Instrument) -> Decimal:
        return self.prices[(instrument.exchange, instrument.token)]

    def account(self, user_id: str) -> Account | None:
        return self.accounts.get(user_id.strip().upper())

    def today_orders(self, user_id: str) -> list[SimOrder]:
        """The user's orders of the current trading day, oldest first."""
        today = self.clock.today()
        return [o for o in self.orders.values() if o.user_id == user_id and o.day == today]

    def user_positions(self, user_id: str) -> list[PositionState]:
        return [p for p in self.positions.values() if p.user_id == user_id]
