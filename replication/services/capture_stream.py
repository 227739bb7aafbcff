"""The order-update stream (DESIGN 5.5), the fast path of master capture: `manage.py master_stream` runs
`master_stream_run`, an asyncio loop speaking Alice Blue's order-notify websocket (`broker.order_notify`).

- One stream per master across every machine: the process that holds the lease `master-stream:<pk>` streams,
  renewing it every CAPTURE_STREAM_LEASE_RENEW seconds; any other process stands by and takes over once the
  lease lapses (CAPTURE_STREAM_LEASE_SECONDS after its holder stopped renewing it).
- Each connection starts with a fresh token and, once subscribed, one read of the master's order book (the
  catch-up: whatever happened while no stream was connected is settled before the first frame is ingested);
  frames then go to `master_order_ingest` one at a time, in the order they came.
- A dropped connection is reconnected with exponential backoff (CAPTURE_STREAM_BACKOFF_MAX at most); an
  account whose feed is not enabled (createWsToken's empty 200) is said so, in the log and the capture status,
  and asked again every CAPTURE_STREAM_NOT_ENABLED_RETRY seconds while the poll does the work.

The database is only touched in worker threads (`asyncio.to_thread`): Django's ORM is synchronous.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import replace
from decimal import Decimal

from django.conf import settings
from django.db import close_old_connections
from django.db.models import F
from django.utils import timezone

from accounts.exceptions import SessionMissing
from accounts.models import Account
from accounts.selectors import account_broker_client, broker_calls_allowed, credential_of, master_get_active
from accounts.services.sessions import account_session_mark_expired
from broker.exceptions import (
    BrokerAuthError,
    BrokerError,
    OrderNotifyClosed,
    OrderNotifyNotEnabled,
    OrderNotifyRefused,
)
from broker.order_notify import OrderNotifyStream, connect_order_notify
from broker.types import Order, OrderUpdate, Side
from copytrade.core.leases import holder_id, lease_acquire, lease_release
from replication.models import CaptureStatus, MasterTrade, TradeEvent
from replication.services.capture import master_order_ingest
from replication.services.capture_poll import capture_status_update, master_book_ingest

logger = logging.getLogger(__name__)

STREAM = CaptureStatus.Kind.STREAM
SOURCE = TradeEvent.Source.STREAM


def lease_name(account: Account) -> str:
    return f"master-stream:{account.pk}"


# ---------------------------------------------------------------- ingesting one update (sync, in a thread)
def _merged_order(update: OrderUpdate, known: MasterTrade | None) -> Order | None:
    """The order an update describes, with what the update left out taken from what is known of the order
    (frames are sparse); None when too little is known (then the master's book is read)."""
    if known is not None:
        update = replace(
            update,
            side=update.side or Side(known.side),
            quantity=update.quantity if update.quantity is not None else known.quantity,
            filled_quantity=update.filled_quantity
            if update.filled_quantity is not None
            else known.filled_quantity,
            price=update.price if update.price is not None else (known.price or Decimal("0")),
            trigger_price=update.trigger_price
            if update.trigger_price is not None
            else (known.trigger_price or Decimal("0")),
            exchange=update.exchange or known.exchange,
            trading_symbol=update.trading_symbol or known.trading_symbol,
            token=update.token or known.token,
            product=update.product or known.product_type,
            order_type=update.order_type or known.order_type,
        )
    try:
        return update.to_order()
    except ValueError:
        return None


def stream_update_ingest(*, account: Account, update: OrderUpdate) -> bool:
    """Ingest one frame; a frame too sparse to stand alone makes the master's book be read for that order.
    Returns whether anything was ingested."""
    known = MasterTrade.objects.filter(account=account, broker_order_id=update.order_id).first()
    order = _merged_order(update, known)
    if order is None or not order.trading_symbol:
        book = account_broker_client(account=account).order_book()
        order = next((row for row in book if row.order_id == update.order_id), None)
        if order is None:
            logger.warning("[STREAM] order %s of the update is not in the master's book", update.order_id)
            return False
    master_order_ingest(account=account, order=order, source=SOURCE)
    return True


def stream_catch_up(*, account: Account) -> tuple[int, int]:
    """One read of the master's book, ingested: what happened while no stream was connected."""
    book = account_broker_client(account=account).order_book()
    return master_book_ingest(account=account, orders=book, source=SOURCE)


def _session_usable(account: Account) -> bool:
    try:
        return broker_calls_allowed(credential_of(account))
    finally:
        close_old_connections()


def _status(account: Account, **fields: object) -> None:
    capture_status_update(account=account, kind=STREAM, **fields)
    close_old_connections()


def _status_error(account: Account, message: str, *, feed_enabled: bool | None = None) -> None:
    fields: dict[str, object] = {
        "connected": False,
        "last_error": message[:255],
        "last_run_at": timezone.now(),
    }
    if feed_enabled is not None:
        fields["feed_enabled"] = feed_enabled
    _status(account, **fields)


def _count_reconnect(account: Account) -> None:
    CaptureStatus.objects.filter(account=account, kind=STREAM).update(reconnects=F("reconnects") + 1)


# ---------------------------------------------------------------- the loop
class MasterStream:
    """Runs until `stop()`: stands by, or holds the lease and streams the active master's order updates."""

    def __init__(self, *, max_seconds: float | None = None) -> None:
        self.holder = holder_id("stream")
        self.stopping = asyncio.Event()
        self.max_seconds = max_seconds
        self._stream: OrderNotifyStream | None = None

    def stop(self) -> None:
        self.stopping.set()

    async def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopped first; True when stopping."""
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
        except TimeoutError:
            return False
        return True

    async def run(self) -> None:
        if self.max_seconds is not None:
            asyncio.get_running_loop().call_later(self.max_seconds, self.stop)
        logger.info("[STREAM] %s started", self.holder)
        while not self.stopping.is_set():
            master = await asyncio.to_thread(master_get_active)
            if master is None:
                await self._sleep(settings.CAPTURE_STREAM_LEASE_RENEW)
                continue
            held = await asyncio.to_thread(self._lease_take, master)
            if not held:
                await self._sleep(settings.CAPTURE_STREAM_LEASE_RENEW)  # standing by
                continue
            try:
                await self._serve(master)
            finally:
                await asyncio.to_thread(self._lease_drop, master)
        logger.info("[STREAM] %s stopped", self.holder)

    def _lease_take(self, master: Account) -> bool:
        try:
            taken = lease_acquire(
                name=lease_name(master), holder=self.holder, seconds=settings.CAPTURE_STREAM_LEASE_SECONDS
            )
        finally:
            close_old_connections()
        return taken

    def _lease_drop(self, master: Account) -> None:
        lease_release(name=lease_name(master), holder=self.holder)
        CaptureStatus.objects.filter(account=master, kind=STREAM, holder=self.holder).update(
            connected=False, holder=""
        )
        close_old_connections()

    async def _serve(self, master: Account) -> None:
        """Hold the lease for `master`: connect, catch up, ingest frames; reconnect until stopped or the lease
        is lost (another process took it over: this one was presumed dead) or the master changed."""
        logger.info("[STREAM] %s holds the stream of master %s", self.holder, master.account_id)
        await asyncio.to_thread(_status, master, holder=self.holder)
        renewer = asyncio.create_task(self._renew(master))
        backoff = 1.0
        try:
            while not self.stopping.is_set() and not renewer.done():
                wait = await self._session(master)
                if wait is None:
                    backoff = 1.0
                    continue
                wait = wait if wait > 0 else backoff
                backoff = min(backoff * 2, settings.CAPTURE_STREAM_BACKOFF_MAX)
                if await self._sleep(wait * random.uniform(0.8, 1.2)):  # noqa: S311 - jitter, not a secret
                    break
        finally:
            renewer.cancel()
            if self._stream is not None:
                await self._stream.close()
                self._stream = None

    async def _renew(self, master: Account) -> None:
        """Renew the lease and the stream's heartbeat in the capture status; ends (and so ends _serve) when
        the lease is lost or the active master changed."""
        while True:
            stopping = await self._sleep(settings.CAPTURE_STREAM_LEASE_RENEW)
            still = not stopping and await asyncio.to_thread(self._renew_once, master)
            if not still:
                if not stopping:
                    logger.warning("[STREAM] %s lost the stream of master %s", self.holder, master.account_id)
                if self._stream is not None:
                    await self._stream.close()
                return

    def _renew_once(self, master: Account) -> bool:
        try:
            current = master_get_active()
            if current is None or current.pk != master.pk:
                return False
            if not lease_acquire(
                name=lease_name(master), holder=self.holder, seconds=settings.CAPTURE_STREAM_LEASE_SECONDS
            ):
                return False
            connected = self._stream is not None and self._stream.is_open
            fields: dict[str, object] = {"holder": self.holder, "connected": connected}
            if connected:
                fields["last_run_at"] = timezone.now()
            capture_status_update(account=master, kind=STREAM, **fields)
            return True
        finally:
            close_old_connections()

    async def _session(self, master: Account) -> float | None:
        """One connection: None when it ended in a way worth reconnecting at once (after a clean run), else
        the seconds to wait first (0: the current backoff)."""
        usable = await asyncio.to_thread(_session_usable, master)
        if not usable:
            message = "Master session expired or missing: log in with Alice Blue (the poll waits too)"
            await asyncio.to_thread(_status_error, master, message)
            return float(settings.CAPTURE_STREAM_BACKOFF_MAX)
        try:
            client = await asyncio.to_thread(account_broker_client, account=master)
            self._stream = await connect_order_notify(
                client,
                heartbeat_seconds=settings.CAPTURE_STREAM_HEARTBEAT,
            )
        except OrderNotifyNotEnabled:
            message = (
                f"Alice Blue's order feed is not enabled for {master.account_id}: the poll captures its "
                f"orders (every {settings.CAPTURE_STREAM_NOT_ENABLED_RETRY:g}s the stream asks again)"
            )
            logger.warning("[STREAM] %s", message)
            await asyncio.to_thread(_status_error, master, message, feed_enabled=False)
            return float(settings.CAPTURE_STREAM_NOT_ENABLED_RETRY)
        except (BrokerAuthError, SessionMissing) as exc:
            message = f"Master session not usable ({getattr(exc, 'message', exc)}): log in with Alice Blue"
            logger.warning("[STREAM] %s", message)
            if isinstance(exc, BrokerAuthError):
                await asyncio.to_thread(
                    account_session_mark_expired, account=master, reason=f"Session expired: {exc.message}"
                )
            await asyncio.to_thread(_status_error, master, message)
            return float(settings.CAPTURE_STREAM_BACKOFF_MAX)
        except (OrderNotifyRefused, BrokerError) as exc:
            logger.warning("[STREAM] master %s: cannot connect: %s", master.account_id, exc.message)
            await asyncio.to_thread(_status_error, master, exc.message)
            await asyncio.to_thread(_count_reconnect, master)
            return 0
        stream = self._stream
        now = timezone.now()
        await asyncio.to_thread(
            _status,
            master,
            holder=self.holder,
            connected=True,
            feed_enabled=True,
            connected_at=now,
            last_run_at=now,
            last_error="",
        )
        try:
            new, changed = await asyncio.to_thread(stream_catch_up, account=master)
            logger.info(
                "[STREAM] master %s connected; catch-up read the book: %d new, %d changed",
                master.account_id,
                new,
                changed,
            )
        except (BrokerError, SessionMissing) as exc:
            # Frames still flow; the poll will read the book again.
            logger.warning("[STREAM] master %s: catch-up read failed: %s", master.account_id, exc)
        try:
            async for update in stream:
                await asyncio.to_thread(self._ingest, master, update)
        except OrderNotifyClosed as exc:
            logger.warning("[STREAM] master %s: stream closed: %s", master.account_id, exc.message)
            await asyncio.to_thread(_status_error, master, exc.message)
            await asyncio.to_thread(_count_reconnect, master)
            return 0
        finally:
            self._stream = None
        await asyncio.to_thread(_status, master, connected=False)
        return None if not self.stopping.is_set() else 0

    def _ingest(self, master: Account, update: OrderUpdate) -> None:
        try:
            if update.user_id and update.user_id.upper() not in {
                (master.client_id or "").upper(),
                master.account_id.upper(),
            }:
                logger.warning("[STREAM] update for another account (%s) ignored", update.user_id)
                return
            stream_update_ingest(account=master, update=update)
            now = timezone.now()
            capture_status_update(account=master, kind=STREAM, last_frame_at=now, last_run_at=now)
        except Exception:
            # One bad update must not end the stream; the poll reads the order again.
            logger.exception(
                "[STREAM] master %s: update of order %s not ingested", master.account_id, update.order_id
            )
        finally:
            close_old_connections()


def master_stream_run(*, max_seconds: float | None = None) -> None:
    """Run the stream loop until SIGINT/SIGTERM (or `max_seconds`)."""
    import signal

    async def main() -> None:
        runner = MasterStream(max_seconds=max_seconds)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, runner.stop)
        await runner.run()

    asyncio.run(main())
