"""The legacy `/rest/AliceBlueAPIService/` routes: encKey/userData sessions, vendor SSO, orders, books."""

from __future__ import annotations

import secrets
import string
from typing import Any

from aiohttp import web

from broker.simulator import legacy_shapes as shapes
from broker.simulator.access import access_account, is_read_only
from broker.simulator.app_keys import STATE_KEY, USER_KEY
from broker.simulator.contract_master import EXCHANGE_SEGMENTS
from broker.simulator.engine import EngineError, order_cancel, order_modify, order_place, tick_violation
from broker.simulator.envelopes import LEGACY, json_response, legacy_fail, read_json
from broker.simulator.order_validation import (
    LEGACY_SPEC,
    PRODUCT_CLASSES,
    ValidationFailure,
    field_text,
    order_intent_from,
)
from broker.simulator.sessions import is_logged_in_today, session_issue, sha256_hex, vendor_exchange
from broker.simulator.state import Account, SimOrder, SimState

BASE = "/rest/AliceBlueAPIService/api/"
SSO_BASE = "/rest/AliceBlueAPIService/sso/"
ENC_DTO_FIELDS = (
    "loginType",
    "encKey",
    "apikey",
    "userId",
    "imei",
    "fcmToken",
    "login",
    "stat",
    "userData",
    "version",
    "emsg",
)
READ_ONLY_EMSG = "Read only user. Order placement, modification and cancellation are not allowed"
NOT_LOGGED_IN = "User does not login. Please login"
SEGMENT_EXCHANGES = {segment: exchange for exchange, segment in EXCHANGE_SEGMENTS.items()}
MODIFIABLE_KEYS = ("prctyp", "price", "qty", "trigPrice", "discqty", "ret")


def _state(request: web.Request) -> SimState:
    return request.app[STATE_KEY]


def _enc_key_body(user_id: str, enc_key: str | None, emsg: str | None) -> dict[str, Any]:
    return {
        "userId": user_id,
        "userData": None,
        "encKey": enc_key,
        "apikey": None,
        "stat": "Ok" if enc_key else "Not_Ok",
        "emsg": emsg,
        "loginType": None,
        "version": None,
        "fcmToken": None,
        "imei": None,
        "login": bool(enc_key),
    }


async def get_api_enc_key(request: web.Request) -> web.Response:
    """`customer/getAPIEncpkey`: a fresh random encKey for a user who logged in today."""
    state = _state(request)
    body = await read_json(request)
    user_id = field_text(body.get("userId")).upper() if isinstance(body, dict) else ""
    account = state.account(user_id) if user_id else None
    if account is None:
        return json_response(_enc_key_body(user_id, None, "Invalid User"))
    request[USER_KEY] = account.user_id
    if not is_logged_in_today(state, account):
        return json_response(_enc_key_body(account.user_id, None, "User not login. Please login"))
    account.last_enc_key = "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(32))
    return json_response(_enc_key_body(account.user_id, account.last_enc_key, None))


async def get_user_sid(request: web.Request) -> web.Response:
    """`customer/getUserSID`: verify sha256(userId+apiKey+encKey); strict about unknown body fields."""
    state = _state(request)
    body = await read_json(request)
    if not isinstance(body, dict):
        return web.Response(status=400, text="Invalid JSON input", content_type="text/plain")
    unknown = [key for key in body if key not in ENC_DTO_FIELDS]
    if unknown:
        known = ", ".join(ENC_DTO_FIELDS)
        text = (
            f'Unrecognized field "{unknown[0]}" (class com.sas.dto.EncDataDTO), not marked as ignorable '
            f"({len(ENC_DTO_FIELDS)} known properties: {known})"
        )
        return web.Response(status=400, text=text, content_type="text/plain")
    account = state.account(field_text(body.get("userId")))
    if account is None or not is_logged_in_today(state, account):
        return legacy_fail(NOT_LOGGED_IN)
    request[USER_KEY] = account.user_id
    expected = sha256_hex(account.user_id + account.api_key + (account.last_enc_key or ""))
    if not account.last_enc_key or field_text(body.get("userData")).lower() != expected:
        return legacy_fail("Invalid Input")
    session = session_issue(state, account, opaque=True)
    return json_response({"stat": "Ok", "userId": account.user_id, "sessionID": session.token, "emsg": None})


async def sso_get_user_details(request: web.Request) -> web.Response:
    """`sso/getUserDetails`: the legacy vendor authCode exchange, answering `userSession`."""
    state = _state(request)
    body = await read_json(request)
    checksum = field_text(body.get("checkSum")) if isinstance(body, dict) else ""
    outcome = vendor_exchange(state, checksum) if checksum else None
    if outcome is None or outcome.account is None:
        return legacy_fail(outcome.emsg if outcome else "Invalid auth code")
    account = outcome.account
    request[USER_KEY] = account.user_id
    session = session_issue(state, account, opaque=True)
    return json_response(
        {"stat": "Ok", "userId": account.user_id, "clientId": account.client_id, "userSession": session.token}
    )


def _place_one(state: SimState, account: Account, element: Any) -> dict[str, Any]:
    try:
        intent = order_intent_from(element, LEGACY_SPEC, state.master)
    except ValidationFailure as failure:
        return {"stat": "Not_Ok", "emsg": failure.answer}
    order = order_place(state, user_id=account.user_id, flavor="legacy", intent=intent)
    return {"stat": "Ok", "NOrdNo": order.order_id}


async def execute_place_order(request: web.Request) -> web.Response:
    """`placeOrder/executePlaceOrder`: a JSON list in, a list of per-order results out."""
    state = _state(request)
    account = access_account(request, LEGACY, order_route=True)
    if isinstance(account, web.Response):
        return account
    body = await read_json(request)
    if not isinstance(body, list) or not body:
        return legacy_fail("Invalid Input")
    if is_read_only(state, account):
        return json_response([{"stat": "Not_Ok", "emsg": READ_ONLY_EMSG} for _ in body])
    return json_response([_place_one(state, account, element) for element in body])


def _own_order(state: SimState, account: Account, order_id: str) -> SimOrder | None:
    order = state.orders.get(order_id)
    if order is None or order.user_id != account.user_id or order.day != state.clock.today():
        return None
    return order


async def _order_call(
    request: web.Request,
) -> tuple[SimState, Account, dict[str, Any], SimOrder] | web.Response:
    """Auth, read-only check and nestOrderNumber lookup shared by modify and cancel."""
    state = _state(request)
    account = access_account(request, LEGACY, order_route=True)
    if isinstance(account, web.Response):
        return account
    if is_read_only(state, account):
        return legacy_fail(READ_ONLY_EMSG)
    body = await read_json(request)
    if not isinstance(body, dict):
        return legacy_fail("Invalid Input")
    order = _own_order(state, account, field_text(body.get("nestOrderNumber")))
    if order is None:
        return legacy_fail("Invalid Order Number")
    return state, account, body, order


def _modify_body(order: SimOrder, body: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {
        "exch": order.instrument.exchange,
        "symbol_id": order.instrument.token,
        "transtype": order.side,
        "pCode": shapes.order_product(order),
        "complexty": order.complexity,
        "prctyp": shapes.PRICE_TYPES[order.order_type],
        "ret": order.validity,
        "price": str(order.price),
        "trigPrice": str(order.trigger_price),
        "qty": order.quantity,
        "discqty": order.disclosed_quantity,
        "orderTag": order.tag,
    }
    merged.update({key: body[key] for key in MODIFIABLE_KEYS if field_text(body.get(key))})
    return merged


async def modify_order(request: web.Request) -> web.Response:
    """`placeOrder/modifyOrder`: change an open or trigger-pending order."""
    call = await _order_call(request)
    if isinstance(call, web.Response):
        return call
    state, _account, body, order = call
    if not order.is_open:
        return legacy_fail(f"Order is in {shapes.LEGACY_STATUSES[order.status]} status. Cannot modify")
    try:
        intent = order_intent_from(_modify_body(order, body), LEGACY_SPEC, state.master)
    except ValidationFailure as failure:
        return legacy_fail(failure.answer)
    tick = order.instrument.tick_size
    if tick_violation(intent.price, tick) or tick_violation(intent.trigger_price, tick):
        return legacy_fail("Invalid Price")
    try:
        order_modify(state, order, intent=intent)
    except EngineError as exc:
        return legacy_fail(str(exc))
    return json_response(
        {
            "stat": "Ok",
            "Result": f" Order Modified Successfully:{order.order_id}",
            "nestOrderNumber": order.order_id,
        }
    )


async def cancel_order(request: web.Request) -> web.Response:
    """`placeOrder/cancelOrder`: cancel by `nestOrderNumber` (never by the exchange order id)."""
    call = await _order_call(request)
    if isinstance(call, web.Response):
        return call
    state, _account, _body, order = call
    if not order.is_open:
        return legacy_fail(f"Order is in {shapes.LEGACY_STATUSES[order.status]} status. Cannot cancel")
    order_cancel(state, order)
    return json_response({"stat": "Ok", "nestOrderNumber": order.order_id})


def _book(state: SimState, rows: list[dict[str, Any]]) -> web.Response:
    if rows or state.config.empty_book_mode == "empty":
        return json_response(rows)
    if state.config.empty_book_mode == "list":
        return json_response([{"stat": "Not_Ok", "emsg": "No Data"}])
    return legacy_fail("No Data")


async def fetch_order_book(request: web.Request) -> web.Response:
    """`placeOrder/fetchOrderBook`: today's orders, newest first; empty -> No Data."""
    state = _state(request)
    account = access_account(request, LEGACY, order_route=False)
    if isinstance(account, web.Response):
        return account
    orders = reversed(state.today_orders(account.user_id))
    return _book(state, [shapes.order_row(o, account) for o in orders])


async def order_history(request: web.Request) -> web.Response:
    """`placeOrder/orderHistory`: the transitions of one order, newest first."""
    state = _state(request)
    account = access_account(request, LEGACY, order_route=False)
    if isinstance(account, web.Response):
        return account
    body = await read_json(request)
    order_id = field_text(body.get("nestOrderNumber")) if isinstance(body, dict) else ""
    order = _own_order(state, account, order_id)
    if order is None:
        return legacy_fail("No Data")
    return json_response([shapes.history_row(order, entry) for entry in reversed(order.history)])


async def fetch_trade_book(request: web.Request) -> web.Response:
    """`placeOrder/fetchTradeBook`: one row per fill."""
    state = _state(request)
    account = access_account(request, LEGACY, order_route=False)
    if isinstance(account, web.Response):
        return account
    rows = [
        shapes.trade_row(order, fill, account)
        for order in state.today_orders(account.user_id)
        for fill in order.fills
    ]
    return _book(state, rows)


async def position_book(request: web.Request) -> web.Response:
    """`positionAndHoldings/positionBook` with `{"ret":"DAY"|"NET"}`."""
    state = _state(request)
    account = access_account(request, LEGACY, order_route=False)
    if isinstance(account, web.Response):
        return account
    body = await read_json(request)
    ret = field_text(body.get("ret")).upper() if isinstance(body, dict) else ""
    if ret not in {"DAY", "NET"}:
        return legacy_fail("Invalid Input")
    rows = [
        shapes.position_row(state, p, ret=ret, account=account)
        for p in state.user_positions(account.user_id)
        if ret == "NET" or p.day_buy_quantity or p.day_sell_quantity
    ]
    return _book(state, rows)


def _square_off_body(state: SimState, account: Account, body: dict[str, Any]) -> dict[str, Any] | str:
    """A MKT order body closing the position named by the misspelt square-off keys, or an emsg."""
    segment = field_text(body.get("exchSeg"))
    exchange = SEGMENT_EXCHANGES.get(segment.lower(), segment.upper())
    token = field_text(body.get("tockenNo"))
    instrument = state.master.by_token(exchange, token) if token else None
    if instrument is None:
        instrument = state.master.by_trading_symbol(exchange, field_text(body.get("symbol")))
    net = field_text(body.get("netQty"))
    if instrument is None or not net.lstrip("-").isdigit() or int(net) == 0:
        return "Invalid Input"
    product = field_text(body.get("pCode")).upper()
    key = (account.user_id, instrument.exchange, instrument.token, PRODUCT_CLASSES.get(product, product))
    position = state.positions.get(key)
    if position is None or not position.net_quantity:
        return "No open position to square off"
    return {
        "exch": instrument.exchange,
        "symbol_id": instrument.token,
        "transtype": "SELL" if int(net) > 0 else "BUY",
        "qty": abs(int(net)),
        "pCode": product,
        "prctyp": "MKT",
        "ret": "DAY",
        "complexty": "regular",
    }


async def square_off_position(request: web.Request) -> web.Response:
    """`positionAndHoldings/sqrOofPosition` (sic): an opposite MKT order for `netQty`."""
    state = _state(request)
    account = access_account(request, LEGACY, order_route=True)
    if isinstance(account, web.Response):
        return account
    if is_read_only(state, account):
        return legacy_fail(READ_ONLY_EMSG)
    body = await read_json(request)
    order_body = _square_off_body(state, account, body) if isinstance(body, dict) else "Invalid Input"
    if isinstance(order_body, str):
        return legacy_fail(order_body)
    result = _place_one(state, account, order_body)
    if result["stat"] != "Ok":
        return legacy_fail(result["emsg"])
    return json_response({"stat": "Ok", "nestOrderNumber": result["NOrdNo"]})


async def rms_limits(request: web.Request) -> web.Response:
    """`limits/getRmsLimits`: a list of string-valued segment objects."""
    state = _state(request)
    account = access_account(request, LEGACY, order_route=False)
    if isinstance(account, web.Response):
        return account
    return json_response(shapes.rms_limits_rows(state, account))


async def account_details(request: web.Request) -> web.Response:
    """`customer/accountDetails`: the profile, without `stat`."""
    account = access_account(request, LEGACY, order_route=False)
    if isinstance(account, web.Response):
        return account
    return json_response(shapes.account_details(account))


def add_legacy_routes(app: web.Application) -> None:
    """Mount every legacy route."""
    app.router.add_post(BASE + "customer/getAPIEncpkey", get_api_enc_key)
    app.router.add_post(BASE + "customer/getUserSID", get_user_sid)
    app.router.add_post(SSO_BASE + "getUserDetails", sso_get_user_details)
    app.router.add_post(BASE + "placeOrder/executePlaceOrder", execute_place_order)
    app.router.add_post(BASE + "placeOrder/modifyOrder", modify_order)
    app.router.add_post(BASE + "placeOrder/cancelOrder", cancel_order)
    app.router.add_get(BASE + "placeOrder/fetchOrderBook", fetch_order_book)
    app.router.add_post(BASE + "placeOrder/orderHistory", order_history)
    app.router.add_get(BASE + "placeOrder/fetchTradeBook", fetch_trade_book)
    app.router.add_post(BASE + "positionAndHoldings/positionBook", position_book)
    app.router.add_post(BASE + "positionAndHoldings/sqrOofPosition", square_off_position)
    app.router.add_get(BASE + "limits/getRmsLimits", rms_limits)
    app.router.add_get(BASE + "customer/accountDetails", account_details)
