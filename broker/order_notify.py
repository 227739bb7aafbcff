"""Alice Blue's order-notify websocket, as an asyncio stream of OrderUpdates (no Django).

Protocol (shared/reference openapi 7.1, legacy 9): GET createWsToken (a single-use orderToken, see
`AliceBlueClient.order_notify_token`), connect, send `{"orderToken","userId"}`, get `{"status":"Ok"}`, send
`{"heartbeat":"h","userId"}` at least once a minute, receive `"t":"om"` frames.

One `OrderNotifyStream` is one connection. It never reconnects: when it closes or fails it raises
OrderNotifyClosed and the caller reconnects with backoff and a fresh token (`connect_order_notify` does the
token and the connect in one call). Every wait has a timeout (connect, the Ok, keepalive pings), so a dead
connection ends in an exception, never a hang. The token is never logged, and neither are frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from datetime import UTC, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException

from broker.client import AliceBlueClient
from broker.exceptions import BrokerAuthError, OrderNotifyClosed, OrderNotifyNotEnabled, OrderNotifyRefused
from broker.parsing import excerpt, to_text
from broker.parsing_order_notify import is_order_payload, parse_order_update, subscribe_answer_ok
from broker.types import OrderUpdate

logger = logging.getLogger(__name__)

DEFAULT_HEARTBEAT_SECONDS = 50.0  # the server closes after 60 s without one; the SDK sends every 50 s
DEFAULT_OPEN_TIMEOUT = 10.0
DEFAULT_ACK_TIMEOUT = 10.0
DEFAULT_PING_INTERVAL = 20.0
DEFAULT_PING_TIMEOUT = 20.0
DEFAULT_CLOSE_TIMEOUT = 5.0
MAX_FRAME_BYTES = 1024 * 1024


class _NoFrameLogs(logging.LoggerAdapter[logging.Logger]):
    """The websockets library logs every frame at DEBUG, the subscribe frame (with the token) included."""

    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


_WIRE_LOGGER = _NoFrameLogs(logging.getLogger(f"{__name__}.wire"), {})


def _decode(message: str | bytes) -> Any:
    text = message.decode("utf-8", errors="replace") if isinstance(message, bytes) else message
    return json.loads(text, parse_float=Decimal)


def _closed_error(exc: ConnectionClosed, user_id: str) -> OrderNotifyClosed:
    received = exc.rcvd
    if received is None:
        return OrderNotifyClosed(
            f"order-notify for {user_id}: connection lost without a close frame ({type(exc).__name__})",
            code="connection_lost",
        )
    reason = excerpt(received.reason, 80)
    detail = f"code {received.code}, {reason}" if reason else f"code {received.code}"
    return OrderNotifyClosed(
        f"order-notify for {user_id}: closed by the server ({detail})",
        close_code=received.code,
        reason=reason,
        code="closed",
    )


class OrderNotifyStream:
    """One authenticated order-notify connection; iterate it (`async for update in stream`) for updates.

    Iteration raises OrderNotifyClosed when the server or the network ends the connection, and stops
    (StopAsyncIteration) after `close()`. Acks, heartbeat answers and other non-order frames are skipped;
    an order frame that cannot be read is logged (order id only) and skipped.
    """

    def __init__(self, connection: ClientConnection, *, user_id: str, heartbeat_seconds: float) -> None:
        self._connection = connection
        self.user_id = user_id
        self.heartbeat_seconds = heartbeat_seconds
        self.connected_at = datetime.now(UTC)
        self.last_message_at = time.monotonic()  # any frame from the server, order or not
        self.updates_received = 0
        self.frames_skipped = 0
        self._pending: deque[OrderUpdate] = deque()
        self._closed_by_us = False
        self._heartbeat = asyncio.create_task(self._heartbeats(), name=f"order-notify-heartbeat-{user_id}")

    # -- opening ---------------------------------------------------------------------------------------------
    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        token: str,
        user_id: str,
        heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS,
        open_timeout: float = DEFAULT_OPEN_TIMEOUT,
        ack_timeout: float = DEFAULT_ACK_TIMEOUT,
        ping_interval: float | None = DEFAULT_PING_INTERVAL,
        ping_timeout: float | None = DEFAULT_PING_TIMEOUT,
        close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
        **connect_options: Any,
    ) -> OrderNotifyStream:
        """Connect to `url`, subscribe with `token` as `user_id`, and wait for the server's Ok.

        Raises OrderNotifyClosed (not reachable, handshake refused, no Ok within `ack_timeout`, closed while
        subscribing) or OrderNotifyRefused (the server answered Not_ok). `connect_options` go to
        `websockets.asyncio.client.connect` (e.g. `ssl`, `proxy`).
        """
        try:
            connection = await connect(
                url,
                open_timeout=open_timeout,
                ping_interval=ping_interval,
                ping_timeout=ping_timeout,
                close_timeout=close_timeout,
                max_size=MAX_FRAME_BYTES,
                logger=_WIRE_LOGGER,
                **connect_options,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            raise OrderNotifyClosed(
                f"order-notify for {user_id}: websocket handshake refused (HTTP {status})",
                code="handshake_refused",
                http_status=status,
            ) from None
        except (OSError, TimeoutError, InvalidURI, WebSocketException) as exc:
            raise OrderNotifyClosed(
                f"order-notify for {user_id}: could not connect ({type(exc).__name__})", code="connect_failed"
            ) from None
        early: list[OrderUpdate] = []
        try:
            await connection.send(json.dumps({"orderToken": token, "userId": user_id}))
            async with asyncio.timeout(ack_timeout):
                await cls._await_ok(connection, user_id, early)
        except TimeoutError:
            await connection.close()
            raise OrderNotifyClosed(
                f"order-notify for {user_id}: no answer to the subscribe frame within {ack_timeout:g} s",
                code="ack_timeout",
            ) from None
        except ConnectionClosed as exc:
            raise _closed_error(exc, user_id) from None
        except BaseException:
            await connection.close()
            raise
        stream = cls(connection, user_id=user_id, heartbeat_seconds=heartbeat_seconds)
        stream._pending.extend(early)
        logger.info("order-notify for %s: subscribed", user_id)
        return stream

    @staticmethod
    async def _await_ok(connection: ClientConnection, user_id: str, early: list[OrderUpdate]) -> None:
        while True:
            try:
                payload = _decode(await connection.recv())
            except ValueError:
                continue
            verdict = subscribe_answer_ok(payload)
            if verdict is True:
                return
            if verdict is False:
                message = excerpt(to_text(payload.get("message") or payload.get("emsg")), 80)
                await connection.close()
                raise OrderNotifyRefused(
                    f"order-notify for {user_id}: subscribe refused ({message or 'Not_ok'})",
                )
            # An order frame ahead of the Ok is kept, not lost.
            if is_order_payload(payload):
                with contextlib.suppress(ValueError):
                    update = parse_order_update(payload)
                    if update is not None:
                        early.append(update)

    # -- reading -----------------------------------------------------------------------------------------
    def __aiter__(self) -> OrderNotifyStream:
        return self

    async def __anext__(self) -> OrderUpdate:
        if self._pending:
            return self._pending.popleft()
        while True:
            try:
                message = await self._connection.recv()
            except ConnectionClosed as exc:
                self._heartbeat.cancel()
                if self._closed_by_us:
                    raise StopAsyncIteration from None
                error = _closed_error(exc, self.user_id)
                logger.warning("%s", error.message)
                raise error from None
            self.last_message_at = time.monotonic()
            update = self._read(message)
            if update is not None:
                self.updates_received += 1
                return update

    def _read(self, message: str | bytes) -> OrderUpdate | None:
        try:
            payload = _decode(message)
        except ValueError:
            self.frames_skipped += 1
            logger.warning("order-notify for %s: a frame that is not JSON was skipped", self.user_id)
            return None
        try:
            update = parse_order_update(payload)
        except (ValueError, TypeError) as exc:
            self.frames_skipped += 1
            order_id = to_text(payload.get("norenordno")) if isinstance(payload, dict) else ""
            logger.warning(
                "order-notify for %s: unreadable update of order %s skipped (%s)",
                self.user_id,
                order_id or "?",
                excerpt(exc, 60),
            )
            return None
        if update is None and subscribe_answer_ok(payload) is False:
            logger.warning("order-notify for %s: the server sent Not_ok on an open stream", self.user_id)
        return update

    # -- heartbeats and closing --------------------------------------------------------------------------
    async def _heartbeats(self) -> None:
        frame = json.dumps({"heartbeat": "h", "userId": self.user_id})
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            try:
                await self._connection.send(frame)
            except ConnectionClosed:
                return  # the reader sees the close and raises

    @property
    def is_open(self) -> bool:
        return self._connection.close_code is None and not self._closed_by_us

    async def close(self) -> None:
        """Close the connection (idempotent); iteration then stops."""
        self._closed_by_us = True
        self._heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._heartbeat
        await self._connection.close()

    async def __aenter__(self) -> OrderNotifyStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


async def connect_order_notify(
    client: AliceBlueClient,
    *,
    user_id: str | None = None,
    **options: Any,
) -> OrderNotifyStream:
    """A fresh token from `client` (in a worker thread: the client is synchronous), then a connected stream.

    `user_id` defaults to the session's user id (the login id, as the SDK sends it; pass the session's
    `client_id` for the numeric UCC that openalgo sends). `options` go to `OrderNotifyStream.connect`.
    Raises OrderNotifyNotEnabled when the account is not enabled for the feed, the client's BrokerErrors
    for the token call, and OrderNotifyStream.connect's errors.
    """
    if client.session is None:
        raise BrokerAuthError("order-notify: no session for this client", code="no_session")
    subscriber = user_id or client.session.user_id
    token = await asyncio.to_thread(client.order_notify_token)
    if token is None:
        raise OrderNotifyNotEnabled(f"order-notify for {subscriber}: the account is not enabled for the feed")
    return await OrderNotifyStream.connect(
        client.order_notify_url(), token=token, user_id=subscriber, **options
    )
