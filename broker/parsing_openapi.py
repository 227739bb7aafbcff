"""Open-api (`/open-api/od/v1`) payloads: request bodies we send and the envelopes/rows we receive.

Pure functions, no I/O: `OpenApiClient` and the fixture tests use exactly these.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from broker.exceptions import (
    BrokerAuthError,
    BrokerError,
    BrokerOutcomeUnknownError,
    BrokerRejectedError,
    BrokerUnavailableError,
)
from broker.parsing import (
    error_from_message,
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
from broker.types import (
    Funds,
    ModifyRequest,
    Order,
    OrderAck,
    OrderHistoryEntry,
    OrderRequest,
    OrderType,
    Position,
    ProductType,
    Profile,
    Side,
    Trade,
)

# Section 9 of the open-api reference (D15): the codes a copier meets, with readable texts.
ERROR_CODES: dict[str, str] = {
    "EC003": "An error occurred. Please try again later",
    "EC086": "Read-only user; cannot place, modify or cancel orders",
    "EC087": "Session Expired",
    "EC088": "Single order slicing limit exceeded",
    "EC089": "Disclosed quantity cannot equal quantity",
    "EC090": "Exchange not allowed",
    "EC091": "Order complexity not allowed",
    "EC092": "Product must be INTRADAY, LONGTERM or MTF",
    "EC097": "Request not allowed from this IP",
    "EC814": "brokerOrderId cannot be empty",
    "EC815": "Invalid brokerOrderId",
    "EC829": "AMO not allowed for this product",
    "EC830": "AMO not allowed for this order type",
    "EC831": "AMO not allowed for this validity",
    "EC832": "AMO not allowed for this segment",
    "EC855": "Modification is not allowed",
    "EC858": "Order placement not allowed for this exchange",
    "EC900": "Exchange cannot be empty",
    "EC901": "Exchange is not valid",
    "EC903": "Quantity cannot be empty",
    "EC904": "Quantity must be positive",
    "EC906": "Product cannot be empty",
    "EC907": "Transaction type cannot be empty",
    "EC912": "Failed to place the order",
    "EC914": "Request parameter cannot be empty or null",
    "EC915": "Failed to retrieve the order book",
    "EC916": "No orders found",
    "EC917": "Failed to retrieve the order history",
    "EC918": "No order history found",
    "EC919": "Failed to retrieve the position book",
    "EC920": "No positions found",
    "EC921": "Failed to retrieve holdings",
    "EC922": "No holdings found",
    "EC923": "Failed to retrieve the profile",
    "EC924": "Failed to retrieve limits",
    "EC926": "No trades found",
    "EC927": "Failed to retrieve the trade book",
    "EC929": "Transaction type must be BUY or SELL",
    "EC930": "Order type is not valid",
    "EC932": "Validity is not valid",
    "EC934": "Order type cannot be empty",
    "EC936": "Product cannot be empty",
    "EC937": "Cancel all failed",
    "EC938": "No open orders to cancel",
    "EC941": "instrumentId cannot be empty",
    "EC942": "Order complexity cannot be empty",
    "EC944": "Validity cannot be empty",
    "EC945": "brokerOrderId cannot be empty",
    "EC946": "instrumentId must be numeric",
    "EC947": "Instrument does not exist",
    "EC948": "Quantity exceeds 50,000,000",
    "EC950": "Price is required",
    "EC951": "Trigger price is required",
    "EC954": "Quantity is not a multiple of lot size",
    "EC957": "Price is not valid",
    "EC958": "Price must be greater than zero",
    "EC959": "Trigger price is not valid",
    "EC960": "Trigger price must be greater than zero",
    "EC971": "orderTag exceeds 50 characters",
    "EC972": "algoId exceeds 12 characters",
    "EC973": "Trigger price must be below price for a buy stop-loss",
    "EC974": "Trigger price must be above price for a sell stop-loss",
    "EC975": "Disclosed quantity exceeds quantity",
    "EC979": "Invalid brokerOrderId",
    "EC983": "algoId is not valid",
    "EC984": "orderTag is not valid",
    "EC990": "Quantity is not a multiple of lot size",
    "EC992": "Invalid brokerOrderId",
    "EC993": "Order is not in a valid state to modify",
    "EC994": "Order is not in your order book",
    "EC996": "IOC not allowed for AMO",
    "EC997": "Order is not in the order book and cannot be cancelled",
    "EC998": "Order is not in the order book; no history",
    "EC999": "Order is not in the order book and cannot be modified",
}
EMPTY_BOOK_CODES = frozenset({"EC916", "EC918", "EC920", "EC922", "EC926"})
FAILED_BOOK_CODES = frozenset({"EC915", "EC917", "EC919", "EC921", "EC923", "EC924", "EC927"})

_PRODUCT_OUT = {ProductType.MIS: "INTRADAY", ProductType.CNC: "LONGTERM", ProductType.NRML: "NRML"}


def readable_error(message: Any) -> tuple[str, str]:
    """(code, reason) of an open-api `message`: "EC954" -> ("EC954", "EC954: <readable text>")."""
    text = to_text(message)
    match = re.match(r"(EC\d{3})\b[\s:.-]*(.*)", text, re.IGNORECASE)
    if not match:
        return "", text
    code = match.group(1).upper()
    if match.group(2):
        return code, text
    known = ERROR_CODES.get(code)
    return code, f"{code}: {known}" if known else code


def envelope_error(body: Any, *, mutating: bool, what: str, http_status: int | None = None) -> BrokerError:
    """The exception for a failed `{"status":"Not_Ok","message":"EC..."}` envelope."""
    message = body.get("message") if isinstance(body, dict) else None
    code, reason = readable_error(message)
    if code == "EC087":
        return BrokerAuthError(f"{what}: {reason}", code="session_expired", http_status=http_status)
    if code in FAILED_BOOK_CODES:
        return BrokerUnavailableError(f"{what}: {reason}", code=code, http_status=http_status)
    return error_from_message(
        reason or "rejected", code=code, mutating=mutating, what=what, http_status=http_status
    )


def unwrap(body: Any, *, mutating: bool, what: str, empty_ok: bool = False) -> list[dict[str, Any]]:
    """The `result` rows of an open-api envelope; empty-book codes give [] when `empty_ok`."""
    if not isinstance(body, dict) or not ("status" in body or "stat" in body):
        raise _bad_response(what, mutating)
    status = body.get("status", body.get("stat"))
    if not stat_is_ok(status):
        code, _ = readable_error(body.get("message"))
        if empty_ok and code in EMPTY_BOOK_CODES:
            return []
        if not stat_is_not_ok(status) and not body.get("message"):
            raise _bad_response(what, mutating)
        raise envelope_error(body, mutating=mutating, what=what)
    result = body.get("result")
    if result is None:
        return []
    if isinstance(result, dict):
        result = [result]
    if not isinstance(result, list) or not all(isinstance(row, dict) for row in result):
        raise _bad_response(what, mutating)
    return result


def _bad_response(what: str, mutating: bool) -> BrokerError:
    if mutating:
        return BrokerOutcomeUnknownError(f"{what}: unexpected answer; outcome unknown", code="bad_response")
    return BrokerUnavailableError(f"{what}: unexpected answer", code="bad_response")


def _first(row: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = row.get(key)
        if value not in (None, "", "--"):
            return value
    return None


# -- sessions -------------------------------------------------------------------------------------------


def parse_user_details(body: Any) -> tuple[str, str]:
    """(userSession, clientId) from vendor/getUserDetails; raises when there is no session in it."""
    what = "getUserDetails"
    if not isinstance(body, dict):
        raise BrokerUnavailableError(f"{what}: unexpected answer", code="bad_response")
    session = to_text(body.get("userSession"))
    if not session and isinstance(body.get("result"), list) and body["result"]:
        session = to_text((body["result"][0] or {}).get("accessToken"))  # the SDK's alternative shape
    if session:
        return session, to_id(body.get("clientId"))
    emsg = to_text(body.get("emsg") or body.get("message"))
    if not emsg:
        raise BrokerAuthError(f"{what}: no session in the answer", code="no_session")
    raise error_from_message(emsg, mutating=False, what=what)


# -- requests --------------------------------------------------------------------------------------------


def _price_text(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")


def order_payload(order: OrderRequest) -> dict[str, Any]:
    """One element of the placeorder array: every key, "" for unused ones, prices as strings."""
    price = "0" if order.order_type in (OrderType.MARKET, OrderType.SLM) else _price_text(order.price)
    trigger = _price_text(order.trigger_price) if order.order_type in (OrderType.SL, OrderType.SLM) else ""
    return {
        "exchange": order.exchange,
        "instrumentId": to_token(order.token),
        "transactionType": order.side.value,
        "quantity": int(order.quantity),
        "product": _PRODUCT_OUT.get(ProductType(order.product), str(order.product)),
        "orderComplexity": "AMO" if order.amo else "REGULAR",
        "orderType": order.order_type.value,
        "validity": order.validity.value,
        "price": price,
        "slLegPrice": "",
        "targetLegPrice": "",
        "slTriggerPrice": trigger,
        "disclosedQuantity": "",
        "marketProtectionPercent": "",
        "deviceId": "",
        "trailingSlAmount": "",
        "apiOrderSource": "",
        "algoId": "",
        "orderTag": order.tag,
    }


def modify_payload(change: ModifyRequest) -> dict[str, Any]:
    """The orders/modify object, keys as in the reference's example (D04/PM)."""
    price = "0" if change.order_type in (OrderType.MARKET, OrderType.SLM) else _price_text(change.price)
    trigger = _price_text(change.trigger_price) if change.order_type in (OrderType.SL, OrderType.SLM) else ""
    return {
        "brokerOrderId": change.order_id,
        "quantity": int(change.quantity),
        "orderType": change.order_type.value,
        "slTriggerPrice": trigger,
        "price": price,
        "slLegPrice": "",
        "trailingSLAmount": "",
        "targetLegPrice": "",
        "validity": change.validity.value,
        "disclosedQuantity": "",
        "marketProtection": "",
        "deviceId": "",
    }


def square_off_payload(position: Position, *, tag: str = "") -> dict[str, Any]:
    """The sqroff element (place schema): opposite side, abs(net quantity), MARKET."""
    if position.net_quantity == 0:
        raise ValueError("position is flat")
    side = Side.SELL if position.net_quantity > 0 else Side.BUY
    product = position.product
    product_code = (
        _PRODUCT_OUT.get(product, str(product)) if isinstance(product, ProductType) else str(product)
    )
    return {
        "exchange": position.exchange,
        "instrumentId": to_token(position.token),
        "transactionType": side.value,
        "quantity": abs(position.net_quantity),
        "product": product_code,
        "orderComplexity": "REGULAR",
        "orderType": "MARKET",
        "validity": "DAY",
        "price": "0",
        "slLegPrice": "",
        "targetLegPrice": "",
        "slTriggerPrice": "",
        "disclosedQuantity": "",
        "marketProtectionPercent": "",
        "deviceId": "",
        "trailingSlAmount": "",
        "apiOrderSource": "",
        "algoId": "",
        "orderTag": tag,
    }


# -- responses -------------------------------------------------------------------------------------------


def parse_acks(body: Any, count: int, *, what: str) -> list[OrderAck | BrokerError]:
    """One OrderAck or BrokerError per order sent, from a placeorder/sqroff answer.

    A per-result `status` other than Ok is that order's rejection; a result without a brokerOrderId (or a
    missing result) is outcome-unknown, never "not placed".
    """
    try:
        rows = unwrap(body, mutating=True, what=what)
    except BrokerRejectedError as rejected:  # every order refused in one top-level answer
        return [rejected] * count
    acks: list[OrderAck | BrokerError] = []
    for index in range(count):
        if index >= len(rows):
            acks.append(
                BrokerOutcomeUnknownError(f"{what}: no result for order {index + 1}", code="bad_response")
            )
            continue
        row = rows[index]
        status = row.get("status", row.get("stat"))
        order_id = to_id(row.get("brokerOrderId"))
        if status is not None and not stat_is_ok(status) and not order_id:
            acks.append(envelope_error(row, mutating=True, what=what))
        elif order_id:
            acks.append(OrderAck(order_id=order_id, request_time=to_text(row.get("requestTime"))))
        else:
            acks.append(
                BrokerOutcomeUnknownError(f"{what}: answer without brokerOrderId", code="bad_response")
            )
    return acks


def parse_ack(body: Any, *, what: str, fallback_id: str = "") -> OrderAck:
    """The single OrderAck of a modify/cancel answer."""
    rows = unwrap(body, mutating=True, what=what)
    row = rows[0] if rows else {}
    order_id = to_id(row.get("brokerOrderId")) or fallback_id
    return OrderAck(order_id=order_id, request_time=to_text(row.get("requestTime")))


def parse_order(row: dict[str, Any]) -> Order:
    """An order-book (or history) row."""
    quantity = to_int(row.get("quantity"))
    filled = to_int(row.get("filledQuantity"))
    return Order(
        order_id=to_id(row.get("brokerOrderId")),
        exchange=to_text(row.get("exchange")).upper(),
        token=to_token(row.get("instrumentId")),
        trading_symbol=to_text(_first(row, "formattedInstrumentName", "tradingSymbol")),
        side=parse_side(row.get("transactionType")),
        quantity=quantity,
        filled_quantity=filled,
        pending_quantity=to_int(row.get("pendingQuantity")),
        cancelled_quantity=to_int(row.get("cancelledQuantity")),
        price=to_decimal(row.get("price")),
        trigger_price=to_decimal(row.get("slTriggerPrice")),
        average_price=to_decimal(row.get("averageTradedPrice")),
        product=parse_product(row.get("product")),
        order_type=parse_order_type(row.get("orderType")),
        status=parse_status(row.get("orderStatus")),
        rejection_reason=to_text(row.get("rejectionReason")),
        tag=to_text(row.get("orderTag")),
        order_time=to_text(_first(row, "orderTime", "exchangeTimestamp", "brokerUpdateTime")),
        exchange_order_id=to_id(row.get("exchangeOrderId")),
    )


def parse_history_entry(row: dict[str, Any]) -> OrderHistoryEntry:
    return OrderHistoryEntry(
        order_id=to_id(row.get("brokerOrderId")),
        status=parse_status(row.get("orderStatus")),
        filled_quantity=to_int(row.get("filledQuantity")),
        average_price=to_decimal(row.get("averageTradedPrice")),
        rejection_reason=to_text(row.get("rejectionReason")),
        time=parse_time(
            _first(row, "exchangeUpdateTime", "brokerUpdateTime", "exchangeTimestamp", "orderTime")
        ),
    )


def parse_trade(row: dict[str, Any]) -> Trade:
    return Trade(
        order_id=to_id(row.get("brokerOrderId")),
        trade_id=to_id(row.get("exchangeTradeId")),
        exchange=to_text(row.get("exchange")).upper(),
        token=to_token(row.get("instrumentId")),
        trading_symbol=to_text(_first(row, "formattedInstrumentName", "tradingSymbol")),
        side=parse_side(row.get("transactionType")),
        quantity=to_int(row.get("filledQuantity")),
        price=to_decimal(row.get("tradedPrice")),
        product=parse_product(row.get("product")),
        tag=to_text(row.get("orderTag")),
        fill_time=to_text(row.get("fillTimestamp")),
    )


def parse_position(row: dict[str, Any]) -> Position:
    return Position(
        exchange=to_text(row.get("exchange")).upper(),
        token=to_token(row.get("instrumentId")),
        trading_symbol=to_text(_first(row, "tradingSymbol", "formattedInstrumentName")),
        product=parse_product(row.get("product")),
        net_quantity=to_int(row.get("netQuantity")),
        buy_quantity=to_int(_first(row, "buyQuantity", "dayBuyQuantity")),
        sell_quantity=to_int(_first(row, "sellQuantity", "daySellQuantity")),
        buy_average=to_decimal(_first(row, "buyPrice", "dayBuyPrice")),
        sell_average=to_decimal(_first(row, "sellPrice", "daySellPrice")),
        net_average=to_decimal(row.get("netAveragePrice")),
        realised_pnl=to_decimal(row.get("realizedPnl")),
        unrealised_pnl=None,
        last_price=to_decimal(row.get("ltp"), default=None),
    )


def parse_funds(rows: Sequence[dict[str, Any]]) -> Funds:
    if not rows:
        raise BrokerUnavailableError("limits: empty answer", code="bad_response")
    row = rows[0]
    return Funds(
        available_cash=to_decimal(row.get("tradingLimit")),
        utilized_margin=to_decimal(row.get("utilizedMargin")),
        collateral=to_decimal(row.get("collateralMargin")),
        opening_cash=to_decimal(row.get("openingCashLimit"), default=None),
    )


def parse_profile(rows: Sequence[dict[str, Any]]) -> Profile:
    if not rows:
        raise BrokerUnavailableError("profile: empty answer", code="bad_response")
    row = rows[0]
    exchanges = row.get("exchanges") or []
    products = row.get("products") or []
    return Profile(
        client_id=to_id(row.get("clientId")),
        name=to_text(row.get("clientName")),
        exchanges=tuple(to_text(x).upper() for x in exchanges if to_text(x)),
        products=tuple(to_text(x).upper() for x in products if to_text(x)),
    )


def parse_chart_close(body: Any) -> Decimal | None:
    """The latest candle's `close` of a chart/history answer `{"stat":"Ok","result":[{time,...,close}]}`
    (None when there is no candle); `{"stat":"Not_Ok","emsg"}` raises."""
    if not isinstance(body, dict):
        raise _bad_response("chart/history", mutating=False)
    if stat_is_not_ok(body.get("stat")):
        raise error_from_message(
            to_text(body.get("emsg")) or "rejected", mutating=False, what="chart/history"
        )
    candles = body.get("result") or []
    if not isinstance(candles, list) or not all(isinstance(c, dict) for c in candles):
        raise _bad_response("chart/history", mutating=False)
    if not candles:
        return None
    latest = max(candles, key=lambda c: to_int(c.get("time")))
    try:
        price = to_decimal(latest.get("close"), None)
    except ValueError:
        raise _bad_response("chart/history", mutating=False) from None
    return price if price and price > 0 else None
