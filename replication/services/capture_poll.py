"""The poll (DESIGN 5.5): the safety net, and the only capture while the order-update stream is down.

Beat ticks `poll_master_task` every CAPTURE_POLL_TICK seconds; a tick polls only when the master's interval
has passed since the last poll (MasterSettings: `poll_interval_seconds` without a healthy stream,
`poll_interval_with_stream_seconds` with one) and it takes the poll lease, so one poll runs at a time however
many workers and ticks there are. A poll reads the master's order book once (it carries fills and average
prices, so the trade book is not read) and ingests, oldest first, every order that changed since it was last
ingested. It keeps CAPTURE_POLL_BUDGET_RESERVE of the master's budget of non-order calls for the stream's
token, the webhook's reads and session checks.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from accounts.exceptions import SessionMissing
from accounts.models import Account
from accounts.selectors import (
    account_broker_client,
    broker_calls_allowed,
    credential_of,
    master_get_active,
    master_settings_get,
)
from accounts.services.sessions import account_session_mark_expired
from broker.conf import call_budget
from broker.exceptions import BrokerAuthError, BrokerError
from broker.parsing import parse_time
from broker.types import Order
from copytrade.core.exceptions import Conflict, UpstreamFailed
from copytrade.core.leases import holder_id, lease_acquire, lease_release
from replication import selectors
from replication.models import CaptureStatus, MasterTrade, TradeEvent
from replication.services.capture import master_order_ingest, master_trades_expire

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PollResult:
    accounts: int = 0
    new_trades: int = 0
    changed: int = 0
    skipped: str = ""
    error: str = ""


def capture_status_update(*, account: Account, kind: str, **fields: Any) -> None:
    """Record one capture's health (upsert of the (account, kind) row)."""
    CaptureStatus.objects.update_or_create(account=account, kind=kind, defaults=fields)


def stream_is_healthy(account: Account) -> bool:
    """A stream connected and heard from (a frame or its own heartbeat) within CAPTURE_STREAM_STALE_AFTER."""
    row = CaptureStatus.objects.filter(account=account, kind=CaptureStatus.Kind.STREAM).first()
    if row is None or not row.connected or row.last_run_at is None:
        return False
    return (timezone.now() - row.last_run_at).total_seconds() <= settings.CAPTURE_STREAM_STALE_AFTER


def poll_interval(account: Account) -> float:
    master_settings = master_settings_get()
    if stream_is_healthy(account):
        return float(master_settings.poll_interval_with_stream_seconds)
    return float(master_settings.poll_interval_seconds)


def _lease_name(account: Account) -> str:
    return f"master-poll:{account.pk}"


def _due(account: Account, interval: float) -> bool:
    last = (
        CaptureStatus.objects.filter(account=account, kind=CaptureStatus.Kind.POLL)
        .values_list("last_run_at", flat=True)
        .first()
    )
    # A tick a little early still counts: beat's ticks are not exact, and a poll skipped by a hair would wait
    # a whole tick more.
    return (
        last is None or (timezone.now() - last).total_seconds() >= interval - settings.CAPTURE_POLL_TICK / 2
    )


def _budget_short(account: Account) -> str:
    budget = call_budget()
    if budget is None:
        return ""
    use = budget.use(account.client_id or account.account_id)
    if use.remaining <= settings.CAPTURE_POLL_BUDGET_RESERVE:
        return (
            f"budget of non-order calls nearly used ({use.remaining} left, resets in {int(use.resets_in)}s)"
        )
    return ""


def _order_sort_key(order: Order) -> tuple[datetime, str]:
    moment = parse_time(order.order_time) or datetime.max.replace(tzinfo=timezone.get_current_timezone())
    return moment, order.order_id.zfill(40)


def _fingerprint(order: Order) -> tuple[Any, ...]:
    return (
        str(getattr(order.status, "value", order.status)).upper(),
        int(order.filled_quantity),
        int(order.quantity),
        order.price or None,
        order.trigger_price or None,
        str(getattr(order.order_type, "value", order.order_type)).upper(),
    )


def _known_fingerprints(account: Account) -> dict[str, tuple[Any, ...]]:
    rows = MasterTrade.objects.filter(
        account=account, created_at__gte=selectors.market_day_start() - timedelta(days=1)
    )
    return {
        row["broker_order_id"]: (
            row["status"],
            row["filled_quantity"],
            row["quantity"],
            row["price"],
            row["trigger_price"],
            row["order_type"],
        )
        for row in rows.values(
            "broker_order_id", "status", "filled_quantity", "quantity", "price", "trigger_price", "order_type"
        )
    }


def master_book_ingest(*, account: Account, orders: list[Order], source: str) -> tuple[int, int]:
    """Ingest, oldest first, the orders of a book read that changed since they were last ingested; returns
    (new trades, changed trades)."""
    known = _known_fingerprints(account)
    new = changed = 0
    for order in sorted(orders, key=_order_sort_key):
        if not order.order_id:
            continue
        if known.get(order.order_id) == _fingerprint(order):
            continue
        result = master_order_ingest(account=account, order=order, source=source)
        new += int(result.created)
        changed += int(not result.created)
    return new, changed


def master_poll(*, force: bool = False, wait: float = 0.0) -> PollResult:
    """Poll the active master once if due (always with `force`); `wait` seconds for a poll already running."""
    master = master_get_active()
    if master is None:
        return PollResult(skipped="No master account configured")
    interval = poll_interval(master)
    if not force and not _due(master, interval):
        return PollResult(skipped="not due")
    holder = holder_id("poll")
    lease_seconds = interval + settings.ALICE_CONNECT_TIMEOUT + settings.ALICE_READ_TIMEOUT + 5
    deadline = time.monotonic() + wait
    while not lease_acquire(name=_lease_name(master), holder=holder, seconds=lease_seconds):
        if time.monotonic() >= deadline:
            return PollResult(skipped="another poll is running")
        time.sleep(0.1)
    try:
        return _poll_once(master, force=force)
    finally:
        lease_release(name=_lease_name(master), holder=holder)


def _poll_once(master: Account, *, force: bool) -> PollResult:
    now = timezone.now()
    short = _budget_short(master)
    if short and not force:
        capture_status_update(account=master, kind=CaptureStatus.Kind.POLL, last_run_at=now, last_error=short)
        logger.warning("[POLL] master %s: skipped, %s", master.account_id, short)
        return PollResult(accounts=1, skipped=short)
    if not broker_calls_allowed(credential_of(master)):
        message = "Master session expired or missing: log in with Alice Blue"
        capture_status_update(
            account=master, kind=CaptureStatus.Kind.POLL, last_run_at=now, last_error=message
        )
        return PollResult(accounts=1, error=message)
    try:
        book = account_broker_client(account=master).order_book()
    except BrokerAuthError as exc:
        # Logged once by the session service; no more calls until a new session is stored.
        account_session_mark_expired(account=master, reason=f"Session expired: {exc.message}")
        message = f"Master session expired ({exc.message}): log in with Alice Blue"
        capture_status_update(
            account=master, kind=CaptureStatus.Kind.POLL, last_run_at=now, last_error=message
        )
        return PollResult(accounts=1, error=message)
    except (BrokerError, SessionMissing) as exc:
        message = getattr(exc, "message", str(exc))
        capture_status_update(
            account=master, kind=CaptureStatus.Kind.POLL, last_run_at=now, last_error=message[:255]
        )
        logger.warning("[POLL] master %s: order book unreadable: %s", master.account_id, message)
        return PollResult(accounts=1, error=message)
    new, changed = master_book_ingest(account=master, orders=book, source=TradeEvent.Source.POLL)
    capture_status_update(
        account=master,
        kind=CaptureStatus.Kind.POLL,
        last_run_at=now,
        last_error="",
        connected=True,
        holder="",
    )
    master_trades_expire()
    if new or changed:
        logger.info(
            "[POLL] master %s: %d orders, %d new, %d changed", master.account_id, len(book), new, changed
        )
    return PollResult(accounts=1, new_trades=new, changed=changed)


def master_poll_now() -> PollResult:
    """An operator's "poll now" (POST /api/alice/poll): polls at once, waiting briefly for a running poll; the
    errors are the caller's (409 while another poll holds the lease, 502 when the book cannot be read)."""
    result = master_poll(force=True, wait=settings.ALICE_CONNECT_TIMEOUT + settings.ALICE_READ_TIMEOUT)
    if result.skipped == "another poll is running":
        raise Conflict("A poll is running; try again in a moment", code="poll_running")
    if result.error:
        raise UpstreamFailed(f"Alice Blue: {result.error}", code="master_book_unreadable")
    return result
