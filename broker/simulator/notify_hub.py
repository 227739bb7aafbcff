"""Who hears about order events: order-notify tokens and sockets, webhook subscriptions and deliveries.

Owned by the simulator's event loop (no locks). `publish` never blocks the engine: a frame goes into each
socket's queue (its sender task writes it), a webhook POST becomes a fire-and-forget task.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

logger = logging.getLogger(__name__)

MAX_WEBHOOKS_PER_USER = 5
DELIVERY_LOG_LIMIT = 2000
TOKEN_LIMIT = 10_000  # unused tokens of a long `make run` must not grow without bound
DROP_MODES = frozenset({"close", "abort", "silent"})


@dataclass(frozen=True)
class Drop:
    """Ask a socket's sender to end the connection: `close` (close frame), `abort` (TCP reset), or
    `silent` (stop reading and writing, answer no pings, until the client gives up or `hold_seconds`)."""

    mode: str = "close"
    hold_seconds: float = 30.0


@dataclass(eq=False)
class Subscriber:
    """One authenticated order-notify socket."""

    subscriber_id: int
    user_id: str
    subscribed_as: str
    queue: asyncio.Queue[tuple[float, str] | Drop]
    connected_at: datetime
    last_heartbeat: float
    heartbeats: int = 0
    frames_sent: int = 0


@dataclass
class _Token:
    user_id: str
    issued_at: float


class OrderNotifyHub:
    """Tokens, sockets and webhooks of every account; survives /sim/reset through `reset()`."""

    def __init__(self) -> None:
        self._http: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._sequence = 0
        self.tokens: dict[str, _Token] = {}
        self.subscribers: dict[str, list[Subscriber]] = {}
        self.webhooks: dict[str, list[str]] = {}
        self.deliveries: deque[dict[str, Any]] = deque(maxlen=DELIVERY_LOG_LIMIT)

    def reset(self) -> None:
        """Close every socket; forget tokens, webhook subscriptions and deliveries."""
        self.drop(None, Drop("abort"))
        self.tokens.clear()
        self.webhooks.clear()
        self.deliveries.clear()

    # -- tokens and sockets ----------------------------------------------------------------------------
    def token_issue(self, user_id: str) -> str:
        """A fresh single-use orderToken for `user_id` (hex, the length of the reference's example)."""
        if len(self.tokens) >= TOKEN_LIMIT:
            oldest = min(self.tokens, key=lambda t: self.tokens[t].issued_at)
            del self.tokens[oldest]
        token = secrets.token_hex(30)[:59]
        self.tokens[token] = _Token(user_id=user_id, issued_at=time.monotonic())
        return token

    def token_take(self, token: str) -> str | None:
        """The user a token was issued to, consuming the token; None when unknown or already used."""
        entry = self.tokens.pop(token, None)
        return entry.user_id if entry else None

    def subscribe(self, user_id: str, subscribed_as: str) -> Subscriber:
        self._sequence += 1
        subscriber = Subscriber(
            subscriber_id=self._sequence,
            user_id=user_id,
            subscribed_as=subscribed_as,
            queue=asyncio.Queue(),
            connected_at=datetime.now(UTC),
            last_heartbeat=time.monotonic(),
        )
        self.subscribers.setdefault(user_id, []).append(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        sockets = self.subscribers.get(subscriber.user_id, [])
        if subscriber in sockets:
            sockets.remove(subscriber)
        if not sockets:
            self.subscribers.pop(subscriber.user_id, None)

    def sockets(self, user_id: str | None = None) -> list[Subscriber]:
        return [s for uid, subs in self.subscribers.items() if user_id in (None, uid) for s in subs]

    def drop(self, user_id: str | None, drop: Drop) -> int:
        """Ask every socket (of one user) to end as `drop` says; returns how many.

        They stop receiving events at once (the queued ones are still written before the drop).
        """
        targets = self.sockets(user_id)
        for subscriber in targets:
            subscriber.queue.put_nowait(drop)
            self.unsubscribe(subscriber)
        return len(targets)

    # -- webhooks --------------------------------------------------------------------------------------
    def webhook_add(self, user_id: str, url: str) -> bool:
        """Subscribe `url` (idempotent); False when the user already has the maximum."""
        urls = self.webhooks.setdefault(user_id, [])
        if url in urls:
            return True
        if len(urls) >= MAX_WEBHOOKS_PER_USER:
            return False
        urls.append(url)
        return True

    def webhook_remove(self, user_id: str, url: str) -> bool:
        """Unsubscribe `url`; False when it was not subscribed."""
        urls = self.webhooks.get(user_id, [])
        if url not in urls:
            return False
        urls.remove(url)
        return True

    # -- events ----------------------------------------------------------------------------------------
    def wants(self, user_id: str) -> bool:
        """True when someone listens to `user_id`'s order events (the engine skips building frames else)."""
        return bool(self.subscribers.get(user_id) or self.webhooks.get(user_id))

    def publish(
        self,
        user_id: str,
        frame: dict[str, str],
        webhook_body: dict[str, Any],
        *,
        delay_ms: int = 0,
        webhook_timeout: float = 2.0,
    ) -> None:
        """Queue `frame` on every socket of `user_id` and POST `webhook_body` to each of its webhooks."""
        due = time.monotonic() + delay_ms / 1000
        text = json.dumps(frame, separators=(",", ":"))
        for subscriber in self.subscribers.get(user_id, ()):
            subscriber.queue.put_nowait((due, text))
        urls = self.webhooks.get(user_id)
        if not urls:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            logger.warning("sim webhook for %s not sent: no event loop", user_id)
            return
        body = json.dumps(webhook_body, separators=(",", ":")).encode()
        for url in urls:
            task = loop.create_task(
                self._deliver(user_id, url, body, webhook_body, delay_ms, webhook_timeout)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(
        self,
        user_id: str,
        url: str,
        body: bytes,
        payload: dict[str, Any],
        delay_ms: int,
        timeout: float,
    ) -> None:
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        entry: dict[str, Any] = {
            "userId": user_id,
            "url": url,
            "norenordno": payload.get("norenordno", ""),
            "reporttype": payload.get("reporttype", ""),
            "orderStatus": payload.get("status", ""),
            "statusCode": None,
            "error": "",
            "time": datetime.now(UTC).isoformat(),
        }
        try:
            async with self._client().post(
                url,
                data=body,
                headers={"Content-Type": "application/json"},
                timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=False,
            ) as response:
                entry["statusCode"] = response.status
                await response.read()
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            entry["error"] = type(exc).__name__
            logger.info("sim webhook for %s to %s failed: %s", user_id, url, type(exc).__name__)
        self.deliveries.append(entry)

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession()
        return self._http

    async def aclose(self) -> None:
        """End every socket and webhook delivery, close the HTTP client (application shutdown)."""
        self.drop(None, Drop("abort"))
        for task in list(self._tasks):
            task.cancel()
        if self._http is not None:
            await self._http.close()
            self._http = None
