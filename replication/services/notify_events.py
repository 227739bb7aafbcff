"""Where notifications are detected: a beat scan (follower orders FAILED or UNKNOWN, master capture down),
and the readiness report before the open (the services that change state raise theirs through
replication.services.notify_hooks). Nothing here runs in the order path: placement writes statuses with
raw UPDATEs, so the scan reads what changed (by `updated_at`, which every status write sets) instead of
hooking each writer. Delivery, dedupe and rate limits are accounts.services.notifications'.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import NotificationDelivery, NotificationEvent, NotificationMark
from accounts.selectors import credential_of, master_get_active, session_state
from accounts.services.notifications import notification_raise
from replication import market_calendar, panel_selectors, selectors
from replication import notify_messages as messages
from replication.models import OrderMapping

logger = logging.getLogger(__name__)

Status = OrderMapping.Status
CAPTURE_MARK = "capture-down"


# ---------------------------------------------------------------- readiness before the open
def _not_ready_reasons(row: panel_selectors.FollowerRow) -> tuple[str, ...]:
    reasons = []
    if row.session != "VALID":
        reasons.append(f"session {row.session.lower()} today: log in with Alice Blue")
    if not row.consent:
        reasons.append("no consent")
    if not row.enabled:
        reasons.append("disabled")
    if row.stopped:
        reasons.append("copy trading stopped")
    if not reasons and row.blocker:
        reasons.append(row.blocker)
    return tuple(reasons)


def readiness_notify(*, now: datetime | None = None) -> int:
    """Tell the operator every follower not ready for today's open, and each such follower about itself
    (once a day: the key is the IST date). Returns the deliveries queued."""
    now = now or timezone.now()
    day = market_calendar.ist(now).date()
    rows = panel_selectors.follower_readiness()
    not_ready = []
    created = 0
    for row in rows:
        reasons = _not_ready_reasons(row)
        if not reasons:
            continue
        item = messages.NotReady(account_id=row.account.account_id, reasons=reasons)
        not_ready.append(item)
        created += notification_raise(
            notice=messages.readiness_follower(day=day, row=item), follower_pk=row.account.pk, operators=False
        )
    master = master_get_active()
    master_session = session_state(credential_of(master)) if master is not None else ""
    master_problem = ""
    if master is None:
        master_problem = "no active master account"
    elif master_session != "VALID":
        master_problem = f"session {master_session.lower()} today: log in with Alice Blue"
    if not_ready or master_problem:
        created += notification_raise(
            notice=messages.readiness_operator(
                day=day, not_ready=not_ready, followers=len(rows), master_problem=master_problem
            )
        )
    logger.info("[NOTIFY] readiness %s: %d not ready, %d deliveries", day, len(not_ready), created)
    return created


# ---------------------------------------------------------------- follower orders FAILED / UNKNOWN
def _problem_of(mapping: OrderMapping) -> messages.OrderProblem:
    return messages.OrderProblem(
        mapping_pk=mapping.pk,
        account_id=mapping.follower.account_id,
        master_order_id=mapping.master_order_id,
        leg=mapping.leg,
        side=mapping.side,
        quantity=mapping.quantity,
        symbol=mapping.trading_symbol or mapping.symbol,
        status=mapping.status,
        reason=mapping.reason,
        created_at=mapping.created_at,
    )


def order_problems_notify(*, now: datetime | None = None) -> int:
    """Raise each follower order that FAILED, or has been UNKNOWN for NOTIFY_UNKNOWN_AFTER_SECONDS, among
    those changed in the last NOTIFY_LOOKBACK_SECONDS (a window, not a stored watermark: a row committed
    late is still seen, and the dedupe key makes the window's overlap harmless)."""
    now = now or timezone.now()
    since = now - timedelta(seconds=settings.NOTIFY_LOOKBACK_SECONDS)
    unknown_before = now - timedelta(seconds=settings.NOTIFY_UNKNOWN_AFTER_SECONDS)
    rows = (
        OrderMapping.objects.filter(updated_at__gte=since)
        .filter(
            Q(status=Status.FAILED)
            | Q(status=Status.UNKNOWN, submitted_at__lte=unknown_before)
            | Q(status=Status.UNKNOWN, submitted_at__isnull=True, created_at__lte=unknown_before)
        )
        .select_related("follower")
        .order_by("pk")
    )
    notices = [(messages.order_problem(_problem_of(m)), m.follower_id) for m in rows]
    if not notices:
        return 0
    told = set(
        NotificationDelivery.objects.filter(
            event__in=(NotificationEvent.ORDER_FAILED, NotificationEvent.ORDER_UNKNOWN),
            dedupe_key__in=[notice.dedupe_key for notice, _pk in notices],
        ).values_list("dedupe_key", flat=True)
    )
    return sum(
        notification_raise(notice=notice, follower_pk=follower_pk)
        for notice, follower_pk in notices
        if notice.dedupe_key not in told
    )


# ---------------------------------------------------------------- capture down
def _in_capture_window(now: datetime) -> bool:
    window = settings.NOTIFY_CAPTURE_WINDOW.strip()
    if not window:
        return True
    start, end = (time.fromisoformat(part.strip()) for part in window.split("-", 1))
    limits = selectors.global_limits()
    open_today = market_calendar.is_trading_day(
        market_calendar.ist(now).date(),
        extra_closed=limits.extra_closed_days,
        extra_open=limits.extra_trading_days,
    )
    return open_today and market_calendar.in_window(now, start=start, end=end)


def _capture_down_detail(health: dict[str, Any]) -> str:
    stream, poll = health.get("stream") or {}, health.get("poll") or {}
    if poll.get("lastRunAgeSeconds") is None:
        return "The master's order book has never been polled: are the workers and beat running?"
    if poll.get("failing"):
        return (
            "The poll fails (see the master's capture status in the admin; often an expired master session)."
        )
    if not stream.get("healthy"):
        return (
            "Neither the order-update stream nor the poll has read the book lately: are the workers running?"
        )
    return ""


def capture_down_notify(*, now: datetime | None = None) -> int:
    """Raise "capture down" once per outage when no master read succeeded for NOTIFY_CAPTURE_DOWN_SECONDS
    (inside NOTIFY_CAPTURE_WINDOW), and "working again" when a notified outage ends."""
    now = now or timezone.now()
    health: dict[str, Any] = selectors.capture_health()
    threshold = float(settings.NOTIFY_CAPTURE_DOWN_SECONDS)
    stream, poll = health.get("stream") or {}, health.get("poll") or {}
    poll_age = poll.get("lastRunAgeSeconds")
    working = bool(stream.get("healthy")) or (
        poll_age is not None and not poll.get("failing") and poll_age <= threshold
    )
    mark = NotificationMark.objects.filter(name=CAPTURE_MARK).first()
    if not health.get("master") or working:
        if mark is not None:
            created = 0
            if mark.notified:
                created = notification_raise(notice=messages.capture_back(since=mark.since, now=now))
            mark.delete()
            return created
        return 0
    if mark is None:
        # Stale (not failing): down since the last poll; failing or never run: since now (first seen).
        since = now - timedelta(seconds=poll_age) if poll_age is not None and not poll.get("failing") else now
        try:
            with transaction.atomic():
                mark = NotificationMark.objects.create(name=CAPTURE_MARK, since=since)
        except IntegrityError:
            mark = NotificationMark.objects.get(name=CAPTURE_MARK)
    if (now - mark.since).total_seconds() < threshold or not _in_capture_window(now):
        return 0
    created = notification_raise(
        notice=messages.capture_down(since=mark.since, now=now, detail=_capture_down_detail(health))
    )
    NotificationMark.objects.filter(pk=mark.pk).update(notified=True)
    return created


def notify_scan() -> int:
    """The beat scan: follower orders FAILED / UNKNOWN, and master capture down. Returns deliveries queued."""
    return order_problems_notify() + capture_down_notify()
