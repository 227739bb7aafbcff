"""Order-notify payloads (websocket frames, webhook bodies) and the createWsToken / webhook answers.

Alice Blue's order updates are Noren-style: lower-case keys, every value a string, short codes (`trantype`
B/S, `prctyp` MKT/L/SL/SL-M, `pcode` I/C/M...), upper-case statuses in Noren's spelling (`CANCELED`,
`TRIGGER_PENDING`) or the REST books' (`CANCELLED`, `TRIGGER PENDING`). Frames with `"t":"om"` are order
updates; other frames are acks and heartbeats. Webhook bodies are the same payload without `t`.
Pure functions, no I/O.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from broker.exceptions import BrokerError, BrokerUnavailableError
from broker.parsing import (
    error_from_message,
    is_placeholder,
    parse_order_type,
    parse_product,
    parse_side,
    parse_status,
    parse_time,
    stat_is_not_ok,
    stat_is_ok,
    to_decimal,
    to_id,
    to_int,
    to_text,
    to_token,
)
from broker.parsing_openapi import envelope_error
from broker.types import OrderStatus, OrderUpdate, ProductType, Side

ORDER_FRAME_TYPE = "om"

# Noren's one-letter product codes; the long names (INTRADAY, LONGTERM, NRML...) go through parse_product.
_NOREN_PRODUCTS: dict[str, ProductType | str] = {
    "I": ProductType.MIS,
    "C": ProductType.CNC,
    "M": ProductType.NRML,
    "H": "CO",
    "B": "BO",
    "F": "MTF",
}
# When a payload carries no status, its report type still says what happened.
_REPORT_STATUSES: dict[str, OrderStatus] = {
    "new": OrderStatus.OPEN,
    "newack": OrderStatus.OPEN,
    "replaced": OrderStatus.OPEN,
    "modack": OrderStatus.OPEN,
    "canceled": OrderStatus.CANCELLED,
    "cancelled": OrderStatus.CANCELLED,
    "rejected": OrderStatus.REJECTED,
}
_EPOCH = re.compile(r"\d{9,13}")


def _optional_int(value: Any) -> int | None:
    return None if is_placeholder(value) else to_int(value)


def _optional_decimal(value: Any) -> Decimal | None:
    return to_decimal(value, default=None)


def _first(payload: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = payload.get(key)
        if not is_placeholder(value):
            return value
    return None


def _product(value: Any) -> ProductType | str:
    text = to_text(value).upper()
    if not text:
        return ""
    return _NOREN_PRODUCTS.get(text) or parse_product(text)


def _side(value: Any) -> Side | None:
    return None if is_placeholder(value) else parse_side(value)


def _event_time(payload: dict[str, Any]) -> datetime | None:
    """The event's time: the fill time on fills, else the exchange time, else the OMS (Noren) time."""
    for key in ("fltm", "exch_tm", "norentm", "tm", "ntm"):
        text = to_text(payload.get(key))
        if not text:
            continue
        if _EPOCH.fullmatch(text):
            seconds = int(text) / (1000 if len(text) > 11 else 1)
            return datetime.fromtimestamp(seconds, tz=UTC)
        moment = parse_time(text)
        if moment is not None:
            return moment
    return None


def _status(payload: dict[str, Any], quantity: int | None, filled: int | None) -> OrderStatus:
    status = parse_status(payload.get("status")) if not is_placeholder(payload.get("status")) else None
    if status is not None and status is not OrderStatus.UNKNOWN:
        return status
    report = re.sub(r"[\s_\-]+", "", to_text(payload.get("reporttype"))).lower()
    if report in {"fill", "partialfill"} and quantity is not None and filled is not None:
        return OrderStatus.COMPLETE if filled >= quantity else OrderStatus.OPEN
    return _REPORT_STATUSES.get(report, status or OrderStatus.UNKNOWN)


def is_order_payload(payload: Any) -> bool:
    """True for an order update (an `om` frame, or a webhook body carrying an order number)."""
    if not isinstance(payload, dict):
        return False
    frame_type = payload.get("t")
    if frame_type is not None:
        return to_text(frame_type).lower() == ORDER_FRAME_TYPE
    return not is_placeholder(payload.get("norenordno"))


def parse_order_update(payload: Any) -> OrderUpdate | None:
    """An OrderUpdate from an order-notify frame or webhook body; None for acks, heartbeats, other frames.

    Raises ValueError for an order payload it cannot read (no order number, an unknown side, a number that
    is not one): the caller skips and logs it rather than guessing.
    """
    if not is_order_payload(payload):
        return None
    order_id = to_id(payload.get("norenordno"))
    if not order_id:
        raise ValueError("order update without norenordno")
    quantity = _optional_int(payload.get("qty"))
    filled = _optional_int(payload.get("fillshares"))
    return OrderUpdate(
        order_id=order_id,
        status=_status(payload, quantity, filled),
        report_type=to_text(payload.get("reporttype")),
        exchange=to_text(payload.get("exch")).upper(),
        token=to_token(payload.get("token")),
        trading_symbol=to_text(payload.get("tsym")),
        side=_side(payload.get("trantype")),
        quantity=quantity,
        filled_quantity=filled,
        cancelled_quantity=_optional_int(payload.get("cancelqty")),
        price=_optional_decimal(payload.get("prc")),
        trigger_price=_optional_decimal(payload.get("trgprc")),
        average_price=_optional_decimal(payload.get("avgprc")),
        product=_product(_first(payload, "pcode", "prd")),
        order_type=parse_order_type(payload.get("prctyp")) if payload.get("prctyp") else "",
        validity=to_text(payload.get("ret")).upper(),
        tag=to_text(payload.get("remarks")),
        rejection_reason=to_text(payload.get("rejreason")),
        fill_quantity=_optional_int(payload.get("flqty")),
        fill_price=_optional_decimal(payload.get("flprc")),
        fill_id=to_id(payload.get("flid")),
        exchange_order_id=to_id(payload.get("exchordid")),
        user_id=to_text(_first(payload, "uid", "actid")),
        event_time=_event_time(payload),
        raw=dict(payload),
    )


def subscribe_answer_ok(payload: Any) -> bool | None:
    """The verdict on the answer to the subscribe frame: True (Ok), False (Not_ok), None (something else)."""
    if not isinstance(payload, dict):
        return None
    status = payload.get("status", payload.get("stat"))
    if stat_is_ok(status):
        return True
    if stat_is_not_ok(status):
        return False
    return None


def _failure(body: dict[str, Any], what: str) -> BrokerError:
    message = to_text(body.get("message") or body.get("emsg"))
    if re.match(r"EC\d{3}\b", message, re.IGNORECASE):
        return envelope_error({"message": message}, mutating=False, what=what)
    return error_from_message(message or "refused without a reason", mutating=False, what=what)


def parse_ws_token(body: Any, *, what: str = "createWsToken") -> str | None:
    """The orderToken of a createWsToken answer; None for the empty body (the feed is not enabled)."""
    if body is None:
        return None
    if not isinstance(body, dict):
        raise BrokerUnavailableError(f"{what}: unexpected answer", code="bad_response")
    status = body.get("status", body.get("stat"))
    if not stat_is_ok(status):
        raise _failure(body, what)
    result = body.get("result")
    rows = result if isinstance(result, list) else [result]
    for row in rows:
        if isinstance(row, dict) and to_text(row.get("orderToken")):
            return to_text(row["orderToken"])
    raise BrokerUnavailableError(f"{what}: answer without an orderToken", code="bad_response")


def parse_webhook_answer(body: Any, *, what: str) -> None:
    """Check a webhook subscribe/unsubscribe answer (legacy `stat` or open-api `status` envelope)."""
    if not isinstance(body, dict):
        raise BrokerUnavailableError(f"{what}: unexpected answer", code="bad_response")
    status = body.get("stat", body.get("status"))
    if stat_is_ok(status):
        return
    if stat_is_not_ok(status):
        raise _failure(body, what)
    raise BrokerUnavailableError(f"{what}: unexpected answer", code="bad_response")
