"""Notifications: who hears about an event (channels), the delivery log, and sending one delivery.

An event becomes one NotificationDelivery row per channel that wants it: every enabled operator channel
(no account) and, for an event about one follower, that follower's own enabled channels; a follower's channel
never hears about anyone else. The row is unique per (channel, dedupe key), so an event raised twice (a scan
that runs again, two workers racing) is delivered once. Rows are written by the caller's transaction and sent
by a Celery task on the default queue once it commits: a slow channel never delays an order.

Sending: at most NOTIFY_RATE_LIMIT messages per channel (a moving window kept by `limits`, in Redis when
the Celery broker is Redis); a message over it is SUPPRESSED, and the next one sent on that channel says how
many were. A channel that is down is tried again with a doubling backoff, NOTIFY_MAX_ATTEMPTS times in all.
"""

from __future__ import annotations

import functools
import logging
import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from limits import RateLimitItem, parse, storage, strategies

from accounts.dispatch import notification_send_enqueue
from accounts.models import NotificationChannel, NotificationDelivery, NotificationEvent
from accounts.services.audit import audit_record
from accounts.services.notify_channels import ChannelDown, ChannelError, email_send, telegram_send
from copytrade.core.logging import redact

logger = logging.getLogger(__name__)

Status = NotificationDelivery.Status
RATE_NAMESPACE = "notification-channel"
# Channel fields an audit row names when they change (names only, as for every config change).
CHANNEL_FIELDS = ("name", "kind", "account", "target", "events", "enabled")


@dataclass(frozen=True)
class Notice:
    """One event to tell: what it is, the key that makes it happen once, and its text (no secret in it)."""

    event: str
    dedupe_key: str
    subject: str
    body: str


# ---------------------------------------------------------------- raising
def _channels_for(*, event: str, follower_pk: int | None, operators: bool) -> list[NotificationChannel]:
    owners = Q(pk__in=[])
    if operators:
        owners |= Q(account__isnull=True)
    if follower_pk is not None:
        owners |= Q(account_id=follower_pk)
    channels = NotificationChannel.objects.filter(owners, enabled=True).order_by("pk")
    # JSON list membership is read in Python: `events` holds a handful of names on a handful of channels.
    return [channel for channel in channels if event in (channel.events or [])]


def notification_raise(*, notice: Notice, follower_pk: int | None = None, operators: bool = True) -> int:
    """Queue `notice` for every enabled channel that wants its event: the operator channels (when
    `operators`) and, with `follower_pk`, that follower's channels. Returns how many deliveries are new;
    a channel that already has this dedupe key gets nothing (the event was told already)."""
    channels = _channels_for(event=notice.event, follower_pk=follower_pk, operators=operators)
    if not channels:
        return 0
    told = set(
        NotificationDelivery.objects.filter(channel__in=channels, dedupe_key=notice.dedupe_key).values_list(
            "channel_id", flat=True
        )
    )
    created = 0
    for channel in channels:
        if channel.pk in told:
            continue
        try:
            with transaction.atomic():
                delivery = NotificationDelivery.objects.create(
                    channel=channel,
                    event=notice.event,
                    dedupe_key=notice.dedupe_key[:191],
                    subject=redact(notice.subject)[:200],
                    body=redact(notice.body),
                )
        except IntegrityError:
            continue  # raised at the same moment elsewhere: that one is delivered
        notification_send_enqueue(delivery_pk=delivery.pk)
        created += 1
    if created:
        logger.info("[NOTIFY] %s %s: %d deliveries queued", notice.event, notice.dedupe_key, created)
    return created


def notification_raise_on_commit(
    *, notice: Notice, follower_pk: int | None = None, operators: bool = True
) -> None:
    """notification_raise once the caller's transaction commits; a failure there is logged, never the
    caller's (a notification must not undo a kill switch or a liquidation)."""
    transaction.on_commit(
        lambda: notification_raise(notice=notice, follower_pk=follower_pk, operators=operators), robust=True
    )


def notification_test(*, channel: NotificationChannel, actor: str) -> NotificationDelivery:
    """A test message to `channel` (enabled or not), sent by the same task as every other; audited."""
    now = timezone.localtime(timezone.now(), _market_zone())
    with transaction.atomic():
        delivery = NotificationDelivery.objects.create(
            channel=channel,
            event=NotificationEvent.TEST,
            dedupe_key=f"test:{uuid.uuid4().hex}",
            subject="Test message",
            body=f"A test message from copytrade to {channel.name}, sent {now:%d %b %Y %H:%M} IST "
            f"by {actor}.",
        )
        audit_record(
            actor=actor, action="notification_channel.tested", target=channel.name, details={"pk": channel.pk}
        )
        notification_send_enqueue(delivery_pk=delivery.pk)
    return delivery


# ---------------------------------------------------------------- channels (admin)
def notification_channel_save(
    *, channel: NotificationChannel, changed: list[str], actor: str, created: bool
) -> NotificationChannel:
    """Save a channel the admin form validated; audited with the names of the changed fields."""
    with transaction.atomic():
        channel.full_clean()
        channel.save()
        audit_record(
            actor=actor,
            action="notification_channel.created" if created else "notification_channel.changed",
            target=channel.name,
            details={"pk": channel.pk, "fields": [f for f in changed if f in CHANNEL_FIELDS]},
        )
    return channel


def notification_channel_delete(*, channel: NotificationChannel, actor: str) -> None:
    """Delete a channel and its delivery log; audited."""
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="notification_channel.deleted",
            target=channel.name,
            details={"pk": channel.pk},
        )
        channel.delete()


# ---------------------------------------------------------------- sending
@functools.lru_cache(maxsize=4)
def _limiter(rate: str, storage_uri: str) -> tuple[RateLimitItem, strategies.MovingWindowRateLimiter]:
    return parse(rate), strategies.MovingWindowRateLimiter(storage.storage_from_string(storage_uri))


def _rate_allows(channel_pk: int) -> bool:
    if not settings.NOTIFY_RATE_LIMIT:
        return True
    item, limiter = _limiter(settings.NOTIFY_RATE_LIMIT, settings.NOTIFY_RATE_LIMIT_STORAGE)
    return limiter.hit(item, RATE_NAMESPACE, str(channel_pk))


def notification_rate_reset(channel_pk: int) -> None:
    """Forget a channel's recent messages in the rate limit (tests; an operator after a storm)."""
    item, limiter = _limiter(settings.NOTIFY_RATE_LIMIT, settings.NOTIFY_RATE_LIMIT_STORAGE)
    limiter.clear(item, RATE_NAMESPACE, str(channel_pk))


def _market_zone() -> ZoneInfo:
    return ZoneInfo(settings.MARKET_TIME_ZONE)


def _suppressed_to_count(delivery: NotificationDelivery) -> int:
    """Claim the channel's SUPPRESSED messages no message has counted yet; how many there were."""
    return NotificationDelivery.objects.filter(
        channel_id=delivery.channel_id, status=Status.SUPPRESSED, counted=False
    ).update(counted=True)


def _claim(delivery_pk: int) -> NotificationDelivery | None:
    """QUEUED -> SENDING (attempts + 1), atomically: one worker sends a delivery, however often it is run."""
    delivery = NotificationDelivery.objects.select_related("channel").filter(pk=delivery_pk).first()
    if delivery is None or delivery.status != Status.QUEUED:
        return None
    claimed = NotificationDelivery.objects.filter(
        pk=delivery.pk, status=Status.QUEUED, attempts=delivery.attempts
    ).update(status=Status.SENDING, attempts=delivery.attempts + 1, updated_at=timezone.now())
    if not claimed:
        return None
    delivery.status, delivery.attempts = Status.SENDING, delivery.attempts + 1
    return delivery


def _finish(delivery: NotificationDelivery, status: str, *, error: str = "", body: str | None = None) -> None:
    fields: dict[str, Any] = {"status": status, "last_error": error[:500], "updated_at": timezone.now()}
    if status == Status.SENT:
        fields["sent_at"] = fields["updated_at"]
    if body is not None:
        fields["body"] = body
    NotificationDelivery.objects.filter(pk=delivery.pk, status=Status.SENDING).update(**fields)


def _retry_in(attempts: int) -> float:
    return min(settings.NOTIFY_RETRY_BACKOFF * 2 ** (attempts - 1), settings.NOTIFY_RETRY_BACKOFF_MAX)


def notification_deliver(*, delivery_pk: int) -> float | None:
    """Send one QUEUED delivery; returns seconds until the next try when its channel is down (None: done).

    The first try counts against the channel's rate limit (over it: SUPPRESSED, not sent). SENT, FAILED
    (refused, or down NOTIFY_MAX_ATTEMPTS times) and SUPPRESSED are final.
    """
    delivery = _claim(delivery_pk)
    if delivery is None:
        return None
    channel = delivery.channel
    if not channel.enabled and delivery.event != NotificationEvent.TEST:
        _finish(delivery, Status.FAILED, error="The channel was switched off before it was sent")
        return None
    if delivery.attempts == 1 and delivery.event != NotificationEvent.TEST and not _rate_allows(channel.pk):
        _finish(delivery, Status.SUPPRESSED, error=f"Over the rate limit ({settings.NOTIFY_RATE_LIMIT})")
        logger.warning("[NOTIFY] delivery %s to channel %s suppressed: rate limit", delivery.pk, channel.pk)
        return None
    body = delivery.body
    if delivery.attempts == 1:
        suppressed = _suppressed_to_count(delivery)
        if suppressed:
            body += (
                f"\n({suppressed} earlier notification(s) suppressed by the rate limit: "
                "see the delivery log.)"
            )
    try:
        if channel.kind == NotificationChannel.Kind.TELEGRAM:
            telegram_send(chat_id=channel.target, text=f"{delivery.subject}\n{body}")
        else:
            email_send(address=channel.target, subject=delivery.subject, body=body)
    except ChannelDown as exc:
        if delivery.attempts < settings.NOTIFY_MAX_ATTEMPTS:
            retry_in = _retry_in(delivery.attempts)
            _finish(delivery, Status.QUEUED, error=exc.message, body=body)
            logger.warning(
                "[NOTIFY] delivery %s to channel %s: %s; try %d again in %.0f s",
                delivery.pk,
                channel.pk,
                exc.message,
                delivery.attempts + 1,
                retry_in,
            )
            return retry_in
        _finish(delivery, Status.FAILED, error=exc.message, body=body)
        logger.error("[NOTIFY] delivery %s to channel %s failed: %s", delivery.pk, channel.pk, exc.message)
        return None
    except ChannelError as exc:
        _finish(delivery, Status.FAILED, error=exc.message, body=body)
        logger.error("[NOTIFY] delivery %s to channel %s refused: %s", delivery.pk, channel.pk, exc.message)
        return None
    _finish(delivery, Status.SENT, body=body)
    logger.info("[NOTIFY] delivery %s (%s) sent to channel %s", delivery.pk, delivery.event, channel.pk)
    return None
