"""The follower-order state machine: mapping statuses, reason codes, the legal transitions, and the groups of
statuses the engine reasons with; the one place these are defined (no database access here).

A mapping moves only along TRANSITIONS: `replication.services.order_state.mapping_transition` refuses
anything else. The broker's order book is the truth for a placed order, so a placed status may move to any
other placed or closed status the book reports.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import TypeVar

from django.db import models

K = TypeVar("K", bound=Hashable)


class MappingStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    SUBMITTING = "SUBMITTING", "Submitting"
    ACTIVE = "ACTIVE", "Active"
    PARTIAL = "PARTIAL", "Partially filled"
    COMPLETED = "COMPLETED", "Completed"
    CANCELLED = "CANCELLED", "Cancelled"
    REJECTED = "REJECTED", "Rejected"
    FAILED = "FAILED", "Failed"
    UNKNOWN = "UNKNOWN", "Unknown"
    SKIPPED = "SKIPPED", "Skipped"


class ReasonCode(models.TextChoices):
    """Why a mapping is in its status, as data (the `reason` column is the human text)."""

    NONE = "", "—"
    RULE = "RULE", "Skipped by a rule"
    SWITCHED_OFF = "SWITCHED_OFF", "Follower switched off before sending"
    EXPIRED_BEFORE_PLACEMENT = "EXPIRED_BEFORE_PLACEMENT", "Too old to send"
    PAPER = "PAPER", "Paper account"
    RETRYING = "RETRYING", "Broker unavailable: retrying"
    GAVE_UP = "GAVE_UP", "Gave up (never sent)"
    CONFIRMING = "CONFIRMING", "Not sent again: confirming by order tag"
    OUTCOME_UNKNOWN = "OUTCOME_UNKNOWN", "Sent, no answer: reconciling"
    SEND_INTERRUPTED = "SEND_INTERRUPTED", "Sending interrupted: reconciling"
    BOOK_UNREADABLE = "BOOK_UNREADABLE", "Order book unreadable: reconciling"
    WAITING_FOR_SESSION = "WAITING_FOR_SESSION", "Waiting for the follower's session"
    RESENDING = "RESENDING", "Confirmed absent: sending again with the same tag"
    NOT_PLACED = "NOT_PLACED", "Confirmed absent: not placed"
    SESSION_EXPIRED = "SESSION_EXPIRED", "Session expired"
    NO_SESSION = "NO_SESSION", "No broker session"
    CREDENTIAL_UNREADABLE = "CREDENTIAL_UNREADABLE", "Credential cannot be decrypted"
    BROKER_REJECTED = "BROKER_REJECTED", "Rejected by Alice Blue"
    BROKER_ERROR = "BROKER_ERROR", "Alice Blue error"
    CANCELLED_BEFORE_PLACEMENT = "CANCELLED_BEFORE_PLACEMENT", "Cancelled before placement"
    INTERNAL_ERROR = "INTERNAL_ERROR", "Internal error: needs an operator"


class ActionStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    RUNNING = "RUNNING", "Running"
    DONE = "DONE", "Done"
    SKIPPED = "SKIPPED", "Skipped"
    FAILED = "FAILED", "Failed"


S = MappingStatus

# Not yet known to be at the broker or not: the engine is still working on these.
IN_FLIGHT = (S.PENDING, S.SUBMITTING, S.UNKNOWN)
# Accepted by the broker (an order id exists).
PLACED = (S.ACTIVE, S.PARTIAL, S.COMPLETED)
# Placed and still open at the broker: what the order-status sync reads.
OPEN_AT_BROKER = (S.ACTIVE, S.PARTIAL)
# Statuses the follower's order book may overwrite (placed or closed by the broker).
BOOK_STATES = (S.ACTIVE, S.PARTIAL, S.COMPLETED, S.CANCELLED, S.REJECTED)
# An acknowledgement proves the order is at the broker: it wins even over a FAILED "not placed" written by a
# reconcile that ran while the send was stalled.
ACK_FROM = (S.SUBMITTING, S.UNKNOWN, S.FAILED)
# Nothing more will happen to these without an operator.
FINAL = (S.COMPLETED, S.CANCELLED, S.REJECTED, S.FAILED, S.SKIPPED)
# An ENTRY in one of these is (or may become) a position at the broker.
MAY_HOLD_POSITION = (S.PENDING, S.SUBMITTING, S.UNKNOWN, S.ACTIVE, S.PARTIAL, S.COMPLETED)
# An EXIT leg in one of these did not square anything off.
EXIT_DID_NOT_CLOSE = (S.FAILED, S.REJECTED, S.CANCELLED, S.SKIPPED)
# Worth an operator's look.
NEEDS_ATTENTION = (S.FAILED, S.UNKNOWN, S.REJECTED)

_FROM_BOOK = frozenset(BOOK_STATES)
TRANSITIONS: dict[str, frozenset[str]] = {
    # claimed for sending; settled without sending (switched off, too old, gave up, cancelled before
    # placement); an earlier attempt may have landed -> confirm by tag.
    S.PENDING: frozenset({S.SUBMITTING, S.SKIPPED, S.FAILED, S.CANCELLED, S.UNKNOWN}),
    # acknowledged / found by tag; rejected; not sent (retry); sent without answer; paper; session refused.
    S.SUBMITTING: frozenset({*_FROM_BOOK, S.PENDING, S.UNKNOWN, S.FAILED, S.SKIPPED}),
    # found by tag; confirmed absent (sent again, or failed); still unknown (reason updated).
    S.UNKNOWN: frozenset({*_FROM_BOOK, S.PENDING, S.FAILED, S.UNKNOWN}),
    # a late acknowledgement of an order given up as "not placed"; an operator's retry of an entry that never
    # reached the broker (replication.services.control.order_mapping_retry).
    S.FAILED: frozenset({S.ACTIVE, S.PENDING}),
    S.ACTIVE: _FROM_BOOK,
    S.PARTIAL: _FROM_BOOK,
    S.COMPLETED: _FROM_BOOK,
    S.CANCELLED: _FROM_BOOK,
    S.REJECTED: _FROM_BOOK,
    S.SKIPPED: frozenset(),
}


class IllegalTransition(ValueError):
    """A code path tried to move a mapping along an edge the state machine does not have (a bug)."""


def check_transition(from_statuses: tuple[str, ...] | list[str], to: str) -> None:
    """Raise IllegalTransition unless `to` is reachable from every status in `from_statuses`."""
    illegal = [status for status in from_statuses if to not in TRANSITIONS[status]]
    if illegal:
        raise IllegalTransition(f"mapping status {', '.join(illegal)} -> {to} is not a legal transition")


def result_status(status: str, *, has_order_id: bool) -> str:
    """SUCCESS / SKIPPED / FAILED / PENDING, the seed's per-follower result for a mapping status."""
    if status in PLACED:
        return "SUCCESS"
    if status == S.SKIPPED:
        return "SKIPPED"
    if status in IN_FLIGHT:
        return "PENDING"
    if status == S.CANCELLED and has_order_id:
        return "SUCCESS"  # placed, later cancelled by a master cancel or exit
    return "FAILED"


def sliced_result_status(results: list[str]) -> str:
    """One follower order's result from its slices' results: SUCCESS only when every slice succeeded (skipped
    slices aside); any slice in flight: PENDING; else any failed: FAILED; all skipped: SKIPPED."""
    if "PENDING" in results:
        return "PENDING"
    if "FAILED" in results:
        return "FAILED"
    if all(result == "SKIPPED" for result in results):
        return "SKIPPED"
    return "SUCCESS"


def results_by_order(results: Iterable[tuple[K, str]]) -> dict[K, str]:
    """One result per follower order from (order key, slice result) pairs: the slices of one key merged by
    `sliced_result_status`, in the order each key first appears."""
    grouped: dict[K, list[str]] = {}
    for key, result in results:
        grouped.setdefault(key, []).append(result)
    return {key: sliced_result_status(found) for key, found in grouped.items()}
