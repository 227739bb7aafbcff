"""Order-status sync (follower order books -> mappings) and the sweeper that recovers lost or stuck work."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts.exceptions import SessionMissing
from accounts.selectors import account_broker_client, broker_calls_allowed, credential_of
from accounts.services.sessions import account_session_mark_expired, account_session_note_success
from broker.exceptions import BrokerAuthError, BrokerError
from replication import dispatch, selectors, states
from replication.models import OrderAction, OrderMapping, TradeEvent
from replication.services.events import trade_event_refresh_totals
from replication.services.order_state import order_mapping_apply_order

logger = logging.getLogger(__name__)

Status = states.MappingStatus


def followers_to_sync() -> list[int]:
    return selectors.open_mapping_followers()


def follower_orders_sync(*, follower_pk: int) -> int:
    """Read the follower's order book once; move its ACTIVE/PARTIAL mappings to what the book says.

    Returns how many mappings changed. Unreadable books are logged and left for the next tick.
    """
    mappings = list(
        OrderMapping.objects.filter(follower_id=follower_pk, status__in=states.OPEN_AT_BROKER).select_related(
            "follower"
        )
    )
    if not mappings:
        return 0
    account = mappings[0].follower
    if not broker_calls_allowed(credential_of(account)):
        return 0
    try:
        book = account_broker_client(account=account).order_book()
    except BrokerAuthError as exc:
        # account_session_mark_expired logs the change (once); no more calls until a new session is stored.
        account_session_mark_expired(account=account, reason=f"Session expired: {exc.message}")
        logger.info("[ORDER-SYNC] follower %s: %d orders not synced", account.account_id, len(mappings))
        return 0
    except (BrokerError, SessionMissing) as exc:
        code = getattr(exc, "code", type(exc).__name__)
        # Over the call budget is expected under load (the next tick reads again), not worth a warning.
        level = logging.INFO if code == "budget_exhausted" else logging.WARNING
        logger.log(level, "[ORDER-SYNC] follower %s: order book unreadable (%s)", account.account_id, code)
        return 0
    account_session_note_success(account=account)
    by_id = {order.order_id: order for order in book}
    by_tag = {order.tag: order for order in book if order.tag}
    changed = 0
    events: set[int] = set()
    for mapping in mappings:
        order = by_id.get(mapping.follower_order_id) or by_tag.get(mapping.order_tag)
        if order is None:
            continue
        before = (mapping.status, mapping.executed_quantity)
        if order_mapping_apply_order(mapping=mapping, order=order, from_statuses=states.OPEN_AT_BROKER) and (
            before != (mapping.status, mapping.executed_quantity)
        ):
            changed += 1
            events.add(mapping.trade_event_id)
    for event in TradeEvent.objects.filter(pk__in=events):
        trade_event_refresh_totals(event=event)
    return changed


def order_mappings_sync_now(*, mapping_ids: list[int]) -> int:
    """Synchronous status sync of the given mappings' followers (admin and tests)."""
    followers = set(OrderMapping.objects.filter(pk__in=mapping_ids).values_list("follower_id", flat=True))
    return sum(follower_orders_sync(follower_pk=pk) for pk in sorted(followers))


def replication_sweep() -> dict[str, int]:
    """Recover work whose message was lost or whose worker died; every step is idempotent.

    - PENDING older than REPLICATION_SWEEP_AFTER (past its next attempt): placement re-enqueued;
    - SUBMITTING older than REPLICATION_SUBMITTING_STUCK_AFTER: UNKNOWN, reconciled by tag (never resent);
    - UNKNOWN not touched for REPLICATION_SWEEP_AFTER: reconcile re-enqueued;
    - actions PENDING/RUNNING not touched for REPLICATION_SWEEP_AFTER: run again.
    """
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.REPLICATION_SWEEP_AFTER)
    stuck_cutoff = now - timedelta(seconds=settings.REPLICATION_SUBMITTING_STUCK_AFTER)
    pending = list(
        OrderMapping.objects.filter(status=Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True, updated_at__lt=cutoff) | Q(next_attempt_at__lt=cutoff))
        .values_list("pk", flat=True)[:1000]
    )
    stuck = list(
        OrderMapping.objects.filter(status=Status.SUBMITTING, submitted_at__lt=stuck_cutoff).values_list(
            "pk", flat=True
        )[:1000]
    )
    moved = []
    states.check_transition((Status.SUBMITTING,), Status.UNKNOWN)
    for pk in stuck:
        if OrderMapping.objects.filter(pk=pk, status=Status.SUBMITTING).update(
            status=Status.UNKNOWN,
            reason="Sending was interrupted: reconciling by order tag",
            reason_code=states.ReasonCode.SEND_INTERRUPTED,
            updated_at=now,
        ):
            moved.append(pk)
            logger.warning("[SWEEP] mapping %s stuck in SUBMITTING: UNKNOWN, reconcile by tag", pk)
    # An UNKNOWN row whose reconcile kept failing unexpectedly waits for an operator instead of looping.
    unknown = list(
        OrderMapping.objects.filter(status=Status.UNKNOWN, updated_at__lt=cutoff)
        .exclude(reason_code=states.ReasonCode.INTERNAL_ERROR)
        .values_list("pk", flat=True)[:1000]
    )
    stale_actions = list(
        OrderAction.objects.filter(
            status__in=[OrderAction.Status.PENDING, OrderAction.Status.RUNNING], updated_at__lt=cutoff
        ).values_list("pk", flat=True)[:1000]
    )
    OrderAction.objects.filter(pk__in=stale_actions, status=OrderAction.Status.RUNNING).update(
        status=OrderAction.Status.PENDING, updated_at=now
    )

    for pk in pending:
        dispatch.placement_enqueue(pk)
    for pk in [*moved, *unknown]:
        dispatch.reconcile_enqueue(pk)
    for pk in stale_actions:
        dispatch.action_enqueue(pk)
    counts = {
        "pending": len(pending),
        "stuck": len(moved),
        "unknown": len(unknown),
        "actions": len(stale_actions),
    }
    if any(counts.values()):
        logger.info("[SWEEP] %s", counts)
    return counts
