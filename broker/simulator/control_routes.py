"""The `/sim/` control API (JSON, no auth): accounts, logins, prices, fills, faults, logs, the ledger."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from aiohttp import web

from broker.simulator.app_keys import STATE_KEY
from broker.simulator.contract_master import Instrument
from broker.simulator.demo_accounts import demo_accounts_seed
from broker.simulator.engine import (
    EngineError,
    default_fill_price,
    order_cancel,
    order_fill,
    order_place,
    order_reject,
    price_set,
    trading_day_roll,
    unrealised_pnl,
)
from broker.simulator.envelopes import json_response, read_json
from broker.simulator.faults import fault_add, fault_as_dict
from broker.simulator.notify_hub import DROP_MODES, Drop, Subscriber
from broker.simulator.openapi_routes import order_modify_checked
from broker.simulator.order_validation import PRODUCT_CLASSES, OrderIntent, parse_price, parse_quantity
from broker.simulator.sessions import account_login, account_upsert, session_issue, sessions_expire
from broker.simulator.state import (
    CONFIG_KEYS,
    ORDER_NOTIFY_MODES,
    Account,
    PositionState,
    SimOrder,
    SimState,
)

ORDER_TYPE_ALIASES = {"MARKET": "MARKET", "MKT": "MARKET", "LIMIT": "LIMIT", "L": "LIMIT", "SL": "SL"}
ORDER_TYPE_ALIASES.update({"SLM": "SLM", "SL-M": "SLM"})


class ControlError(Exception):
    """A bad control request; answered 400 (or `status`) with {"ok": false, "error"}."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        self.status = status
        super().__init__(message)


def _state(request: web.Request) -> SimState:
    return request.app[STATE_KEY]


async def _body(request: web.Request) -> dict[str, Any]:
    body = await read_json(request)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ControlError("body must be a JSON object")
    return body


def _ok(**data: Any) -> web.Response:
    return json_response({"ok": True, **data})


def _account(state: SimState, user_id: Any) -> Account:
    account = state.account(str(user_id or ""))
    if account is None:
        raise ControlError(f"unknown account {user_id!r}", status=404)
    return account


def _order(state: SimState, order_id: str) -> SimOrder:
    order = state.orders.get(order_id)
    if order is None:
        raise ControlError(f"unknown order {order_id!r}", status=404)
    return order


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


def account_as_dict(account: Account) -> dict[str, Any]:
    return {
        "userId": account.user_id,
        "clientId": account.client_id,
        "name": account.name,
        "apiKey": account.api_key,
        "apiSecret": account.api_secret,
        "appCode": account.app_code,
        "redirectUrl": account.redirect_url,
        "cash": _money(account.cash),
        "loggedInDay": account.logged_in_day.isoformat() if account.logged_in_day else None,
    }


def ledger_entry(order: SimOrder) -> dict[str, Any]:
    """One order of the ledger (canonical names; prices as decimal strings)."""
    return {
        "orderId": order.order_id,
        "userId": order.user_id,
        "exchange": order.instrument.exchange,
        "token": order.instrument.token,
        "tradingSymbol": order.instrument.trading_symbol,
        "side": order.side,
        "quantity": order.quantity,
        "filledQuantity": order.filled_quantity,
        "pendingQuantity": order.pending_quantity,
        "cancelledQuantity": order.cancelled_quantity,
        "price": _money(order.price),
        "triggerPrice": _money(order.trigger_price),
        "averagePrice": _money(order.average_price),
        "orderType": order.order_type,
        "product": order.product,
        "validity": order.validity,
        "complexity": order.complexity,
        "status": order.status,
        "rejectionReason": order.rejection_reason,
        "orderTag": order.tag,
        "algoId": order.algo_id,
        "flavor": order.flavor,
        "placedAt": order.placed_at.isoformat(),
        "tradingDay": order.day.isoformat(),
        "fills": [
            {
                "tradeId": f.trade_id,
                "quantity": f.quantity,
                "price": _money(f.price),
                "time": f.time.isoformat(),
            }
            for f in order.fills
        ],
    }


def position_as_dict(state: SimState, position: PositionState) -> dict[str, Any]:
    def average(value: Decimal, quantity: int) -> str:
        return _money(value / quantity) if quantity else "0.00"

    return {
        "userId": position.user_id,
        "exchange": position.instrument.exchange,
        "token": position.instrument.token,
        "tradingSymbol": position.instrument.trading_symbol,
        "product": position.product_class,
        "netQuantity": position.net_quantity,
        "overnightQuantity": position.overnight_quantity,
        "buyQuantity": position.day_buy_quantity,
        "sellQuantity": position.day_sell_quantity,
        "buyAverage": average(position.day_buy_value, position.day_buy_quantity),
        "sellAverage": average(position.day_sell_value, position.day_sell_quantity),
        "netAverage": _money(position.net_average),
        "realisedPnl": _money(position.realised_pnl),
        "unrealisedPnl": _money(unrealised_pnl(state, position)),
        "lastPrice": _money(state.last_price(position.instrument)),
    }


def _instrument(state: SimState, exchange: Any, symbol: Any) -> Instrument:
    matches = state.master.resolve(str(exchange or ""), str(symbol or ""))
    if len(matches) != 1:
        problem = "ambiguous" if matches else "unknown"
        raise ControlError(f"{problem} instrument {exchange}:{symbol}", status=400 if matches else 404)
    return matches[0]


def _price(value: Any, name: str) -> Decimal:
    price = parse_price(value)
    if price is None or price < 0:
        raise ControlError(f"invalid {name} {value!r}")
    return price


async def accounts_post(request: web.Request) -> web.Response:
    """Create or update an account."""
    body = await _body(request)
    if not body.get("userId"):
        raise ControlError("userId is required")
    account = account_upsert(_state(request), body)
    return _ok(**account_as_dict(account))


async def accounts_get(request: web.Request) -> web.Response:
    """Every account."""
    return _ok(accounts=[account_as_dict(a) for a in _state(request).accounts.values()])


async def login_post(request: web.Request) -> web.Response:
    """The daily browser/TOTP login: an authCode, and API-key sessions allowed today."""
    state = _state(request)
    body = await _body(request)
    account = _account(state, body.get("userId"))
    code = account_login(state, account, app_code=str(body.get("appCode") or ""))
    return _ok(authCode=code.code, userId=account.user_id, appCode=code.app_code)


async def sessions_post(request: web.Request) -> web.Response:
    """Issue a session directly (valid for both flavours)."""
    state = _state(request)
    body = await _body(request)
    account = _account(state, body.get("userId"))
    session = session_issue(state, account)
    return _ok(sessionId=session.token, userId=account.user_id, clientId=account.client_id)


async def prices_post(request: web.Request) -> web.Response:
    """Set a last price; resting orders it crosses trigger/fill."""
    state = _state(request)
    body = await _body(request)
    instrument = _instrument(state, body.get("exchange"), body.get("symbol"))
    price = _price(body.get("price"), "price")
    if price <= 0:
        raise ControlError("price must be positive")
    touched = price_set(state, instrument, price)
    return _ok(
        exchange=instrument.exchange,
        token=instrument.token,
        tradingSymbol=instrument.trading_symbol,
        price=_money(price),
        orders=[ledger_entry(o) for o in touched],
    )


async def prices_get(request: web.Request) -> web.Response:
    """Every last price."""
    state = _state(request)
    rows = [
        {"exchange": i.exchange, "token": i.token, "tradingSymbol": i.trading_symbol, "price": _money(p)}
        for i in state.master.instruments
        for p in [state.last_price(i)]
    ]
    return _ok(prices=rows)


async def order_fill_post(request: web.Request) -> web.Response:
    """Fill an order fully, or partly with `quantity`, at `price` (default: limit or last price)."""
    state = _state(request)
    body = await _body(request)
    order = _order(state, request.match_info["order_id"])
    quantity = (
        parse_quantity(body["quantity"]) if body.get("quantity") is not None else order.pending_quantity
    )
    if quantity is None:
        raise ControlError("invalid quantity")
    price = (
        _price(body["price"], "price") if body.get("price") is not None else default_fill_price(state, order)
    )
    try:
        order_fill(state, order, quantity=quantity, price=price)
    except EngineError as exc:
        raise ControlError(str(exc), status=409) from exc
    return _ok(**ledger_entry(order))


async def order_reject_post(request: web.Request) -> web.Response:
    """Reject an open order after its acceptance."""
    state = _state(request)
    body = await _body(request)
    order = _order(state, request.match_info["order_id"])
    reason = str(body.get("reason") or "RMS: Margin Exceeds, Required Margin exceeds Available Margin")
    try:
        order_reject(state, order, reason=reason)
    except EngineError as exc:
        raise ControlError(str(exc), status=409) from exc
    return _ok(**ledger_entry(order))


async def order_cancel_post(request: web.Request) -> web.Response:
    """Cancel an open order (as the exchange or the user's web terminal would)."""
    state = _state(request)
    order = _order(state, request.match_info["order_id"])
    try:
        order_cancel(state, order)
    except EngineError as exc:
        raise ControlError(str(exc), status=409) from exc
    return _ok(**ledger_entry(order))


async def order_modify_post(request: web.Request) -> web.Response:
    """Modify an account's own open order (the master in Alice Blue's app), through the open-api's path."""
    state = _state(request)
    body = await _body(request)
    order = _order(state, request.match_info["order_id"])
    if body.get("userId") and str(body["userId"]).upper() != order.user_id:
        raise ControlError(f"order {order.order_id} is not {body['userId']}'s", status=404)
    changes: dict[str, Any] = {}
    if body.get("quantity") is not None:
        changes["quantity"] = body["quantity"]
    if body.get("price") is not None:
        changes["price"] = str(body["price"])
    if body.get("triggerPrice") is not None:
        changes["slTriggerPrice"] = str(body["triggerPrice"])
    if body.get("orderType") is not None:
        order_type = ORDER_TYPE_ALIASES.get(str(body["orderType"]).upper())
        if order_type is None:
            raise ControlError("orderType must be MARKET, LIMIT, SL or SLM")
        changes["orderType"] = order_type
    if not changes:
        raise ControlError("nothing to modify: give quantity, price, triggerPrice or orderType")
    refused = order_modify_checked(state, order, changes)
    if refused is not None:
        raise ControlError(f"modify refused: {refused}", status=409 if refused == "EC993" else 400)
    return _ok(**ledger_entry(order))


def _control_intent(state: SimState, body: dict[str, Any]) -> OrderIntent:
    instrument = _instrument(state, body.get("exchange"), body.get("symbol"))
    side = str(body.get("side") or "").upper()
    if side not in {"BUY", "SELL"}:
        raise ControlError("side must be BUY or SELL")
    quantity = parse_quantity(body.get("quantity"))
    if quantity is None or quantity <= 0 or quantity % instrument.lot_size:
        raise ControlError(f"quantity must be a positive multiple of the lot size {instrument.lot_size}")
    order_type = ORDER_TYPE_ALIASES.get(str(body.get("orderType") or "MARKET").upper())
    if order_type is None:
        raise ControlError("orderType must be MARKET, LIMIT, SL or SLM")
    product = str(body.get("product") or "MIS").upper()
    if product not in PRODUCT_CLASSES:
        raise ControlError(f"unknown product {product}")
    price = _price(body.get("price") or 0, "price")
    trigger = _price(body.get("triggerPrice") or 0, "triggerPrice")
    if order_type in {"LIMIT", "SL"} and not price:
        raise ControlError("price is required for LIMIT and SL orders")
    if order_type in {"SL", "SLM"} and not trigger:
        raise ControlError("triggerPrice is required for SL and SLM orders")
    return OrderIntent(
        instrument=instrument,
        side=side,
        quantity=quantity,
        product=product,
        product_class=PRODUCT_CLASSES[product],
        order_type=order_type,
        price=price,
        trigger_price=trigger,
        validity=str(body.get("validity") or "DAY").upper(),
        complexity="REGULAR",
        disclosed_quantity=0,
        tag=str(body.get("tag") or ""),
        algo_id="",
    )


async def orders_post(request: web.Request) -> web.Response:
    """Place an order as a user without a session (the master trading in Alice Blue's own web UI)."""
    state = _state(request)
    body = await _body(request)
    account = _account(state, body.get("userId"))
    order = order_place(state, user_id=account.user_id, flavor="web", intent=_control_intent(state, body))
    return _ok(**ledger_entry(order))


async def orders_get(request: web.Request) -> web.Response:
    """The ledger: every order ever accepted, oldest first."""
    state = _state(request)
    user_id = request.query.get("userId", "").upper()
    orders = [ledger_entry(o) for o in state.orders.values() if not user_id or o.user_id == user_id]
    return _ok(orders=orders)


async def order_get(request: web.Request) -> web.Response:
    """One ledger entry."""
    return _ok(**ledger_entry(_order(_state(request), request.match_info["order_id"])))


async def positions_get(request: web.Request) -> web.Response:
    """Positions (of one user when `userId` is given) with P&L."""
    state = _state(request)
    user_id = request.query.get("userId", "").upper()
    rows = [
        position_as_dict(state, p) for p in state.positions.values() if not user_id or p.user_id == user_id
    ]
    return _ok(positions=rows)


async def faults_post(request: web.Request) -> web.Response:
    """Add a latency/fault rule."""
    body = await _body(request)
    try:
        rule = fault_add(_state(request), body)
    except (TypeError, ValueError) as exc:
        raise ControlError(str(exc)) from exc
    return _ok(faultId=rule.fault_id, fault=fault_as_dict(rule))


async def faults_get(request: web.Request) -> web.Response:
    """Every fault rule, with its remaining count."""
    return _ok(faults=[fault_as_dict(rule) for rule in _state(request).faults])


async def faults_delete(request: web.Request) -> web.Response:
    """Clear every fault rule."""
    state = _state(request)
    cleared = len(state.faults)
    state.faults.clear()
    return _ok(cleared=cleared)


async def expire_sessions_post(request: web.Request) -> web.Response:
    """Expire one user's sessions, or everyone's."""
    body = await _body(request)
    user_id = str(body["userId"]) if body.get("userId") else None
    return _ok(expired=sessions_expire(_state(request), user_id))


async def new_day_post(request: web.Request) -> web.Response:
    """Roll the trading day: sessions and logins invalid, books cleared, positions carried."""
    state = _state(request)
    trading_day_roll(state)
    return _ok(tradingDay=state.clock.today().isoformat())


async def requests_get(request: web.Request) -> web.Response:
    """The request log, oldest first, filtered by `userId` and a `path` substring."""
    state = _state(request)
    user_id = request.query.get("userId", "").upper()
    path = request.query.get("path", "")
    rows = [
        entry
        for entry in state.request_log
        if (not user_id or entry["userId"] == user_id) and (not path or path.lower() in entry["path"].lower())
    ]
    return _ok(requests=rows)


def subscriber_as_dict(subscriber: Subscriber) -> dict[str, Any]:
    return {
        "userId": subscriber.user_id,
        "subscribedAs": subscriber.subscribed_as,
        "connectedAt": subscriber.connected_at.isoformat(),
        "secondsSinceHeartbeat": round(time.monotonic() - subscriber.last_heartbeat, 3),
        "heartbeats": subscriber.heartbeats,
        "framesSent": subscriber.frames_sent,
        "framesQueued": subscriber.queue.qsize(),
    }


async def stream_get(request: web.Request) -> web.Response:
    """The authenticated order-notify sockets (of one user when `userId` is given)."""
    state = _state(request)
    user_id = request.query.get("userId", "").upper() or None
    return _ok(sockets=[subscriber_as_dict(s) for s in state.notify.sockets(user_id)])


async def stream_drop_post(request: web.Request) -> web.Response:
    """End order-notify sockets (of one user): `mode` close (default), abort (TCP reset) or silent."""
    state = _state(request)
    body = await _body(request)
    mode = str(body.get("mode") or "close")
    if mode not in DROP_MODES:
        raise ControlError(f"mode must be one of {sorted(DROP_MODES)}")
    user_id = str(body["userId"]).upper() if body.get("userId") else None
    hold = float(body.get("holdSeconds") or 30.0)
    return _ok(dropped=state.notify.drop(user_id, Drop(mode=mode, hold_seconds=hold)))


async def webhooks_get(request: web.Request) -> web.Response:
    """Webhook subscriptions and the recent deliveries (of one user when `userId` is given), oldest first."""
    state = _state(request)
    user_id = request.query.get("userId", "").upper()
    subscriptions = [
        {"userId": uid, "callbackUrl": url}
        for uid, urls in state.notify.webhooks.items()
        if not user_id or uid == user_id
        for url in urls
    ]
    deliveries = [d for d in state.notify.deliveries if not user_id or d["userId"] == user_id]
    return _ok(subscriptions=subscriptions, deliveries=deliveries)


async def reset_post(request: web.Request) -> web.Response:
    """Drop everything except the contract master and the command-line defaults."""
    state = _state(request)
    state.reset()
    if state.options.demo_accounts:
        demo_accounts_seed(state)
    return _ok()


def _coerce(current: Any, value: Any) -> Any:
    """`value` converted to the type of the switch's current value."""
    try:
        if isinstance(current, bool):
            if isinstance(value, str):
                return value.strip().lower() in {"1", "true", "yes", "on"}
            return bool(value)
        if isinstance(current, list):
            return [str(v) for v in value]
        if isinstance(current, dict):
            return {str(k).upper(): str(v) for k, v in dict(value).items()}
        return type(current)(value)
    except (TypeError, ValueError) as exc:
        raise ControlError(f"invalid switch value {value!r}") from exc


def config_as_dict(state: SimState) -> dict[str, Any]:
    return {key: getattr(state.config, attribute) for key, attribute in CONFIG_KEYS.items()}


async def config_post(request: web.Request) -> web.Response:
    """Set behaviour switches (camelCase keys of GET /sim/config)."""
    state = _state(request)
    body = await _body(request)
    unknown = sorted(set(body) - set(CONFIG_KEYS))
    if unknown:
        raise ControlError(f"unknown switches {unknown}; known: {sorted(CONFIG_KEYS)}")
    values = {key: _coerce(getattr(state.config, CONFIG_KEYS[key]), value) for key, value in body.items()}
    modes = [values.get("orderNotifyMode", "token"), *values.get("orderNotifyUserModes", {}).values()]
    if any(mode not in ORDER_NOTIFY_MODES for mode in modes):
        raise ControlError(f"order-notify modes are {sorted(ORDER_NOTIFY_MODES)}")
    for key, value in values.items():
        setattr(state.config, CONFIG_KEYS[key], value)
    return _ok(config=config_as_dict(state))


async def config_get(request: web.Request) -> web.Response:
    """The current switches."""
    return _ok(config=config_as_dict(_state(request)))


async def health_get(request: web.Request) -> web.Response:
    """Liveness, trading day and counts."""
    state = _state(request)
    return _ok(
        tradingDay=state.clock.today().isoformat(),
        accounts=len(state.accounts),
        orders=len(state.orders),
        appCode=state.options.app_code,
    )


@web.middleware
async def control_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Render ControlError as {"ok": false, "error"}."""
    try:
        return await handler(request)
    except ControlError as exc:
        return json_response({"ok": False, "error": str(exc)}, status=exc.status)


def add_control_routes(app: web.Application) -> None:
    """Mount the /sim/ control API."""
    router = app.router
    router.add_post("/sim/accounts", accounts_post)
    router.add_get("/sim/accounts", accounts_get)
    router.add_post("/sim/login", login_post)
    router.add_post("/sim/sessions", sessions_post)
    router.add_post("/sim/prices", prices_post)
    router.add_get("/sim/prices", prices_get)
    router.add_post("/sim/orders", orders_post)
    router.add_get("/sim/orders", orders_get)
    router.add_get("/sim/orders/{order_id}", order_get)
    router.add_post("/sim/orders/{order_id}/fill", order_fill_post)
    router.add_post("/sim/orders/{order_id}/reject", order_reject_post)
    router.add_post("/sim/orders/{order_id}/cancel", order_cancel_post)
    router.add_post("/sim/orders/{order_id}/modify", order_modify_post)
    router.add_get("/sim/stream", stream_get)
    router.add_post("/sim/stream/drop", stream_drop_post)
    router.add_get("/sim/webhooks", webhooks_get)
    router.add_get("/sim/positions", positions_get)
    router.add_post("/sim/faults", faults_post)
    router.add_get("/sim/faults", faults_get)
    router.add_delete("/sim/faults", faults_delete)
    router.add_post("/sim/expire-sessions", expire_sessions_post)
    router.add_post("/sim/new-day", new_day_post)
    router.add_get("/sim/requests", requests_get)
    router.add_post("/sim/reset", reset_post)
    router.add_post("/sim/config", config_post)
    router.add_get("/sim/config", config_get)
    router.add_get("/sim/health", health_get)
