"""Resolving a mapping whose outcome is unknown (UNKNOWN) by its orderTag in the follower's order book.

Found -> the order's state (ACTIVE / PARTIAL / COMPLETED / REJECTED / CANCELLED). Absent once
REPLICATION_RECONCILE_GRACE seconds have passed since the send -> confirmed not placed: the order is sent
again with the same tag when it still may be (an exit leg, or an entry inside its entry age whose follower is
still switched on and that no exit or cancel covers, below the attempt cap), else FAILED. A worker killed
between its claim and its send thus loses nothing, and the tag lookup before every resend means nothing is
ever placed twice.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils import timezone

from accounts.exceptions import SessionMissing
from accounts.selectors import (
    account_broker_client,
    broker_calls_allowed,
    credential_of,
    master_settings_get,
)
from accounts.services.audit import audit_record
from accounts.services.sessions import account_session_mark_expired, account_session_note_success
from broker.exceptions import BrokerAuthError, BrokerError
from replication import dispatch, states
from replication.models import OrderAction, OrderMapping
from replication.services import placement
from replication.services.order_state import Outcome, mapping_transition, order_mapping_apply_order

logger = logging.getLogger(__name__)

Status = states.MappingStatus
Code = states.ReasonCode
CONFIRMING_SUFFIX = ": confirming by order tag"


def _again_in(mapping: OrderMapping) -> float | None:
    """Seconds until the next lookup; None past REPLICATION_RECONCILE_GIVE_UP (the sweeper takes over)."""
    sent_at = mapping.submitted_at or mapping.updated_at
    if (timezone.now() - sent_at).total_seconds() > settings.REPLICATION_RECONCILE_GIVE_UP:
        return None
    return max(float(settings.REPLICATION_RECONCILE_DELAY) * 2, 0.5)


def _note(mapping: OrderMapping, reason: str) -> None:
    """A new explanation for a row that stays UNKNOWN (its reason code, why it is UNKNOWN, is kept)."""
    mapping_transition(mapping, from_statuses=(Status.UNKNOWN,), reason=reason)


def order_mapping_reconcile(*, mapping_id: int) -> Outcome:
    """Resolve an UNKNOWN mapping by its orderTag (see the module docstring); never places an order itself."""
    mapping = (
        OrderMapping.objects.select_related("follower", "follower__credential").filter(pk=mapping_id).first()
    )
    if mapping is None or mapping.status != Status.UNKNOWN:
        return Outcome(mapping.status if mapping else "missing")
    follower = mapping.follower
    if not broker_calls_allowed(credential_of(follower)):
        # No call with a dead session: the sweeper looks again once it has been renewed.
        _note(
            mapping, "Outcome unknown; waiting for the follower's session to be renewed to look the order up"
        )
        return Outcome(Status.UNKNOWN)
    try:
        found = account_broker_client(account=follower).find_order_by_tag(mapping.order_tag)
    except BrokerAuthError as exc:
        account_session_mark_expired(account=follower, reason=f"Session expired: {exc.message}")
        _note(mapping, "Outcome unknown; the follower's session expired: waiting for a new login")
        return Outcome(Status.UNKNOWN)
    except (BrokerError, SessionMissing) as exc:
        code = getattr(exc, "code", type(exc).__name__)
        logger.warning("[RECONCILE] mapping %s: order book unreadable (%s); trying again", mapping.pk, code)
        _note(mapping, f"Outcome unknown; order book unreadable ({code}): reconciling")
        return Outcome(Status.UNKNOWN, retry_in=_again_in(mapping))
    account_session_note_success(account=follower)
    if found is not None:
        order_mapping_apply_order(mapping=mapping, order=found, from_statuses=(Status.UNKNOWN,))
        logger.info(
            "[RECONCILE] mapping %s follower %s: tag %s found as order %s (%s)",
            mapping.pk,
            follower.account_id,
            mapping.order_tag,
            found.order_id,
            mapping.status,
        )
        logger.info("[ALICE-BLUE] Order placed successfully for %s: %s", follower.account_id, found.order_id)
        return Outcome(mapping.status)
    sent_at = mapping.submitted_at or mapping.updated_at
    waited = (timezone.now() - sent_at).total_seconds()
    grace = float(settings.REPLICATION_RECONCILE_GRACE)
    if waited < grace:
        return Outcome(Status.UNKNOWN, retry_in=max(min(grace - waited, grace / 3), 0.2))
    return _confirmed_absent(mapping, waited=int(waited))


def _resend_refusal(mapping: OrderMapping) -> str:
    """Why an order confirmed absent must not be sent again ("" when it may be)."""
    if mapping.attempts >= settings.REPLICATION_MAX_ATTEMPTS:
        return f"gave up after {mapping.attempts} attempts"
    if mapping.leg == OrderMapping.Leg.ENTRY:
        closed = OrderAction.objects.filter(
            mapping=mapping, kind__in=(OrderAction.Kind.EXIT, OrderAction.Kind.CANCEL)
        ).exists()
        if closed:
            return "the master order was exited or cancelled meanwhile"
    blocked = placement.send_blocked(mapping, master_settings_get())
    return blocked[0] if blocked else ""


def _confirmed_absent(mapping: OrderMapping, *, waited: int) -> Outcome:
    follower = mapping.follower
    absent = f"tag {mapping.order_tag} not in the order book {waited}s after sending"
    refusal = _resend_refusal(mapping)
    if not refusal:
        if mapping_transition(
            mapping,
            from_statuses=(Status.UNKNOWN,),
            status=Status.PENDING,
            reason=f"Confirmed absent ({absent}): sending again with the same tag",
            reason_code=Code.RESENDING,
            next_attempt_at=None,
        ):
            dispatch.placement_enqueue(mapping.pk)
            logger.warning(
                "[RECONCILE] mapping %s follower %s: %s; sending again (attempt %s)",
                mapping.pk,
                follower.account_id,
                absent,
                mapping.attempts + 1,
            )
        return Outcome(mapping.status)
    reason = f"Order not placed: {absent} ({refusal})"
    if mapping.reason_code == Code.CONFIRMING and mapping.reason.endswith(CONFIRMING_SUFFIX):
        reason = f"{mapping.reason.removesuffix(CONFIRMING_SUFFIX)}; order not placed: {absent}"
    mapping_transition(
        mapping,
        from_statuses=(Status.UNKNOWN,),
        status=Status.FAILED,
        reason=reason,
        reason_code=Code.NOT_PLACED,
    )
    logger.warning("[RECONCILE] mapping %s follower %s FAILED: %s", mapping.pk, follower.account_id, reason)
    return Outcome(Status.FAILED)


def order_mapping_reconcile_settle_unexpected(*, mapping_id: int, error: BaseException) -> bool:
    """The reconcile kept failing with an unexpected error: leave the row UNKNOWN (it may be at the broker)
    but marked INTERNAL_ERROR, which the sweeper no longer re-enqueues: an operator reconciles it (admin)."""
    reason = (
        f"Outcome unknown; reconciling failed with an internal error ({type(error).__name__}): reconcile it"
    )
    updated = OrderMapping.objects.filter(pk=mapping_id, status=Status.UNKNOWN).update(
        reason=reason, reason_code=Code.INTERNAL_ERROR, updated_at=timezone.now()
    )
    logger.error("[RECONCILE] mapping %s: %s", mapping_id, reason)
    return bool(updated)


def order_mappings_reconcile_now(*, mapping_ids: list[int], actor: str) -> dict[str, int]:
    """An operator's "Reconcile now": reconcile each UNKNOWN mapping at once (audited, one row each); the
    others are left alone. Returns how many ended in each status ("not UNKNOWN" for those left alone)."""
    outcomes: dict[str, int] = {}
    for mapping_id in mapping_ids:
        status = OrderMapping.objects.filter(pk=mapping_id).values_list("status", flat=True).first()
        if status != Status.UNKNOWN:
            outcomes["not UNKNOWN"] = outcomes.get("not UNKNOWN", 0) + 1
            continue
        outcome = order_mapping_reconcile(mapping_id=mapping_id)
        outcomes[outcome.status] = outcomes.get(outcome.status, 0) + 1
        audit_record(
            actor=actor,
            action="mapping.reconciled",
            target=str(mapping_id),
            details={"result": outcome.status},
        )
    return outcomes
