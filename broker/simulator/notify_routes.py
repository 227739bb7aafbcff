"""Order updates: createWsToken and the order-notify websocket (both host styles), webhook (un)subscribe.

The websocket protocol (shared/reference openapi 7.1): the first client frame `{"orderToken","userId"}`
is answered `{"status":"Ok"}` (or `{"status":"Not_ok","message"}` and a close); the client then sends
`{"heartbeat":"h","userId"}` at least every `orderNotifyIdleSeconds` (default 60) or the socket is closed;
the server pushes a `"t":"om"` frame on every order event of the account. Tokens are single-use.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from broker.simulator import envelopes
from broker.simulator.access import access_account_either
from broker.simulator.app_keys import STATE_KEY
from broker.simulator.envelopes import json_response, read_json
from broker.simulator.notify_hub import MAX_WEBHOOKS_PER_USER, Drop, Subscriber
from broker.simulator.order_validation import field_text
from broker.simulator.state import Account, SimState

logger = logging.getLogger(__name__)

TOKEN_PATHS = ("/open-api/order-notify/ws/createWsToken", "/order-notify/ws/createWsToken")
SOCKET_PATHS = ("/open-api/order-notify/websocket", "/order-notify/websocket")
WEBHOOK_BASE = "/rest/AliceBlueAPIService/api/webhook/"
MAX_CLIENT_FRAME = 64 * 1024
IDLE_CLOSE = 1000  # the reference does not say which code the real server uses
DROP_CLOSE = 1001  # going away
REFUSED_CLOSE = 1008  # policy violation
CLOSE_GRACE_SECONDS = 2.0


def _state(request: web.Request) -> SimState:
    return request.app[STATE_KEY]


def order_notify_mode(state: SimState, account: Account) -> str:
    """token | empty | html, for this account (a per-user switch overrides the global one)."""
    return state.config.order_notify_user_modes.get(account.user_id) or state.config.order_notify_mode


async def create_ws_token(request: web.Request) -> web.Response:
    """`GET …/order-notify/ws/createWsToken`: a single-use orderToken (or the switched-on odd answers)."""
    state = _state(request)
    account = access_account_either(request, order_route=False)
    if isinstance(account, web.Response):
        return account
    mode = order_notify_mode(state, account)
    if mode == "empty":
        # What Alice Blue answers when the account is not enabled for the feed.
        return web.Response(status=200, body=b"", content_type="application/json")
    if mode == "html":
        return envelopes.html_response(envelopes.HTML_SPA, status=200)
    token = state.notify.token_issue(account.user_id)
    return json_response({"status": "Ok", "message": "200", "result": [{"orderToken": token}]})


# -- the websocket -----------------------------------------------------------------------------------------


async def _refuse(ws: web.WebSocketResponse, message: str) -> None:
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_str(json.dumps({"status": "Not_ok", "message": message}, separators=(",", ":")))
        await ws.close(code=REFUSED_CLOSE, message=message.encode()[:120])


async def _subscribe(ws: web.WebSocketResponse, state: SimState) -> Subscriber | None:
    """Read and check the subscribe frame; the registered subscriber, or None (refused or gone)."""
    try:
        message = await ws.receive(timeout=state.config.order_notify_idle_seconds)
    except TimeoutError:
        await _refuse(ws, "No subscribe frame received")
        return None
    if message.type is not WSMsgType.TEXT:
        return None
    try:
        frame = json.loads(message.data)
    except ValueError:
        frame = None
    if not isinstance(frame, dict) or not field_text(frame.get("orderToken")):
        await _refuse(ws, "Invalid request")
        return None
    user_id = state.notify.token_take(field_text(frame.get("orderToken")))
    account = state.account(user_id) if user_id else None
    if account is None:
        await _refuse(ws, "Invalid orderToken")
        return None
    subscribed_as = field_text(frame.get("userId")).upper()
    # The reference leaves open whether the feed wants the login id or the numeric UCC: accept both.
    if subscribed_as not in {account.user_id, account.client_id.upper()}:
        await _refuse(ws, "Invalid userId")
        return None
    # Registered before the Ok goes out, so no event between the two is lost.
    subscriber = state.notify.subscribe(account.user_id, subscribed_as)
    try:
        await ws.send_str('{"status":"Ok"}')
    except (ConnectionError, RuntimeError):
        state.notify.unsubscribe(subscriber)
        return None
    return subscriber


async def _read_heartbeats(ws: web.WebSocketResponse, state: SimState, subscriber: Subscriber) -> None:
    """Read client frames until the socket ends; close it when no heartbeat came for the idle limit."""
    while True:
        idle = state.config.order_notify_idle_seconds
        remaining = subscriber.last_heartbeat + idle - time.monotonic()
        if remaining <= 0:
            logger.info("sim order-notify for %s: no heartbeat for %g s, closing", subscriber.user_id, idle)
            await ws.close(code=IDLE_CLOSE, message=f"No heartbeat for {idle:g} s".encode())
            return
        try:
            message = await ws.receive(timeout=remaining)
        except TimeoutError:
            continue
        if message.type is WSMsgType.TEXT:
            try:
                frame = json.loads(message.data)
            except ValueError:
                continue
            if isinstance(frame, dict) and "heartbeat" in frame:
                subscriber.last_heartbeat = time.monotonic()
                subscriber.heartbeats += 1
            continue
        if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return


async def _send_frames(
    request: web.Request, ws: web.WebSocketResponse, subscriber: Subscriber
) -> Drop | None:
    """Write queued frames in order, each no earlier than its due time; returns the Drop that ended it."""
    while True:
        item = await subscriber.queue.get()
        if isinstance(item, Drop):
            if item.mode == "abort":
                if request.transport is not None:
                    request.transport.abort()
            elif item.mode == "close":
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.close(code=DROP_CLOSE, message=b"Dropped by /sim/stream/drop")
            return item
        due, text = item
        wait = due - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        try:
            await ws.send_str(text)
        except (ConnectionError, RuntimeError):
            return None
        subscriber.frames_sent += 1


async def _hold_silently(request: web.Request, hold_seconds: float) -> None:
    """Neither read nor write (no pong either) until the client hangs up or the hold ends, then reset."""
    deadline = time.monotonic() + hold_seconds
    while time.monotonic() < deadline:
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        await asyncio.sleep(0.05)
    if request.transport is not None:
        request.transport.abort()


async def order_notify_socket(request: web.Request) -> web.StreamResponse:
    """`…/order-notify/websocket`: subscribe frame, heartbeats, and a frame per order event."""
    state = _state(request)
    ws = web.WebSocketResponse(max_msg_size=MAX_CLIENT_FRAME)
    await ws.prepare(request)
    subscriber = await _subscribe(ws, state)
    if subscriber is None:
        return ws
    logger.info("sim order-notify for %s: subscribed as %s", subscriber.user_id, subscriber.subscribed_as)
    reader = asyncio.create_task(_read_heartbeats(ws, state, subscriber))
    sender = asyncio.create_task(_send_frames(request, ws, subscriber))
    try:
        await asyncio.wait({reader, sender}, return_when=asyncio.FIRST_COMPLETED)
        state.notify.unsubscribe(subscriber)
        if sender.done():
            drop = sender.result()
            if drop is not None and drop.mode == "silent":
                reader.cancel()
                await _hold_silently(request, drop.hold_seconds)
            else:
                # A close handshake started by the sender ends the reader; let it finish.
                await asyncio.wait({reader}, timeout=CLOSE_GRACE_SECONDS)
    finally:
        state.notify.unsubscribe(subscriber)
        for task in (reader, sender):
            task.cancel()
        for task in (reader, sender):
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, RuntimeError):
                await task
    logger.info("sim order-notify for %s: socket ended", subscriber.user_id)
    return ws


# -- webhooks ------------------------------------------------------------------------------------------


def _webhook_fail(emsg: str) -> web.Response:
    return json_response({"stat": "Not_Ok", "emsg": emsg})


async def _webhook_call(request: web.Request) -> tuple[SimState, Account, str] | web.Response:
    state = _state(request)
    account = access_account_either(request, order_route=False)
    if isinstance(account, web.Response):
        return account
    body: Any = await read_json(request)
    url = field_text(body.get("callbackUrl")) if isinstance(body, dict) else ""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return _webhook_fail("Invalid callbackUrl")
    return state, account, url


async def webhook_subscribe(request: web.Request) -> web.Response:
    """`webhook/subscribe {callbackUrl}`: at most 5 URLs per user; the same URL twice is one."""
    call = await _webhook_call(request)
    if isinstance(call, web.Response):
        return call
    state, account, url = call
    if not state.notify.webhook_add(account.user_id, url):
        return _webhook_fail(f"Maximum of {MAX_WEBHOOKS_PER_USER} callback URLs reached")
    return json_response({"stat": "Ok", "message": "Subscribed successfully", "callbackUrl": url})


async def webhook_unsubscribe(request: web.Request) -> web.Response:
    """`webhook/unsubscribe {callbackUrl}`."""
    call = await _webhook_call(request)
    if isinstance(call, web.Response):
        return call
    state, account, url = call
    if not state.notify.webhook_remove(account.user_id, url):
        return _webhook_fail("Callback URL is not subscribed")
    return json_response({"stat": "Ok", "message": "Unsubscribed successfully", "callbackUrl": url})


async def _close_sockets(app: web.Application) -> None:
    await app[STATE_KEY].notify.aclose()


def add_notify_routes(app: web.Application) -> None:
    """Mount createWsToken, the websocket (both host styles) and the webhook routes."""
    for path in TOKEN_PATHS:
        app.router.add_get(path, create_ws_token)
    for path in SOCKET_PATHS:
        app.router.add_get(path, order_notify_socket)
    app.router.add_post(WEBHOOK_BASE + "subscribe", webhook_subscribe)
    app.router.add_post(WEBHOOK_BASE + "unsubscribe", webhook_unsubscribe)
    app.on_shutdown.append(_close_sockets)
