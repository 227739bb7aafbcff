"""Placing one follower order, exactly once, and reconciling orders whose outcome is unknown.

Contract of `order_mapping_place`: the mapping row is locked and acted on only when PENDING; SUBMITTING
(attempts + 1) is committed before the broker is called with `orderTag = order_tag`. A retry first looks
the tag up in the order book, so an order that landed on an earlier attempt is never sent twice. A call
sent without an answer makes the row UNKNOWN; only the reconcile path (tag lookup) resolves it.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Case, CharField, F, Value, When
from django.utils import timezone

from accounts.exceptions import CredentialUnreadable, SessionMissing
from accounts.models import Account, MasterSettings
from accounts.selectors import account_broker_client, market_today, master_settings_get
from accounts.services.sessions import account_session_mark_expired
from broker.client import AliceBlueClient
from broker.exceptions import (
    BrokerAuthError,
    BrokerError,
    BrokerOutcomeUnknownError,
    BrokerRateLimitedError,
    BrokerRejectedError,
)
from broker.types import OrderAck, OrderRequest, OrderType, ProductType, Side
from replication import risk, selectors
from replication.models import OrderMapping
from replication.services.order_state import order_mapping_apply_order

logger = logging.getLogger(__name__)

Status = OrderMapping.Status
CONFIRMING = ": confirming by order tag"
# An acknowledgement proves the order is at the broker: it wins even over a FAILED "not placed" written by
# a reconcile that ran while this send was stalled.
ACK_FROM = (Status.SUBMITTING, Status.UNKNOWN, Status.FAILED)


@dataclass(frozen=True)
class Outcome:
    """What a task run did; `retry_in` (seconds) asks the task to run again later."""

    status: str
    retry_in: float | None = None


def _finish(mapping: OrderMapping, *, from_statuses: tuple[str, ...], **fields) -> bool:
    """Conditional UPDATE of the mapping (no lock held across broker calls); whoever moved it first wins."""
    fields["updated_at"] = timezone.now()
    updated = OrderMapping.objects.filter(pk=mapping.pk, status__in=from_statuses).update(**fields)
    if updated:
        for name, value in fields.items():
            setattr(mapping, name, value)
    return bool(updated)


def _backoff(attempts: int) -> float:
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
    )


def _claim(mapping_id: int) -> tuple[OrderMapping | None, str]:
    """Lock the row; PENDING -> SUBMITTING (attempts + 1), committed. (None, status) if nothing to do.

    An ENTRY the follower opted out of meanwhile, one too old to send, or one past the attempt cap is not
    sent: never-sent rows end SKIPPED/FAILED, rows an earlier attempt may have placed go to reconcile.
    """
    with transaction.atomic():
        mapping = (
            OrderMapping.objects.select_for_update().select_related("follower").filter(pk=mapping_id).first()
        )
        if mapping is None:
            return None, "missing"
        if mapping.status != Status.PENDING:
            return None, mapping.status
        blocked = _entry_blocked(mapping, master_settings_get())
        if blocked is None and mapping.attempts >= settings.REPLICATION_MAX_ATTEMPTS:
            blocked = (f"Gave up after {mapping.attempts} attempts", Status.FAILED)
        if blocked is not None:
            return None, _stop_before_send(mapping, reason=blocked[0], never_sent_status=blocked[1])
        mapping.status = Status.SUBMITTING
        mapping.attempts += 1
        mapping.submitted_at = timezone.now()
        mapping.next_attempt_at = None
        mapping.save(update_fields=["status", "attempts", "submitted_at", "next_attempt_at", "updated_at"])
        return mapping, Status.SUBMITTING


def _entry_blocked(mapping: OrderMapping, master_settings: MasterSettings) -> tuple[str, str] | None:
    """(reason, status for a never-sent row) when an ENTRY must not be sent now; None otherwise."""
    if mapping.leg != OrderMapping.Leg.ENTRY:
        return None  # exits are never blocked
    follower = mapping.follower
    reason = risk.entry_switch_reason(
        rules=selectors.follower_rules(account=follower, master_settings=master_settings),
        limits=selectors.limits_from(master_settings),
        account_active=follower.status == Account.Status.ACTIVE,
    )
    if reason:
        return reason, Status.SKIPPED
    age = (timezone.now() - mapping.created_at).total_seconds()
    if age > settings.REPLICATION_ENTRY_MAX_AGE or market_today() != _market_day(mapping.created_at):
        return f"Expired before placement: the master trade is {int(age)}s old", Status.FAILED
    return None


def _market_day(moment) -> date:
    return moment.astimezone(ZoneInfo(settings.MARKET_TIME_ZONE)).date()


def _stop_before_send(mapping: OrderMapping, *, reason: str, never_sent_status: str) -> str:
    """Settle a row that will not be sent (again). Returns its new status.

    attempts == 0: nothing ever left, so SKIPPED/FAILED with the reason. attempts > 0: an earlier send may
    have reached the broker (a 5xx after acceptance), so UNKNOWN and a reconcile by tag, never a new send.
    """
    current = mapping.status
    if mapping.attempts == 0:
        _finish(mapping, from_statuses=(current,), status=never_sent_status, reason=reason)
        logger.warning(
            "[ALICE-BLUE] mapping %s follower %s not sent, %s: %s",
            mapping.pk,
            mapping.follower.account_id,
            never_sent_status,
            reason,
        )
        return never_sent_status
    _finish(mapping, from_statuses=(current,), status=Status.UNKNOWN, reason=f"{reason}{CONFIRMING}")
    logger.warning(
        "[ALICE-BLUE] mapping %s follower %s not sent again (%s): UNKNOWN, reconcile by tag %s",
        mapping.pk,
        mapping.follower.account_id,
        reason,
        mapping.order_tag,
    )
    enqueue_reconcile(mapping.pk, countdown=settings.REPLICATION_RECONCILE_DELAY)
    return Status.UNKNOWN


def _session_failed(mapping: OrderMapping, exc: Exception, *, from_statuses: tuple[str, ...]) -> Outcome:
    reason = f"Session expired: {getattr(exc, 'message', '') or 'log in with Alice Blue again'}"
    if isinstance(exc, CredentialUnreadable):
        reason = exc.message
    elif isinstance(exc, SessionMissing):
        reason = "No broker session for this follower: log in with Alice Blue first"
    else:
        account_session_mark_expired(account=mapping.follower, reason=reason)
    _finish(mapping, from_statuses=from_statuses, status=Status.FAILED, reason=reason)
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
        return Outcome(_stop_before_send(mapping, reason=reason, never_sent_status=Status.FAILED))
    delay = _backoff(mapping.attempts)
    if isinstance(exc, BrokerRateLimitedError) and exc.retry_after:
        delay = max(delay, float(exc.retry_after))
    _finish(
        mapping,
        from_statuses=(Status.SUBMITTING,),
        status=Status.PENDING,
        reason=f"Retrying: {exc.message}",
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


def _log_placing(mapping: OrderMapping) -> None:
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


def _paper(mapping: OrderMapping) -> Outcome:
    """Paper (dry-run) follower: log the order, send nothing."""
    _log_placing(mapping)
    _finish(
        mapping,
        from_statuses=(Status.SUBMITTING,),
        status=Status.SKIPPED,
        reason="Paper account: order logged, not sent",
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
        return _paper(mapping)
    try:
        client = account_broker_client(account=follower)
    except SessionMissing as exc:
        return _session_failed(mapping, exc, from_statuses=(Status.SUBMITTING,))
    if mapping.attempts > 1:
        # An earlier attempt may have reached the broker after all: never send a second order.
        try:
            existing = client.find_order_by_tag(mapping.order_tag)
        except BrokerAuthError as exc:
            return _session_failed(mapping, exc, from_statuses=(Status.SUBMITTING,))
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
    return _send(mapping, client)


def _send(mapping: OrderMapping, client: AliceBlueClient) -> Outcome:
    _log_placing(mapping)
    try:
        ack = client.place_order(order_request_for(mapping))
    except BrokerError as exc:
        return _record_failure(mapping, exc)
    return _record_ack(mapping, ack)


def _record_failure(mapping: OrderMapping, exc: BrokerError) -> Outcome:
    """Record a failed send of a SUBMITTING mapping by failure class (see the module docstring)."""
    follower = mapping.follower
    if isinstance(exc, BrokerAuthError):
        return _session_failed(mapping, exc, from_statuses=(Status.SUBMITTING,))
    if isinstance(exc, BrokerRejectedError):
        reason = f"Alice Blue API error: {exc.reason}"
        _finish(mapping, from_statuses=(Status.SUBMITTING,), status=Status.REJECTED, reason=reason)
        logger.warning(
            "[ALICE-BLUE-ERROR] Follower %s: mapping %s REJECTED: %s",
            follower.account_id,
            mapping.pk,
            exc.reason,
        )
        return Outcome(Status.REJECTED)
    if isinstance(exc, BrokerOutcomeUnknownError):
        reason = f"Sent, no answer from Alice Blue ({exc.code}): reconciling by order tag"
        _finish(mapping, from_statuses=(Status.SUBMITTING,), status=Status.UNKNOWN, reason=reason)
        logger.warning(
            "[ALICE-BLUE] mapping %s follower %s UNKNOWN (%s): reconcile by tag %s",
            mapping.pk,
            follower.account_id,
            exc.code,
            mapping.order_tag,
        )
        enqueue_reconcile(mapping.pk, countdown=settings.REPLICATION_RECONCILE_DELAY)
        return Outcome(Status.UNKNOWN)
    if exc.retryable:
        return _not_sent(mapping, exc)
    reason = f"Alice Blue API error: {exc.message}"
    _finish(mapping, from_statuses=(Status.SUBMITTING,), status=Status.FAILED, reason=reason)
    logger.warning(
        "[ALICE-BLUE-ERROR] Follower %s: mapping %s FAILED: %s",
        follower.account_id,
        mapping.pk,
        exc.message,
    )
    return Outcome(Status.FAILED)


def _record_ack(mapping: OrderMapping, ack: OrderAck) -> Outcome:
    applied = _finish(
        mapping,
        from_statuses=ACK_FROM,
        status=Status.ACTIVE,
        follower_order_id=ack.order_id,
        reason="",
        placed_at=timezone.now(),
    )
    if not applied:
        _log_moved_meanwhile(mapping.pk, ack.order_id)
    logger.info(
        "[ALICE-BLUE] Order placed successfully for %s: %s", mapping.follower.account_id, ack.order_id
    )
    return Outcome(Status.ACTIVE)


def _log_moved_meanwhile(mapping_id: int, order_id: str) -> None:
    logger.warning(
        "mapping %s acknowledged as %s but moved to %s meanwhile",
        mapping_id,
        order_id,
        OrderMapping.objects.filter(pk=mapping_id).values_list("status", flat=True).first(),
    )


# ---------------------------------------------------------------------------------------------- batches
# A fan-out places its first attempts in batches: one task claims many PENDING rows in one statement,
# sends their orders concurrently, and writes the acknowledgements in one statement. The per-row contract
# is the same as order_mapping_place's: rows are locked and moved PENDING -> SUBMITTING (attempts + 1) in a
# committed transaction before any order is sent; failures are recorded by _record_failure exactly as on
# the single-row path. Retries (attempts > 0) always go through the single-row task, which looks the tag up
# before sending again.


@dataclass(frozen=True)
class BatchOutcome:
    """What a batch run did; `retry` lists (mapping id, seconds) for the single-row task to try again."""

    statuses: dict[int, str]
    retry: list[tuple[int, float]]


def _claim_batch(mapping_ids: list[int]) -> tuple[list[OrderMapping], dict[int, str]]:
    """Lock the first-attempt PENDING rows among `mapping_ids` (in pk order) and mark them SUBMITTING.

    Rows the follower opted out of meanwhile (or too old to send) end SKIPPED/FAILED instead; their
    statuses are returned beside the claimed rows.
    """
    settled: dict[int, str] = {}
    with transaction.atomic():
        rows = list(
            OrderMapping.objects.select_for_update()
            .filter(pk__in=mapping_ids, status=Status.PENDING, attempts=0)
            .order_by("pk")
        )
        if not rows:
            return [], settled
        followers = Account.objects.select_related("credential", "risk_config", "consent").in_bulk(
            {row.follower_id for row in rows}
        )
        master_settings = master_settings_get()
        claimed = []
        for row in rows:
            row.follower = followers[row.follower_id]
            blocked = _entry_blocked(row, master_settings)
            if blocked is None:
                claimed.append(row)
            else:
                settled[row.pk] = _stop_before_send(row, reason=blocked[0], never_sent_status=blocked[1])
        now = timezone.now()
        OrderMapping.objects.filter(pk__in=[row.pk for row in claimed]).update(
            status=Status.SUBMITTING,
            attempts=F("attempts") + 1,
            submitted_at=now,
            next_attempt_at=None,
            updated_at=now,
        )
    for row in claimed:
        row.status, row.attempts, row.submitted_at, row.next_attempt_at = Status.SUBMITTING, 1, now, None
    return claimed, settled


def _place_one(client: AliceBlueClient, mapping: OrderMapping) -> OrderAck | BrokerError:
    """Send one order (runs in a pool thread: no database access here)."""
    _log_placing(mapping)
    try:
        return client.place_order(order_request_for(mapping))
    except BrokerError as exc:
        return exc
    except Exception as exc:  # a bug after the request may have left: the outcome is unknown
        logger.exception("mapping %s: unexpected error while placing", mapping.pk)
        return BrokerOutcomeUnknownError(
            f"unexpected {type(exc).__name__} while placing", code="client_error"
        )


def _record_acks(acked: list[tuple[OrderMapping, OrderAck]]) -> None:
    """Write every acknowledgement with one conditional UPDATE (SUBMITTING/UNKNOWN -> ACTIVE).

    All rows get the same status, reason and times; only the order id differs, so a single CASE on it
    replaces Django's bulk_update (a CASE per row per field, which dominated the worker's CPU). The status
    condition makes each row's move atomic, as on the single-row path: whoever moved a row first wins.
    """
    if not acked:
        return
    now = timezone.now()
    order_ids = Case(
        *(When(pk=mapping.pk, then=Value(ack.order_id)) for mapping, ack in acked), output_field=CharField()
    )
    applied = OrderMapping.objects.filter(
        pk__in=[mapping.pk for mapping, _ack in acked], status__in=ACK_FROM
    ).update(status=Status.ACTIVE, follower_order_id=order_ids, reason="", placed_at=now, updated_at=now)
    moved: set[int] = set()
    if applied != len(acked):
        moved = set(
            OrderMapping.objects.filter(pk__in=[m.pk for m, _ack in acked])
            .exclude(status=Status.ACTIVE, placed_at=now)
            .values_list("pk", flat=True)
        )
    for mapping, ack in acked:
        if mapping.pk in moved:
            _log_moved_meanwhile(mapping.pk, ack.order_id)
        else:
            mapping.status, mapping.follower_order_id, mapping.reason = Status.ACTIVE, ack.order_id, ""
        logger.info(
            "[ALICE-BLUE] Order placed successfully for %s: %s", mapping.follower.account_id, ack.order_id
        )


def order_mappings_place_batch(*, mapping_ids: list[int]) -> BatchOutcome:
    """Place the first attempts of many PENDING mappings concurrently (see the section comment above)."""
    rows, statuses = _claim_batch(mapping_ids)
    retry: list[tuple[int, float]] = []
    to_send: list[tuple[OrderMapping, AliceBlueClient]] = []
    for mapping in rows:
        if mapping.follower.paper:
            statuses[mapping.pk] = _paper(mapping).status
            continue
        try:
            to_send.append((mapping, account_broker_client(account=mapping.follower)))
        except SessionMissing as exc:
            statuses[mapping.pk] = _session_failed(mapping, exc, from_statuses=(Status.SUBMITTING,)).status
    if to_send:
        threads = max(1, min(len(to_send), settings.REPLICATION_PLACEMENT_THREADS))
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="place") as pool:
            results = list(pool.map(lambda pair: _place_one(pair[1], pair[0]), to_send))
        acked = []
        for (mapping, _client), result in zip(to_send, results, strict=True):
            if isinstance(result, BrokerError):
                outcome = _record_failure(mapping, result)
                statuses[mapping.pk] = outcome.status
                if outcome.retry_in is not None:
                    retry.append((mapping.pk, outcome.retry_in))
            else:
                acked.append((mapping, result))
                statuses[mapping.pk] = Status.ACTIVE
        _record_acks(acked)
    return BatchOutcome(statuses=statuses, retry=retry)


def enqueue_reconcile(mapping_id: int, *, countdown: float = 0.0) -> None:
    from replication.tasks import order_mapping_reconcile_task

    transaction.on_commit(
        lambda: order_mapping_reconcile_task.apply_async((mapping_id,), countdown=countdown)
    )


def _reconcile_again_in(mapping: OrderMapping) -> float | None:
    """Seconds until the next lookup; None past REPLICATION_RECONCILE_GIVE_UP (the sweeper takes over)."""
    sent_at = mapping.submitted_at or mapping.updated_at
    if (timezone.now() - sent_at).total_seconds() > settings.REPLICATION_RECONCILE_GIVE_UP:
        return None
    return max(float(settings.REPLICATION_RECONCILE_DELAY) * 2, 0.5)


def order_mapping_reconcile(*, mapping_id: int) -> Outcome:
    """Resolve an UNKNOWN mapping by its orderTag in the follower's order book; never places an order.

    Found -> the order's state (ACTIVE/PARTIAL/COMPLETED/REJECTED/CANCELLED). Absent after the grace window
    (REPLICATION_RECONCILE_GRACE seconds since submission) -> FAILED "not placed". Else try again later.
    """
    mapping = OrderMapping.objects.select_related("follower").filter(pk=mapping_id).first()
    if mapping is None or mapping.status != Status.UNKNOWN:
        return Outcome(mapping.status if mapping else "missing")
    try:
        client = account_broker_client(account=mapping.follower)
        found = client.find_order_by_tag(mapping.order_tag)
    except (BrokerError, SessionMissing) as exc:
        code = getattr(exc, "code", type(exc).__name__)
        if isinstance(exc, BrokerAuthError):
            # The admin must see that this follower needs its daily login before the order can be confirmed.
            account_session_mark_expired(account=mapping.follower, reason=f"Session expired: {exc.message}")
        logger.warning("[RECONCILE] mapping %s: order book unreadable (%s); trying again", mapping.pk, code)
        _finish(
            mapping,
            from_statuses=(Status.UNKNOWN,),
            reason=f"Outcome unknown; order book unreadable ({code}): reconciling",
        )
        return Outcome(Status.UNKNOWN, retry_in=_reconcile_again_in(mapping))
    if found is not None:
        order_mapping_apply_order(mapping=mapping, order=found, from_statuses=(Status.UNKNOWN,))
        if mapping.status != Status.REJECTED:
            _finish(mapping, from_statuses=(mapping.status,), reason="")
        logger.info(
            "[RECONCILE] mapping %s follower %s: tag %s found as order %s (%s)",
            mapping.pk,
            mapping.follower.account_id,
            mapping.order_tag,
            found.order_id,
            mapping.status,
        )
        logger.info(
            "[ALICE-BLUE] Order placed successfully for %s: %s", mapping.follower.account_id, found.order_id
        )
        return Outcome(mapping.status)
    sent_at = mapping.submitted_at or mapping.updated_at
    waited = (timezone.now() - sent_at).total_seconds()
    grace = float(settings.REPLICATION_RECONCILE_GRACE)
    if waited < grace:
        return Outcome(Status.UNKNOWN, retry_in=max(min(grace - waited, grace / 3), 0.2))
    reason = f"Order not placed: tag {mapping.order_tag} not in the order book {int(waited)}s after sending"
    if mapping.reason.endswith(CONFIRMING):
        reason = f"{mapping.reason.removesuffix(CONFIRMING)}; {reason[0].lower()}{reason[1:]}"
    _finish(mapping, from_statuses=(Status.UNKNOWN,), status=Status.FAILED, reason=reason)
    logger.warning(
        "[RECONCILE] mapping %s follower %s FAILED: %s", mapping.pk, mapping.follower.account_id, reason
    )
    return Outcome(Status.FAILED)
