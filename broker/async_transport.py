"""Sending many broker requests at once from synchronous code (the replication engine's placement batches).

One asyncio event loop per process runs in its own daemon thread with one aiohttp session per pool size,
so its keep-alive connections (and, against the real Alice Blue, its TLS sessions) outlive every batch.
`send_all` hands the loop a batch and blocks until every request has its answer or its error: one thread
and no per-request thread switching, instead of a thread per order.

Each request is judged exactly as `broker.transport.send` judges it (`answer_of`, the same timeouts, the
same log line), and a transport failure is classified the same way: nothing sent (connection refused,
connect timeout, waiting for a pooled connection) -> BrokerUnavailableError; sent without an answer (read
timeout, reset, disconnect) -> BrokerTimeoutError for an order call, whose outcome is unknown. Nothing is
ever retried here.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import json
import logging
import os
import ssl
import threading
import time
from collections.abc import Iterable

import aiohttp
import certifi
import requests

from broker import transport
from broker.exceptions import BrokerError
from broker.transport import JsonResponse, WireRequest, answer_of, log_call, transport_failure

logger = logging.getLogger("broker.transport")

# How long past its own connect + read timeouts a batch may take before the caller stops waiting.
_BATCH_GRACE = 5.0
_NOT_SENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError, aiohttp.InvalidURL)


class _Loop:
    """The process's event loop thread and its aiohttp sessions (created and used on the loop only)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.sessions: dict[int, aiohttp.ClientSession] = {}
        self.proxies: dict[str, str | None] = {}
        self.thread = threading.Thread(target=self.loop.run_forever, name="broker-async", daemon=True)
        self.thread.start()

    def session(self, pool_size: int) -> aiohttp.ClientSession:
        session = self.sessions.get(pool_size)
        if session is None or session.closed:
            # The same certificate authorities as the blocking client (requests uses certifi's bundle).
            tls = ssl.create_default_context(cafile=certifi.where())
            connector = aiohttp.TCPConnector(
                limit=pool_size, limit_per_host=pool_size, ttl_dns_cache=300, ssl=tls
            )
            # No cookie jar (the session serves every account), no environment (.netrc) credentials.
            session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False
            )
            self.sessions[pool_size] = session
        return session

    def proxy(self, base_url: str) -> str | None:
        # HTTPS_PROXY / NO_PROXY read once per base URL, as the blocking transport does.
        if base_url not in self.proxies:
            found = requests.utils.get_environ_proxies(base_url)
            scheme = base_url.split(":", 1)[0].lower()
            self.proxies[base_url] = found.get(scheme) or found.get("all")
        return self.proxies[base_url]

    async def close_sessions(self) -> None:
        sessions, self.sessions = list(self.sessions.values()), {}
        for session in sessions:
            await session.close()

    def close(self) -> None:
        if self.loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self.close_sessions(), self.loop)
            try:
                future.result(timeout=5)
            except (concurrent.futures.TimeoutError, RuntimeError):
                logger.warning("broker async sessions did not close in time")


_state: _Loop | None = None
_state_lock = threading.Lock()


def _loop() -> _Loop:
    global _state
    state = _state
    if state is not None and state.pid == os.getpid():
        return state
    with _state_lock:
        if _state is None or _state.pid != os.getpid():  # first use, or a forked child
            _state = _Loop()
        return _state


def close_async_sessions() -> None:
    """Close this process's pooled connections (tests, shutdown); the loop stays for the next batch."""
    state = _state
    if state is not None and state.pid == os.getpid():
        state.close()


transport.on_close(close_async_sessions)
atexit.register(close_async_sessions)


def send_all(batch: Iterable[WireRequest]) -> list[JsonResponse | BrokerError]:
    """Send every request at once; one answer (or the BrokerError it means) per request, in order.

    Each request is handed to the loop as soon as `batch` yields it, so a caller preparing many requests
    (a generator) has the first on the wire while it prepares the rest.
    """
    state = _loop()
    sent: list[tuple[WireRequest, concurrent.futures.Future[JsonResponse | BrokerError]]] = []
    for request in batch:
        sent.append((request, asyncio.run_coroutine_threadsafe(_send_one(state, request), state.loop)))
    if not sent:
        return []
    deadline = time.monotonic() + max(sum(request.timeout) for request, _future in sent) + _BATCH_GRACE
    results: list[JsonResponse | BrokerError] = []
    for request, future in sent:
        try:
            results.append(future.result(timeout=max(deadline - time.monotonic(), 0.0)))
        except concurrent.futures.TimeoutError:
            future.cancel()
            logger.error("a broker request (%s) had no result by the batch's deadline", request.what)
            results.append(_failure(request, sent=True, kind="batch timeout"))
    return results


def _decoded(raw: bytes, charset: str | None) -> str:
    try:
        return raw.decode(charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return raw.decode("utf-8", errors="replace")


def _failure(request: WireRequest, *, sent: bool, kind: str) -> BrokerError:
    return transport_failure(sent=sent, mutating=request.mutating, what=request.what, kind=kind)


async def _send_one(state: _Loop, request: WireRequest) -> JsonResponse | BrokerError:
    started = time.monotonic()
    error: BrokerError
    if not transport.headers_sendable(request.headers):
        error = transport.unusable_session(request)
        log_call(request, "-", started, error)
        return error
    connect, read = request.timeout
    # `connect` also bounds the wait for a pooled connection: a request still waiting was never sent.
    timeout = aiohttp.ClientTimeout(total=None, connect=connect + read, sock_connect=connect, sock_read=read)
    headers = dict(request.headers)
    data = None
    if request.json_body is not None:
        data = json.dumps(request.json_body, allow_nan=False).encode()
        headers["Content-Type"] = "application/json"
    try:
        async with state.session(request.pool_size).request(
            request.method,
            request.url,
            data=data,
            headers=headers,
            timeout=timeout,
            allow_redirects=False,
            proxy=state.proxy(request.base_url),
        ) as response:
            raw = await response.read()
            status = response.status
            content_type = response.headers.get("Content-Type", "")
            retry_after = response.headers.get("Retry-After")
            text = _decoded(raw, response.charset)
    except (*_NOT_SENT, aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
        error = _failure(request, sent=not isinstance(exc, _NOT_SENT), kind=type(exc).__name__)
        log_call(request, "-", started, error)
        return error
    try:
        return answer_of(
            request,
            status=status,
            content_type=content_type,
            text=text,
            retry_after=retry_after,
            started=started,
        )
    except BrokerError as exc:
        return exc
