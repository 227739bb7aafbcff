"""Placing one follower order, exactly once.

Contract of `order_mapping_place`: the mapping row is locked and acted on only when PENDING; SUBMITTING
(attempts + 1) is committed before the broker is called with `orderTag = order_tag`. A retry first looks the
tag up in the order book, so an order that landed on an earlier attempt is never sent twice. A call sent
without an answer makes the row UNKNOWN; only the reconcile (`reconcile.py`, by tag) resolves it. The helpers
below are shared with the batch path (`placement_batch.py`), which places many first attempts at once.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.exceptions import CredentialUnreadable, SessionMissing
from accounts.models import MasterSettings
from accounts.selectors import (
    account_broker_client,
    broker_calls_allowed,
    credential_of,
    market_today,
    master_settings_get,
)
from accounts.services.sessions import account_session_mark_expired, account_session_note_success
from broker.exceptions import (
    BrokerAuthError,
    BrokerError,
    BrokerOutcomeUnknownError,
    BrokerRateLimitedError,
    BrokerRejectedError,
)
from broker.types import OrderAck, OrderRequest, OrderType, ProductType, Side
from replication import dispatch, risk, selectors, states
from replication.models import OrderMapping
from replication.services.order_state import Outcome, mapping_transition, order_mapping_apply_order

logger = logging.getLogger(__name__)

Status = states.MappingStatus
Code = states.ReasonCode


def backoff(attempts: int) -> float:
    return min(
        settings.REPLICATION_RETRY_BACKOFF * (2 ** max(attempts - 1, 0)),
        settings.REPLICATION_RETRY_BACKOFF_MAX,
    )


def order_request_for(mapping: OrderMapping) -> OrderRequest:
    return OrderRequest(
        exchange=mapping.exchange,
        token=mapping.token,
        trading_symbol=mapping.trading_symbol or mapping.symbol,
        side=Side(mapping.side),
        quantity=mapping.quantity,
        product=ProductType(mapping.product_type),
        order_type=OrderType(mapping.order_type),
        price=mapping.price if mapping.order_type in ("LIMIT", "SL") else None,
        trigger_price=mapping.trigger_price if mapping.order_type in ("SL", "SLM") else None,
        tag=mapping.order_tag,
        amo=mapping.amo,
    )


def _claim(mapping_id: int) -> tuple[OrderMapping | None, str]:
    """Lock the row; PENDING -> SUBMITTING (attempts + 1), committed. (None, status) if nothing to do.

    An order the follower opted out of meanwhile, one too old to send, one whose session is known dead, or
    one past the attempt cap is not sent: never-sent rows end SKIPPED/FAILED, rows an earlier attempt may
    have placed go to reconcile.
    """
    with transaction.atomic():
        mapping = (
            OrderMapping.objects.select_for_update()
            .select_related("follower", "follower__credential")
            .filter(pk=mapping_id)
            .first()
        )
        if mapping is None:
            return None, "missing"
        if mapping.status != Status.PENDING:
            return None, mapping.status
        blocked = send_blocked(mapping, master_settings_get())
        if blocked is None and mapping.attempts >= settings.REPLICATION_MAX_ATTEMPTS:
            blocked = (f"Gave up after {mapping.attempts} attempts", Code.GAVE_UP, Status.FAILED)
        if blocked is not None:
            reason, code, never_sent_status = blocked
            return None, stop_before_send(
                mapping, reason=reason, code=code, never_sent_status=never_sent_status
            )
        mapping.status = Status.SUBMITTING
        mapping.attempts += 1
        mapping.submitted_at = timezone.now()
        mapping.next_attempt_at = None
        mapping.save(update_fields=["status", "attempts", "submitted_at", "next_attempt_at", "updated_at"])
        return mapping, Status.SUBMITTING


def send_blocked(
    mapping: OrderMapping,
    master_settings: MasterSettings,
    *,
    closed_masters: set[tuple[str, int]] | None = None,
) -> tuple[str, str, str] | None:
    """(reason, reason code, status for a never-sent row) when the order must not be sent now; else None.

    An ENTRY is checked against the follower's switches, its age and its master order (never sent once the
    master's exit or cancel reached the follower: a slice a racing modify added would open a position no
    exit covers; `closed_masters` is `selectors.master_orders_closed` when the caller read it for many
    rows); any order (exits too) needs a session that is not known dead: sending with one would only earn
    another refusal from Alice Blue.
    """
    follower = mapping.follower
    problem = order_data_problem(mapping)
    if problem:
        return problem, Code.INTERNAL_ERROR, Status.FAILED
    if mapping.leg == OrderMapping.Leg.ENTRY:
        reason = risk.entry_switch_reason(
            rules=selectors.follower_rules(account=follower, master_settings=master_settings),
            limits=selectors.limits_from(master_settings),
        )
        if reason:
            return reason, Code.SWITCHED_OFF, Status.SKIPPED
        key = (mapping.master_order_id, mapping.follower_id)
        if closed_masters is None:
            closed_masters = selectors.master_orders_closed([key])
        if key in closed_masters:
            return (
                "Cancelled before placement (master order exited or cancelled)",
                Code.CANCELLED_BEFORE_PLACEMENT,
                Status.CANCELLED,
            )
        if not entry_within_age(mapping):
            age = int((timezone.now() - mapping.created_at).total_seconds())
            return (
                f"Expired before placement: the master trade is {age}s old",
                Code.EXPIRED_BEFORE_PLACEMENT,
                Status.FAILED,
            )
    if not follower.paper and not broker_calls_allowed(credential_of(follower)):
        return (
            "Broker session expired for this follower: log in with Alice Blue again",
            Code.SESSION_EXPIRED,
            Status.FAILED,
        )
    return None


def order_data_problem(mapping: OrderMapping) -> str:
    """Why the row cannot become an order at all ("" when it can): data no API writes today (an edited or
    older row with a product or order type Alice Blue does not take) must fail once, not crash every run."""
    try:
        order_request_for(mapping)
    except (ValueError, TypeError) as exc:
        return f"Invalid order data, not sent: {exc}"
    return ""


def entry_within_age(mapping: OrderMapping) -> bool:
    """Whether an entry may still be sent: younger than REPLICATION_ENTRY_MAX_AGE and from today's session."""
    age = (timezone.now() - mapping.created_at).total_seconds()
    return age <= settings.REPLICATION_ENTRY_MAX_AGE and market_today() == _market_day(mapping.created_at)


def _market_day(moment: datetime) -> date:
    return moment.astimezone(ZoneInfo(settings.MARKET_TIME_ZONE)).date()


def stop_before_send(mapping: OrderMapping, *, reason: str, code: str, never_sent_status: str) -> str:
    """Settle a row that will not be sent (again). Returns its new status.

    attempts == 0: nothing ever left, so SKIPPED/FAILED with the reason. attempts > 0: an earlier send may
    have reached the broker (a 5xx after acceptance), so UNKNOWN and a reconcile by tag, never a new send.
    """
    current = mapping.status
    if mapping.attempts == 0:
        mapping_transition(
            mapping, from_statuses=(current,), status=never_sent_status, reason=reason, reason_code=code
        )
        logger.warning(
            "[ALICE-BLUE] mapping %s follower %s not sent, %s: %s",
            mapping.pk,
            mapping.follower.account_id,
            never_sent_status,
            reason,
        )
        return never_sent_status
    mapping_transition(
        mapping,
        from_statuses=(current,),
        status=Status.UNKNOWN,
        reason=f"{reason}: confirming by order tag",
        reason_code=Code.CONFIRMING,
    )
    logger.warning(
        "[ALICE-BLUE] mapping %s follower %s not sent again (%s): UNKNOWN, reconcile by tag %s",
        mapping.pk,
        mapping.follower.account_id,
        reason,
        mapping.order_tag,
    )
    dispatch.reconcile_enqueue(mapping.pk, countdown=settings.REPLICATION_RECONCILE_DELAY)
    return Status.UNKNOWN


def session_failed(mapping: OrderMapping, exc: Exception, *, from_statuses: tuple[str, ...]) -> Outcome:
    """The follower's session was refused (or is missing or unreadable): FAILED, and the session marked."""
    if isinstance(exc, CredentialUnreadable):
        reason, code = exc.message, Code.CREDENTIAL_UNREADABLE
    elif isinstance(exc, SessionMissing):
        reason, code = "No broker session for this follower: log in with Alice Blue first", Code.NO_SESSION
    else:
        reason = f"Session expired: {getattr(exc, 'message', '') or 'log in with Alice Blue again'}"
        code = Code.SESSION_EXPIRED
        account_session_mark_expired(account=mapping.follower, reason=reason)
    mapping_transition(
        mapping, from_statuses=from_statuses, status=Status.FAILED, reason=reason, reason_code=code
    )
    logger.warning(
        "[ALICE-BLUE-ERROR] Follower %s: mapping %s FAILED: %s",
        mapping.follower.account_id,
        mapping.pk,
        reason,
    )
    return Outcome(Status.FAILED)


def _not_sent(mapping: OrderMapping, exc: BrokerError) -> Outcome:
    """The request was not processed: back to PENDING with a backoff; at the attempt cap, reconcile by tag
    (a 5xx may still have come after the broker accepted an earlier attempt)."""
    if mapping.attempts >= settings.REPLICATION_MAX_ATTEMPTS:
        reason = f"Alice Blue API error: {exc.message} (gave up after {mapping.attempts} attempts)"
        status = stop_before_send(mapping, reason=reason, code=Code.GAVE_UP, never_sent_status=Status.FAILED)
        return Outcome(status)
    delay = backoff(mapping.attempts)
    if isinstance(exc, BrokerRateLimitedError) and exc.retry_after:
        delay = max(delay, float(exc.retry_after))
    mapping_transition(
        mapping,
        from_statuses=(Status.SUBMITTING,),
        status=Status.PENDING,
        reason=f"Retrying: {exc.message}",
        reason_code=Code.RETRYING,
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
    )
    logger.info(
        "[ALICE-BLUE] mapping %s follower %s not sent (%s): PENDING, retry in %.1fs (attempt %s/%s)",
        mapping.pk,
        mapping.follower.account_id,
        exc.code,
        delay,
        mapping.attempts,
        settings.REPLICATION_MAX_ATTEMPTS,
    )
    return Outcome(Status.PENDING, retry_in=delay)


def log_placing(mapping: OrderMapping) -> None:
    if not logger.isEnabledFor(logging.INFO):
        return  # the details below are built for the log line only
    logger.info(
        "[ALICE-BLUE] Placing order for follower %s: %s",
        mapping.follower.account_id,
        {
            "mapping": mapping.pk,
            "tag": mapping.order_tag,
            "leg": mapping.leg,
            "symbol": mapping.symbol,
            "exchange": mapping.exchange,
            "side": mapping.side,
            "quantity": mapping.quantity,
            "price": str(mapping.price) if mapping.price is not None else None,
            "product": mapping.product_type,
            "order_type": mapping.order_type,
            "attempt": mapping.attempts,
        },
    )


def paper(mapping: OrderMapping) -> Outcome:
    """Paper (dry-run) follower: log the order, send nothing."""
    log_placing(mapping)
    mapping_transition(
        mapping,
        from_statuses=(Status.SUBMITTING,),
        status=Status.SKIPPED,
        reason="Paper account: order logged, not sent",
        reason_code=Code.PAPER,
    )
    logger.info(
        "[ALICE-BLUE] [PAPER] mapping %s follower %s: logged, not sent",
        mapping.pk,
        mapping.follower.account_id,
    )
    return Outcome(Status.SKIPPED)


def order_mapping_place(*, mapping_id: int) -> Outcome:
    """Place the mapping's follower order if it is PENDING (see the module docstring for the contract)."""
    mapping, state = _claim(mapping_id)
    if mapping is None:
        return Outcome(state)
    follower = mapping.follower
    if follower.paper:
        return paper(mapping)
    try:
        client = account_broker_client(account=follower)
    except SessionMissing as exc:
        return session_failed(mapping, exc, from_statuses=(Status.SUBMITTING,))
    if mapping.attempts > 1:
        # An earlier attempt may have reached the broker after all: never send a second order.
        try:
            existing = client.find_order_by_tag(mapping.order_tag)
        except BrokerAuthError as exc:
            return session_failed(mapping, exc, from_statuses=(Status.SUBMITTING,))
        except BrokerError as exc:
            return _not_sent(mapping, exc)
        if existing is not None:
            order_mapping_apply_order(mapping=mapping, order=existing, from_statuses=(Status.SUBMITTING,))
            logger.info(
                "[ALICE-BLUE] Order placed successfully for %s: %s (found by tag %s on retry)",
                follower.account_id,
                existing.order_id,
                mapping.order_tag,
            )
            return Outcome(mapping.status)
    log_placing(mapping)
    try:
        ack = client.place_order(order_request_for(mapping))
    except BrokerError as exc:
        return record_failure(mapping, exc)
    return _record_ack(mapping, ack)


def record_failure(mapping: OrderMapping, exc: BrokerError) -> Outcome:
    """Record a failed send of a SUBMITTING mapping by failure class (see the module docstring)."""
    follower = mapping.follower
    if isinstance(exc, BrokerAuthError):
        return session_failed(mapping, exc, from_statuses=(Status.SUBMITTING,))
    if isinstance(exc, BrokerRejectedError):
        mapping_transition(
            mapping,
            from_statuses=(Status.SUBMITTING,),
            status=Status.REJECTED,
            reason=f"Alice Blue API error: {exc.reason}",
            reason_code=Code.BROKER_REJECTED,
        )
        logger.warning(
            "[ALICE-BLUE-ERROR] Follower %s: mapping %s REJECTED: %s",
            follower.account_id,
            mapping.pk,
            exc.reason,
        )
        return Outcome(Status.REJECTED)
    if isinstance(exc, BrokerOutcomeUnknownError):
        mapping_transition(
            mapping,
            from_statuses=(Status.SUBMITTING,),
            status=Status.UNKNOWN,
            reason=f"Sent, no answer from Alice Blue ({exc.code}): reconciling by order tag",
            reason_code=Code.OUTCOME_UNKNOWN,
        )
        logger.warning(
            "[ALICE-BLUE] mapping %s follower %s UNKNOWN (%s): reconcile by tag %s",
            mapping.pk,
            follower.account_id,
            exc.code,
            mapping.order_tag,
        )
        dispatch.reconcile_enqueue(mapping.pk, countdown=settings.REPLICATION_RECONCILE_DELAY)
        return Outcome(Status.UNKNOWN)
    if exc.retryable:
        return _not_sent(mapping, exc)
    mapping_transition(
        mapping,
        from_statuses=(Status.SUBMITTING,),
        status=Status.FAILED,
        reason=f"Alice Blue API error: {exc.message}",
        reason_code=Code.BROKER_ERROR,
    )
    logger.warning(
        "[ALICE-BLUE-ERROR] Follower %s: mapping %s FAILED: %s",
        follower.account_id,
        mapping.pk,
        exc.message,
    )
    return Outcome(Status.FAILED)


def _record_ack(mapping: OrderMapping, ack: OrderAck) -> Outcome:
    applied = mapping_transition(
        mapping,
        from_statuses=states.ACK_FROM,
        status=Status.ACTIVE,
        follower_order_id=ack.order_id,
        reason="",
        reason_code=Code.NONE,
        placed_at=timezone.now(),
    )
    if not applied:
        log_moved_meanwhile(mapping.pk, ack.order_id)
    account_session_note_success(account=mapping.follower)
    logger.info(
        "[ALICE-BLUE] Order placed successfully for %s: %s", mapping.follower.account_id, ack.order_id
    )
    return Outcome(Status.ACTIVE)


def log_moved_meanwhile(mapping_id: int, order_id: str) -> None:
    logger.warning(
        "mapping %s acknowledged as %s but moved to %s meanwhile",
        mapping_id,
        order_id,
        OrderMapping.objects.filter(pk=mapping_id).values_list("status", flat=True).first(),
    )


def order_mappings_settle_unexpected(*, mapping_ids: list[int], error: BaseException) -> dict[str, int]:
    """Settle mappings whose task kept failing with an unexpected error (a bug or bad data), never to loop.

    Never-sent rows (PENDING, attempts 0) end FAILED; rows that may have reached the broker (SUBMITTING, or
    PENDING after an attempt) go to UNKNOWN and are reconciled by tag. Both carry INTERNAL_ERROR so an
    operator sees them. Plain conditional UPDATEs: nothing here reads a row's other columns.
    """
    reason = f"Internal error ({type(error).__name__}); see the logs"
    now = timezone.now()
    failed = OrderMapping.objects.filter(pk__in=mapping_ids, status=Status.PENDING, attempts=0).update(
        status=Status.FAILED, reason=f"{reason}: not sent", reason_code=Code.INTERNAL_ERROR, updated_at=now
    )
    maybe_sent = list(
        OrderMapping.objects.filter(pk__in=mapping_ids)
        .filter(status__in=(Status.SUBMITTING, Status.PENDING))
        .values_list("pk", flat=True)
    )
    unknown = OrderMapping.objects.filter(
        pk__in=maybe_sent, status__in=(Status.SUBMITTING, Status.PENDING)
    ).update(
        status=Status.UNKNOWN,
        reason=f"{reason}: may have been sent; confirming by order tag",
        reason_code=Code.OUTCOME_UNKNOWN,
        updated_at=now,
    )
    for pk in maybe_sent:
        dispatch.reconcile_enqueue(pk, countdown=settings.REPLICATION_RECONCILE_DELAY)
    logger.error(
        "mappings %s settled after an unexpected %s: %d FAILED (never sent), %d UNKNOWN (reconcile by tag)",
        mapping_ids,
        type(error).__name__,
        failed,
        unknown,
    )
    return {"failed": failed, "unknown": unknown}
