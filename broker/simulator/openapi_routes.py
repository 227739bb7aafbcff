"""The open-api (`/open-api/od/v1/`) routes: vendor session exchange, orders, books, limits, profile."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from broker.simulator import openapi_shapes as shapes
from broker.simulator.access import access_account, is_read_only
from broker.simulator.app_keys import STATE_KEY, USER_KEY
from broker.simulator.engine import EngineError, order_cancel, order_modify, order_place, tick_violation
from broker.simulator.envelopes import OPENAPI, json_response, openapi_fail, openapi_ok, read_json
from broker.simulator.order_validation import OPENAPI_SPEC, ValidationFailure, field_text, order_intent_from
from broker.simulator.sessions import session_issue, vendor_exchange
from broker.simulator.state import Account, SimOrder, SimState

BASE = "/open-api/od/v1/"
MODIFIABLE_KEYS = ("quantity", "orderType", "price", "slTriggerPrice", "validity", "disclosedQuantity")


def _state(request: web.Request) -> SimState:
    return request.app[STATE_KEY]


async def vendor_get_user_details(request: web.Request) -> web.Response:
    """Exchange `{"checkSum"}` = sha256(userId+authCode+apiSecret) for a JWT userSession."""
    state = _state(request)
    body = await read_json(request)
    checksum = field_text(body.get("checkSum")) if isinstance(body, dict) else ""
    outcome = vendor_exchange(state, checksum) if checksum else None
    if outcome is None or outcome.account is None:
        emsg = outcome.emsg if outcome else "Invalid auth code"
        return json_response({"stat": "Not_ok", "emsg": emsg})
    request[USER_KEY] = outcome.account.user_id
    session = session_issue(state, outcome.account)
    return json_response({"stat": "Ok", "clientId": outcome.account.client_id, "userSession": session.token})


def _place_all(state: SimState, account: Account, body: Any) -> list[SimOrder | str]:
    results: list[SimOrder | str] = []
    for element in body:
        try:
            intent = order_intent_from(element, OPENAPI_SPEC, state.master)
        except ValidationFailure as failure:
            results.append(failure.answer)
            continue
        results.append(order_place(state, user_id=account.user_id, flavor="openapi", intent=intent))
    return results


async def _place(request: web.Request, time_format: Callable[[datetime], str]) -> web.Response:
    state = _state(request)
    account = access_account(request, OPENAPI, order_route=True)
    if isinstance(account, web.Response):
        return account
    if is_read_only(state, account):
        return openapi_fail("EC086")
    body = await read_json(request)
    if not isinstance(body, list) or not body:
        return openapi_fail("EC914")
    results = _place_all(state, account, body)
    stamp = time_format(state.clock.now())
    if all(isinstance(r, str) for r in results) and state.config.place_error_mode == "toplevel":
        return openapi_fail(str(results[0]))
    result = [
        {"requestTime": stamp, "brokerOrderId": r.order_id}
        if isinstance(r, SimOrder)
        else {"status": "Not_Ok", "message": r, "requestTime": stamp, "brokerOrderId": ""}
        for r in results
    ]
    return openapi_ok(result)


async def place_order(request: web.Request) -> web.Response:
    """`orders/placeorder`: an array of orders, one result per element."""
    return await _place(request, shapes.request_time)


async def square_off(request: web.Request) -> web.Response:
    """`orders/positions/sqroff`: the place-order schema, its own requestTime format."""
    return await _place(request, shapes.sqroff_request_time)


def _own_order(state: SimState, account: Account, order_id: str) -> SimOrder | None:
    order = state.orders.get(order_id)
    if order is None or order.user_id != account.user_id or order.day != state.clock.today():
        return None
    return order


async def _order_call(request: web.Request) -> tuple[SimState, Account, dict[str, Any], str] | web.Response:
    """Auth, read-only check and brokerOrderId parsing shared by modify and cancel."""
    state = _state(request)
    account = access_account(request, OPENAPI, order_route=True)
    if isinstance(account, web.Response):
        return account
    if is_read_only(state, account):
        return openapi_fail("EC086")
    body = await read_json(request)
    if not isinstance(body, dict):
        return openapi_fail("EC914")
    order_id = field_text(body.get("brokerOrderId"))
    if not order_id:
        return openapi_fail("EC945")
    if not order_id.isdigit():
        return openapi_fail("EC992")
    return state, account, body, order_id


def _modify_body(order: SimOrder, body: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {
        "exchange": order.instrument.exchange,
        "instrumentId": order.instrument.token,
        "transactionType": order.side,
        "product": shapes.order_product(order),
        "orderComplexity": order.complexity,
        "orderType": order.order_type,
        "validity": order.validity,
        "price": str(order.price),
        "slTriggerPrice": str(order.trigger_price),
        "quantity": order.quantity,
        "disclosedQuantity": order.disclosed_quantity,
        "orderTag": order.tag,
    }
    merged.update({key: body[key] for key in MODIFIABLE_KEYS if field_text(body.get(key))})
    return merged


def order_modify_checked(state: SimState, order: SimOrder, body: dict[str, Any]) -> str | None:
    """Validate an `orders/modify` body against the open order and apply it; the EC code when refused.

    The one modify path of the open-api route and of /sim/orders/{id}/modify (the user's own app).
    """
    if not order.is_open:
        return "EC993"
    try:
        intent = order_intent_from(_modify_body(order, body), OPENAPI_SPEC, state.master)
    except ValidationFailure as failure:
        return failure.answer
    tick = order.instrument.tick_size
    if tick_violation(intent.price, tick) or tick_violation(intent.trigger_price, tick):
        return "EC957"
    try:
        order_modify(state, order, intent=intent)
    except EngineError:
        return "EC993"
    return None


async def modify_order(request: web.Request) -> web.Response:
    """`orders/modify`: change an open or trigger-pending order."""
    call = await _order_call(request)
    if isinstance(call, web.Response):
        return call
    state, account, body, order_id = call
    order = _own_order(state, account, order_id)
    if order is None:
        return openapi_fail("EC999")
    refused = order_modify_checked(state, order, body)
    if refused is not None:
        return openapi_fail(refused)
    return openapi_ok(
        [{"brokerOrderId": order.order_id, "requestTime": shapes.request_time(state.clock.now())}]
    )


async def cancel_order(request: web.Request) -> web.Response:
    """`orders/cancel`: cancel an open or trigger-pending order."""
    call = await _order_call(request)
    if isinstance(call, web.Response):
        return call
    state, account, _body, order_id = call
    order = _own_order(state, account, order_id)
    if order is None:
        return openapi_fail("EC997")
    if not order.is_open:
        return openapi_fail(state.config.cancel_not_open_code)
    order_cancel(state, order)
    return openapi_ok(
        [{"brokerOrderId": order.order_id, "requestTime": shapes.request_time(state.clock.now())}]
    )


def _book(state: SimState, rows: list[dict[str, Any]], empty_code: str) -> web.Response:
    if not rows and state.config.empty_book_mode == "error":
        return openapi_fail(empty_code)
    return openapi_ok(rows)


async def order_book(request: web.Request) -> web.Response:
    """`orders/book`: today's orders, newest first; empty -> EC916 (or [] by switch)."""
    state = _state(request)
    account = access_account(request, OPENAPI, order_route=False)
    if isinstance(account, web.Response):
        return account
    orders = reversed(state.today_orders(account.user_id))
    return _book(state, [shapes.order_row(o, account) for o in orders], "EC916")


async def order_history(request: web.Request) -> web.Response:
    """`orders/history`: one snapshot per state transition of one order."""
    state = _state(request)
    account = access_account(request, OPENAPI, order_route=False)
    if isinstance(account, web.Response):
        return account
    body = await read_json(request)
    order_id = field_text(body.get("brokerOrderId")) if isinstance(body, dict) else ""
    if not order_id:
        return openapi_fail("EC945")
    order = _own_order(state, account, order_id)
    if order is None:
        return openapi_fail("EC998")
    return openapi_ok(shapes.history_rows(order, account))


async def trade_book(request: web.Request) -> web.Response:
    """`orders/trades`: one row per fill; empty -> EC926."""
    state = _state(request)
    account = access_account(request, OPENAPI, order_route=False)
    if isinstance(account, web.Response):
        return account
    rows = [
        shapes.trade_row(state, order, fill, account)
        for order in state.today_orders(account.user_id)
        for fill in order.fills
    ]
    return _book(state, rows, "EC926")


async def positions(request: web.Request) -> web.Response:
    """`positions`: netted per instrument and product; empty -> EC920."""
    state = _state(request)
    account = access_account(request, OPENAPI, order_route=False)
    if isinstance(account, web.Response):
        return account
    rows = [shapes.position_row(p) for p in state.user_positions(account.user_id)]
    return _book(state, rows, "EC920")


async def limits(request: web.Request) -> web.Response:
    """`limits/`: one element."""
    state = _state(request)
    account = access_account(request, OPENAPI, order_route=False)
    if isinstance(account, web.Response):
        return account
    return openapi_ok([shapes.limits_row(state, account)])


async def profile(request: web.Request) -> web.Response:
    """`profile/`: one element; the cheapest session probe."""
    account = access_account(request, OPENAPI, order_route=False)
    if isinstance(account, web.Response):
        return account
    return openapi_ok([shapes.profile_row(account)])


def add_openapi_routes(app: web.Application) -> None:
    """Mount every open-api route."""
    app.router.add_post(BASE + "vendor/getUserDetails", vendor_get_user_details)
    app.router.add_post(BASE + "orders/placeorder", place_order)
    app.router.add_post(BASE + "orders/modify", modify_order)
    app.router.add_post(BASE + "orders/cancel", cancel_order)
    app.router.add_get(BASE + "orders/book", order_book)
    app.router.add_post(BASE + "orders/history", order_history)
    app.router.add_get(BASE + "orders/trades", trade_book)
    app.router.add_get(BASE + "positions", positions)
    app.router.add_post(BASE + "orders/positions/sqroff", square_off)
    for suffix in ("", "/"):
        app.router.add_get(BASE + "limits" + suffix, limits)
        app.router.add_get(BASE + "profile" + suffix, profile)
