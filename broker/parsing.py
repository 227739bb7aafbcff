"""Value parsing and failure classification shared by both Alice Blue API flavours.

Alice Blue sends numbers as JSON numbers or strings (sometimes both in one row), zero prices as "00.00",
placeholders ("", "--", "NA"), thousands separators, and free-text statuses in several spellings. Everything
here turns those into our types or raises ValueError; the clients turn a ValueError into a BrokerError.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar, overload
from zoneinfo import ZoneInfo

from broker.exceptions import (
    BrokerAuthError,
    BrokerError,
    BrokerOutcomeUnknownError,
    BrokerRateLimitedError,
    BrokerRejectedError,
    BrokerUnavailableError,
)
from broker.types import OrderStatus, OrderType, ProductType, Side

T = TypeVar("T")
IST = ZoneInfo("Asia/Kolkata")
PLACEHOLDERS = frozenset({"", "--", "-", "na", "n/a", "null", "none", "nan"})
EXCERPT_LENGTH = 120

# -- values ----------------------------------------------------------------------------------------------


def is_placeholder(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in PLACEHOLDERS)


@overload
def to_decimal(value: Any, default: Decimal = ...) -> Decimal: ...
@overload
def to_decimal(value: Any, default: None) -> Decimal | None: ...
def to_decimal(value: Any, default: Decimal | None = Decimal("0")) -> Decimal | None:
    """A Decimal from a JSON number or string ("1,234.50", "00.00"); placeholders give `default`."""
    if is_placeholder(value):
        return default
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))  # the shortest repr, not the binary expansion
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip().replace(",", ""))
        except InvalidOperation:
            raise ValueError(f"not a number: {value[:20]!r}") from None
    else:
        raise ValueError(f"not a number: {type(value).__name__}")
    if not result.is_finite():
        return default
    return result


def to_int(value: Any, default: int = 0) -> int:
    """An int from 250, "250", "1,000", 250.0 or "250.0"; placeholders give `default`."""
    number = to_decimal(value, default=None)
    if number is None:
        return default
    if number != number.to_integral_value():
        raise ValueError(f"not an integer: {value!r}")
    return int(number)


def to_id(value: Any) -> str:
    """An order/trade id as str, never via float: 250526000002697 stays exact; placeholders give ""."""
    if is_placeholder(value):
        return ""
    if isinstance(value, bool):
        raise ValueError("id is a boolean")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return str(int(value))
        raise ValueError(f"id is not integral: {value}")
    if isinstance(value, float):
        raise ValueError("id arrived as a float; refusing to guess its digits")
    return str(value).strip()


def to_text(value: Any) -> str:
    """A display string; placeholders become ""."""
    return "" if is_placeholder(value) else str(value).strip()


def to_token(value: Any) -> str:
    """An instrument token as an integer string ("2885.0" from a NaN-polluted CSV becomes "2885")."""
    if is_placeholder(value):
        return ""
    text = str(value).strip()
    if re.fullmatch(r"\d+\.0+", text):
        return text.split(".", 1)[0]
    return to_id(value)


def _squash(value: Any) -> str:
    return re.sub(r"[\s_\-]+", " ", str(value or "")).strip().lower()


def stat_is_ok(value: Any) -> bool:
    """True for "Ok"/"OK"/"ok" (Alice Blue's success marker)."""
    return _squash(value) == "ok"


def stat_is_not_ok(value: Any) -> bool:
    """True for "Not_Ok", "Not_ok", "Not ok", "NOT_OK"... (case-insensitive, `_`/space ignored)."""
    return _squash(value).replace(" ", "") == "notok"


_STATUSES: dict[str, OrderStatus] = {
    "open": OrderStatus.OPEN,
    "partially filled": OrderStatus.OPEN,
    "partially executed": OrderStatus.OPEN,
    "modified": OrderStatus.OPEN,
    "replaced": OrderStatus.OPEN,
    "modify pending": OrderStatus.OPEN,
    "modify validation pending": OrderStatus.OPEN,
    "modify order req received": OrderStatus.OPEN,
    "cancel pending": OrderStatus.OPEN,
    "cancel order req received": OrderStatus.OPEN,
    "trigger pending": OrderStatus.TRIGGER_PENDING,
    "pending": OrderStatus.PENDING,
    "new": OrderStatus.PENDING,
    "open pending": OrderStatus.PENDING,
    "validation pending": OrderStatus.PENDING,
    "put order req received": OrderStatus.PENDING,
    "after market order req received": OrderStatus.PENDING,
    "amo req received": OrderStatus.PENDING,
    "complete": OrderStatus.COMPLETE,
    "completed": OrderStatus.COMPLETE,
    "filled": OrderStatus.COMPLETE,
    "executed": OrderStatus.COMPLETE,
    "traded": OrderStatus.COMPLETE,
    "rejected": OrderStatus.REJECTED,
    "cancelled": OrderStatus.CANCELLED,
    "canceled": OrderStatus.CANCELLED,
    "cancelled after market order": OrderStatus.CANCELLED,
    "expired": OrderStatus.CANCELLED,
}


def parse_status(value: Any) -> OrderStatus:
    """Normalise `open`/`OPEN`, `trigger pending`/`TRIGGER_PENDING`, `canceled`, NEST transients..."""
    return _STATUSES.get(_squash(value), OrderStatus.UNKNOWN)


def parse_side(value: Any) -> Side:
    text = _squash(value)
    if text in {"b", "buy"}:
        return Side.BUY
    if text in {"s", "sell"}:
        return Side.SELL
    raise ValueError(f"unknown transaction type {str(value)[:10]!r}")


_PRODUCTS = {
    "intraday": ProductType.MIS,
    "mis": ProductType.MIS,
    "i": ProductType.MIS,
    "longterm": ProductType.CNC,
    "long term": ProductType.CNC,
    "cnc": ProductType.CNC,
    "delivery": ProductType.CNC,
    "c": ProductType.CNC,
    "nrml": ProductType.NRML,
    "normal": ProductType.NRML,
    "m": ProductType.NRML,
}


def parse_product(value: Any) -> ProductType | str:
    """INTRADAY|MIS -> MIS, LONGTERM|CNC|DELIVERY -> CNC, NRML|NORMAL -> NRML; others (MTF, BO) as sent."""
    return _PRODUCTS.get(_squash(value), to_text(value).upper())


_ORDER_TYPES = {
    "market": OrderType.MARKET,
    "mkt": OrderType.MARKET,
    "limit": OrderType.LIMIT,
    "l": OrderType.LIMIT,
    "sl": OrderType.SL,
    "sl l": OrderType.SL,
    "slm": OrderType.SLM,
    "sl m": OrderType.SLM,
}


def parse_order_type(value: Any) -> OrderType | str:
    return _ORDER_TYPES.get(_squash(value), to_text(value).upper())


_TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%d-%m-%Y %H:%M:%S",
    "%d-%b-%Y %H:%M:%S",
    "%d/%m/%Y %H:%M:%S",
    "%b %d %Y %H:%M:%S",
    "%H:%M:%S %d-%m-%Y",
)


def parse_time(value: Any) -> datetime | None:
    """An aware IST datetime from any of Alice Blue's timestamp formats, or None."""
    text = to_text(value)
    if not text:
        return None
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=IST)
        except ValueError:
            continue
    return None


# -- messages and classification --------------------------------------------------------------------------

_SECRETISH = re.compile(r"[A-Za-z0-9_\-+/=.]{24,}")
_TAGS = re.compile(r"<[^>]*>")


def excerpt(text: Any, limit: int = EXCERPT_LENGTH) -> str:
    """A short, single-line, redacted excerpt of broker text: no markup, no long token-like strings."""
    flat = _TAGS.sub(" ", str(text or ""))
    flat = re.sub(r"\s+", " ", flat).strip()
    flat = _SECRETISH.sub("[redacted]", flat)
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


_AUTH_TEXT = re.compile(
    r"session|unauthori[sz]|not log(ged)? ?in|invalid token|token (is )?(expired|invalid)", re.I
)
# "session" also names market sessions; those rejections must not log the account out.
_MARKET_SESSION = re.compile(
    r"(pre[- ]?open|post[- ]?clos\w*|market|trading|amo|after market|closing)\s+session"
    r"|session\s+(is\s+)?closed",
    re.I,
)
_RATE_TEXT = re.compile(r"rate[- ]?limit|too many requests|throttl", re.I)
_TRANSIENT_TEXT = re.compile(
    r"internal server error|try again later|service unavailable|failed to retrieve", re.I
)


def is_auth_text(text: str) -> bool:
    return bool(_AUTH_TEXT.search(text)) and not _MARKET_SESSION.search(text)


def error_from_message(
    message: str, *, code: str = "", mutating: bool, what: str, http_status: int | None = None
) -> BrokerError:
    """The exception for a broker-reported failure (`emsg`, or an open-api code already made readable).

    Session texts -> BrokerAuthError; rate-limit texts -> BrokerRateLimitedError; "internal server error" /
    "try again later" -> BrokerUnavailableError for reads, BrokerOutcomeUnknownError for order changes (the
    broker may have half-done it); anything else -> BrokerRejectedError with the broker's reason.
    """
    reason = excerpt(message) or "rejected without a reason"
    if is_auth_text(reason) or code == "EC087":
        return BrokerAuthError(f"{what}: {reason}", code="session_expired", http_status=http_status)
    if _RATE_TEXT.search(reason):
        return BrokerRateLimitedError(f"{what}: {reason}", code="rate_limited", http_status=http_status)
    if _TRANSIENT_TEXT.search(reason) or code == "EC003":
        if mutating:
            return BrokerOutcomeUnknownError(f"{what}: {reason}", http_status=http_status)
        return BrokerUnavailableError(f"{what}: {reason}", http_status=http_status)
    return BrokerRejectedError(reason, code=code or "rejected", http_status=http_status)


# -- guarding parsers --------------------------------------------------------------------------------------


def read_rows(rows: list[dict[str, Any]], parse: Callable[[dict[str, Any]], T], what: str) -> list[T]:
    """Every row parsed; a row we cannot read makes the whole book unavailable (never silently dropped)."""
    try:
        return [parse(row) for row in rows]
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise BrokerUnavailableError(
            f"{what}: unreadable row ({excerpt(exc, 60)})", code="bad_response"
        ) from None


def read_one(value: Any, parse: Callable[[Any], T], what: str) -> T:
    try:
        return parse(value)
    except BrokerError:
        raise
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise BrokerUnavailableError(
            f"{what}: unreadable answer ({excerpt(exc, 60)})", code="bad_response"
        ) from None


def read_ack(value: Any, parse: Callable[[Any], T], what: str) -> T:
    """The ack of a modify/cancel/square-off answer; an unreadable one is outcome-unknown."""
    try:
        return parse(value)
    except BrokerError:
        raise
    except (ValueError, TypeError, AttributeError, KeyError):
        raise BrokerOutcomeUnknownError(
            f"{what}: unreadable answer; outcome unknown", code="bad_response"
        ) from None


def read_acks(parse: Callable[[], list[Any]], count: int, what: str) -> list[Any]:
    """Parsed acks; an answer we cannot read after an order POST is outcome-unknown, never "not placed"."""
    try:
        return parse()
    except (ValueError, TypeError, AttributeError, KeyError):
        return [
            BrokerOutcomeUnknownError(f"{what}: unreadable answer; outcome unknown", code="bad_response")
        ] * count
