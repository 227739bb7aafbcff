"""Running one follower action (exit, cancel, modify or close) claimed from its PENDING row, with the failure
handling they share: a refused session fails it, any other broker error runs it again later (bounded)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils import timezone

from accounts.exceptions import SessionMissing
from accounts.selectors import broker_calls_allowed, credential_of
from accounts.services.sessions import account_session_mark_expired
from broker.exceptions import BrokerAuthError, BrokerError
from replication import states
from replication.models import OrderAction, OrderMapping, TradeEvent
from replication.services.action_events import action_claim, action_end
from replication.services.closes import close_run
from replication.services.events import trade_event_refresh_totals
from replication.services.exits import cancel_or_exit_run
from replication.services.modify import modify_run
from replication.services.order_state import Outcome

logger = logging.getLogger(__name__)

ActionStatus = states.ActionStatus
SESSION_EXPIRED = "Session expired: log in with Alice Blue, then retry the failed actions"


def order_action_run(*, action_id: int) -> Outcome:
    """Run a PENDING exit / modify / cancel; anything else is a no-op (redelivery, duplicate enqueue)."""
    action = action_claim(action_id)
    if action is None:
        return Outcome("noop")
    entry = OrderMapping.objects.select_related("follower", "follower__credential").get(pk=action.mapping_id)
    placed = entry.follower_order_id and entry.status not in states.IN_FLIGHT
    if placed and not broker_calls_allowed(credential_of(entry.follower)):
        # A call with a session known to be dead would only be refused again.
        return action_end(action, ActionStatus.FAILED, SESSION_EXPIRED)
    try:
        if action.kind == OrderAction.Kind.MODIFY:
            return modify_run(action, entry)
        if action.kind == OrderAction.Kind.CLOSE:
            return close_run(action, entry)
        return cancel_or_exit_run(action, entry)
    except (BrokerAuthError, SessionMissing) as exc:
        reason = (
            "Session expired" if isinstance(exc, BrokerAuthError) else "No broker session for this follower"
        )
        if isinstance(exc, BrokerAuthError):
            account_session_mark_expired(account=entry.follower, reason=f"Session expired: {exc.message}")
        return action_end(action, ActionStatus.FAILED, reason)
    except BrokerError as exc:
        # Cancel and modify set absolute state, so sending them again after an unknown outcome is safe.
        return action_end(
            action,
            ActionStatus.PENDING,
            f"Alice Blue API error: {exc.message}",
            retry_in=settings.REPLICATION_RETRY_BACKOFF * action.attempts,
        )


def order_action_settle_unexpected(*, action_id: int, error: BaseException) -> bool:
    """The action kept failing with an unexpected error: FAILED with the reason (an operator can retry it)."""
    updated = OrderAction.objects.filter(
        pk=action_id, status__in=(ActionStatus.PENDING, ActionStatus.RUNNING)
    ).update(
        status=ActionStatus.FAILED,
        reason=f"Internal error ({type(error).__name__}); see the logs",
        updated_at=timezone.now(),
    )
    logger.error("action %s FAILED after an unexpected %s", action_id, type(error).__name__)
    event = TradeEvent.objects.filter(actions__pk=action_id).first()
    if event is not None:
        trade_event_refresh_totals(event=event)
    return bool(updated)
