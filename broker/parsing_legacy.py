"""Legacy API (`/rest/AliceBlueAPIService/api/`) payloads: request bodies we send and the answers we receive.

Pure functions, no I/O: `LegacyClient` and the fixture tests use exactly these.
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
    Trade,
)

SEGMENTS: dict[str, str] = {
    "nse_cm": "NSE",
    "bse_cm": "BSE",
    "nse_fo": "NFO",
    "mcx_fo": "MCX",
    "cde_fo": "CDS",
    "mcx_sx": "BFO",
    "bcs_fo": "BCD",
    "nse_com": "NCO",
    "bse_com": "BCO",
}
EXCHANGE_SEGMENTS: dict[str, str] = {exchange: segment for segment, exchange in SEGMENTS.items()}
_PRICE_TYPES = {OrderType.MARKET: "MKT", OrderType.LIMIT: "L", OrderType.SL: "SL", OrderType.SLM: "SL-M"}
_NO_DATA = re.compile(r"no data|no record|not found|no orders?\b|no trades?\b|no positions?\b", re.IGNORECASE)


def exchange_of(value: Any) -> str:
    """ "NSE" from "NSE" or from a segment code such as "nse_cm"."""
    text = to_text(value)
    return SEGMENTS.get(text.lower(), text.upper())


def _bad_response(what: str, mutating: bool) -> BrokerError:
    if mutating:
        return BrokerOutcomeUnknownError(f"{what}: unexpected answer; outcome unknown", code="bad_response")
    return BrokerUnavailableError(f"{what}: unexpected answer", code="bad_response")


def failure(row: dict[str, Any], *, mutating: bool, what: str) -> BrokerError:
    """The exception for a `{"stat":"Not_Ok","emsg":...}` answer."""
    return error_from_message(to_text(row.get("emsg")) or "rejected", mutating=mutating, what=what)


def is_failure(row: Any) -> bool:
    return isinstance(row, dict) and stat_is_not_ok(row.get("stat"))


def _is_no_data(row: dict[str, Any]) -> bool:
    return bool(_NO_DATA.search(to_text(row.get("emsg"))))


def book_rows(body: Any, *, what: str) -> list[dict[str, Any]]:
    """Rows of a list endpoint; every documented empty answer (`{"stat":"Not_Ok","emsg":"No Data"}`, a
    one-element list of it, `[]`) is []; other failures raise."""
    if isinstance(body, dict):
        if is_failure(body):
            if _is_no_data(body):
                return []
            raise failure(body, mutating=False, what=what)
        if "stat" in body and not stat_is_ok(body.get("stat")):
            raise failure(body, mutating=False, what=what)
        for key in ("data", "result", "HoldingVal"):
            if isinstance(body.get(key), list):
                return book_rows(body[key], what=what)
        raise _bad_response(what, mutating=False)
    if not isinstance(body, list):
        raise _bad_response(what, mutating=False)
    rows: list[dict[str, Any]] = []
    for row in body:
        if not isinstance(row, dict):
            raise _bad_response(what, mutating=False)
        if is_failure(row):
            if _is_no_data(row):
                continue
            raise failure(row, mutating=False, what=what)
        rows.append(row)
    return rows


def _first(row: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = row.get(key)
        if value not in (None, "", "--", "NA"):
            return value
    return None


# -- sessions -------------------------------------------------------------------------------------------


def _session_error(body: Any, what: str, key: str) -> BrokerError:
    if not isinstance(body, dict):
        return BrokerUnavailableError(f"{what}: unexpected answer", code="bad_response")
    emsg = to_text(body.get("emsg"))
    if not emsg:
        return BrokerAuthError(f"{what}: no {key} in the answer", code="no_session")
    return error_from_message(emsg, mutating=False, what=what)


def parse_enc_key(body: Any) -> str:
    """`encKey` from customer/getAPIEncpkey."""
    key = to_text(body.get("encKey")) if isinstance(body, dict) else ""
    if key and not is_failure(body):
        return key
    raise _session_error(body, "getAPIEncpkey", "encKey")


def parse_session_id(body: Any) -> str:
    """`sessionID` from customer/getUserSID."""
    session = to_text(body.get("sessionID")) if isinstance(body, dict) else ""
    if session and not is_failure(body):
        return session
    raise _session_error(body, "getUserSID", "sessionID")


def parse_sso_session(body: Any) -> str:
    """`userSession` from sso/getUserDetails; `stat:"Ok"` without it is a failure (TOTP not enabled...)."""
    session = to_text(body.get("userSession")) if isinstance(body, dict) else ""
    if session and not is_failure(body):
        return session
    raise _session_error(body, "getUserDetails", "userSession")


# -- requests --------------------------------------------------------------------------------------------


def _price_number(value: Decimal | None) -> float:
    # The legacy SDK (pya3) sends prices as JSON numbers; a 2-decimal price round-trips exactly through repr.
    return float(value) if value is not None else 0.0


def order_payload(order: OrderRequest) -> dict[str, Any]:
    """One element of the executePlaceOrder list: every key, JSON null for unused ones."""
    needs_price = order.order_type in (OrderType.LIMIT, OrderType.SL)
    needs_trigger = order.order_type in (OrderType.SL, OrderType.SLM)
    return {
        "complexty": "amo" if order.amo else "regular",
        "discqty": 0,
        "exch": order.exchange,
        "pCode": ProductType(order.product).value,
        "prctyp": _PRICE_TYPES[order.order_type],
        "price": _price_number(order.price if needs_price else None),
        "qty": int(order.quantity),
        "ret": order.validity.value,
        "symbol_id": to_token(order.token),
        "trading_symbol": order.trading_symbol,
        "transtype": order.side.value,
        "trigPrice": _price_number(order.trigger_price) if needs_trigger else None,
        "orderTag": order.tag or None,
        "stopLoss": None,
        "target": None,
        "trailing_stop_loss": None,
        "deviceNumber": None,
    }


def modify_payload(change: ModifyRequest) -> dict[str, Any]:
    """The modifyOrder object (a full replacement, not a patch)."""
    needs_price = change.order_type in (OrderType.LIMIT, OrderType.SL)
    needs_trigger = change.order_type in (OrderType.SL, OrderType.SLM)
    return {
        "nestOrderNumber": change.order_id,
        "exch": change.exchange,
        "trading_symbol": change.trading_symbol,
        "transtype": change.side.value,
        "prctyp": _PRICE_TYPES[change.order_type],
        "price": _price_number(change.price if needs_price else None),
        "qty": int(change.quantity),
        "trigPrice": _price_number(change.trigger_price) if needs_trigger else None,
        "pCode": ProductType(change.product).value,
        "discqty": 0,
        "filledQuantity": 0,
    }


def cancel_payload(order_id: str, *, exchange: str = "", trading_symbol: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {"nestOrderNumber": order_id}
    if exchange:
        body["exch"] = exchange
    if trading_symbol:
        body["trading_symbol"] = trading_symbol
    return body


def square_off_payload(position: Position) -> dict[str, Any]:
    """The sqrOofPosition object (misspelt keys, segment code in exchSeg); no orderTag exists here."""
    if position.net_quantity == 0:
        raise ValueError("position is flat")
    product = position.product.value if isinstance(position.product, ProductType) else str(position.product)
    return {
        "exchSeg": EXCHANGE_SEGMENTS.get(position.exchange.upper(), position.exchange),
        "pCode": product,
        "netQty": str(position.net_quantity),
        "tockenNo": to_token(position.token),
        "symbol": position.trading_symbol,
    }


# -- responses -------------------------------------------------------------------------------------------


def parse_acks(body: Any, count: int, *, what: str) -> list[OrderAck | BrokerError]:
    """One OrderAck or BrokerError per order sent, from an executePlaceOrder answer (a list)."""
    if isinstance(body, dict):
        if is_failure(body):
            error = failure(body, mutating=True, what=what)
            if isinstance(error, BrokerRejectedError):
                return [error] * count
            raise error
        body = [body]
    if not isinstance(body, list):
        raise _bad_response(what, mutating=True)
    acks: list[OrderAck | BrokerError] = []
    for index in range(count):
        row = body[index] if index < len(body) else None
        if not isinstance(row, dict):
            acks.append(
                BrokerOutcomeUnknownError(f"{what}: no result for order {index + 1}", code="bad_response")
            )
            continue
        order_id = to_id(row.get("NOrdNo") or row.get("nestOrderNumber"))
        if is_failure(row) and not order_id:
            acks.append(failure(row, mutating=True, what=what))
        elif order_id:
            acks.append(OrderAck(order_id=order_id))
        else:
            acks.append(BrokerOutcomeUnknownError(f"{what}: answer without NOrdNo", code="bad_response"))
    return acks


def parse_ack(body: Any, *, what: str, fallback_id: str) -> OrderAck:
    """The OrderAck of a modify/cancel/square-off answer (`Result` "text : id" or `nestOrderNumber`)."""
    if isinstance(body, list) and len(body) == 1:
        body = body[0]
    if not isinstance(body, dict):
        raise _bad_response(what, mutating=True)
    if is_failure(body):
        raise failure(body, mutating=True, what=what)
    if not stat_is_ok(body.get("stat")):
        raise _bad_response(what, mutating=True)
    order_id = to_id(body.get("nestOrderNumber") or body.get("NOrdNo"))
    if not order_id:
        match = re.search(r"(\d{6,})\s*$", to_text(body.get("Result")))
        order_id = match.group(1) if match else fallback_id
    return OrderAck(order_id=order_id)


def parse_order(row: dict[str, Any]) -> Order:
    """An order-book row (6.4): mixed number/string types, "00.00" zeros, `remarks` = our orderTag."""
    quantity = to_int(row.get("Qty"))
    filled = to_int(_first(row, "Fillshares", "Filledshares"))
    return Order(
        order_id=to_id(row.get("Nstordno")),
        exchange=exchange_of(_first(row, "Exchange", "Exseg")),
        token=to_token(row.get("token")),
        trading_symbol=to_text(_first(row, "Trsym", "Tsym")),
        side=parse_side(row.get("Trantype")),
        quantity=quantity,
        filled_quantity=filled,
        pending_quantity=to_int(row.get("Unfilledsize")),
        cancelled_quantity=to_int(row.get("Cancelqty")),
        price=to_decimal(row.get("Prc")),
        trigger_price=to_decimal(row.get("Trgprc")),
        average_price=to_decimal(row.get("Avgprc")),
        product=parse_product(row.get("Pcode")),
        order_type=parse_order_type(row.get("Prctype")),
        status=parse_status(row.get("Status")),
        rejection_reason=to_text(row.get("RejReason")),
        tag=to_text(row.get("remarks")),
        order_time=to_text(_first(row, "OrderedTime", "orderentrytime")),
        exchange_order_id=to_id(row.get("ExchOrdID")),
    )


def parse_history_entry(row: dict[str, Any]) -> OrderHistoryEntry:
    """An orderHistory row (6.10: lower-case names)."""
    return OrderHistoryEntry(
        order_id=to_id(_first(row, "nestordernumber", "Nstordno")),
        status=parse_status(_first(row, "Status", "status")),
        filled_quantity=to_int(_first(row, "filledShares", "Fillshares")),
        average_price=to_decimal(_first(row, "averageprice", "Avgprc")),
        rejection_reason=to_text(_first(row, "rejectionreason", "RejReason")),
        time=parse_time(_first(row, "exchangetimestamp", "filldateandtime", "OrderedTime")),
    )


def parse_trade(row: dict[str, Any]) -> Trade:
    """A trade-book row (6.6): one per fill; price from AvgPrice -> Averageprice -> Price."""
    return Trade(
        order_id=to_id(row.get("Nstordno")),
        trade_id=to_id(row.get("FillId")),
        exchange=exchange_of(_first(row, "Exchange", "Exchseg")),
        token=to_token(_first(row, "Symbol", "token")),
        trading_symbol=to_text(_first(row, "Tsym", "Trsym")),
        side=parse_side(row.get("Trantype")),
        quantity=to_int(_first(row, "Filledqty", "Qty")),
        price=to_decimal(_first(row, "AvgPrice", "Averageprice", "Price")),
        product=parse_product(row.get("Pcode")),
        tag=to_text(row.get("remarks")),
        fill_time=to_text(_first(row, "Filltime", "Exchtime")),
    )


def parse_position(row: dict[str, Any]) -> Position:
    """A positionBook row (6.7): quantities as strings, negative Netqty for shorts, comma amounts."""
    net_quantity = to_int(row.get("Netqty"))
    if net_quantity > 0:
        net_average = to_decimal(_first(row, "NetBuyavgprc", "Buyavgprc"))
    elif net_quantity < 0:
        net_average = to_decimal(_first(row, "NetSellavgprc", "Sellavgprc"))
    else:
        net_average = Decimal("0")
    return Position(
        exchange=exchange_of(_first(row, "Exchange", "Exchangeseg")),
        token=to_token(row.get("Token")),
        trading_symbol=to_text(_first(row, "Tsym", "Symbol")),
        product=parse_product(row.get("Pcode")),
        net_quantity=net_quantity,
        buy_quantity=to_int(_first(row, "Bqty", "Fillbuyqty", "netbuyqty")),
        sell_quantity=to_int(_first(row, "Sqty", "Fillsellqty", "netsellqty")),
        buy_average=to_decimal(_first(row, "Buyavgprc", "NetBuyavgprc")),
        sell_average=to_decimal(_first(row, "Sellavgprc", "NetSellavgprc")),
        net_average=net_average,
        realised_pnl=to_decimal(row.get("realisedprofitloss")),
        unrealised_pnl=to_decimal(row.get("unrealisedprofitloss"), default=None),
        last_price=to_decimal(row.get("LTP"), default=None),
    )


def parse_funds(rows: Sequence[dict[str, Any]]) -> Funds:
    """Funds from the getRmsLimits list: the "ALL" segment row if there is one, else the first."""
    if not rows:
        raise BrokerUnavailableError("getRmsLimits: empty answer", code="bad_response")
    row = next((r for r in rows if to_text(r.get("segment")).upper() == "ALL"), rows[0])
    return Funds(
        available_cash=to_decimal(_first(row, "net", "cashmarginavailable")),
        utilized_margin=to_decimal(row.get("debits")),
        collateral=to_decimal(row.get("collateralvalue")),
        opening_cash=to_decimal(row.get("credits"), default=None),
    )


def parse_profile(body: Any) -> Profile:
    """accountDetails: success has no `stat`; a `stat` means failure."""
    if isinstance(body, list) and len(body) == 1:
        body = body[0]
    if not isinstance(body, dict):
        raise BrokerUnavailableError("accountDetails: unexpected answer", code="bad_response")
    if "stat" in body and not stat_is_ok(body["stat"]):
        raise failure(body, mutating=False, what="accountDetails")
    segments = [s for s in to_text(body.get("exchEnabled")).split("|") if s.strip()]
    products = body.get("product") or []
    if isinstance(products, str):
        products = [p for p in re.split(r"[|,]", products) if p.strip()]
    return Profile(
        client_id=to_id(body.get("accountId")),
        name=to_text(body.get("accountName")),
        exchanges=tuple(dict.fromkeys(exchange_of(s) for s in segments)),
        products=tuple(to_text(p).upper() for p in products if to_text(p)),
    )


def parse_quote_ltp(body: Any) -> Decimal | None:
    """`LTP` of a getScripQuoteDetails answer (None when absent or 0); `{"stat":"Not_Ok"}` raises."""
    if not isinstance(body, dict):
        raise _bad_response("getScripQuoteDetails", mutating=False)
    if is_failure(body):
        raise failure(body, mutating=False, what="getScripQuoteDetails")
    try:
        price = to_decimal(body.get("LTP", body.get("Ltp")), None)
    except ValueError:
        raise _bad_response("getScripQuoteDetails", mutating=False) from None
    return price if price and price > 0 else None
