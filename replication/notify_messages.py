"""The text and dedupe key of every notification the replication engine raises (pure: no I/O).

Messages are short, name the follower by its external id, give times in IST, and carry nothing secret: no
api key or secret, session or consent token, never the bot token (they are not among the inputs).
Each dedupe key names the one occurrence it stands for, so raising it again delivers nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from accounts.models import NotificationEvent
from accounts.services.notifications import Notice
from replication.market_calendar import IST

Event = NotificationEvent


def ist(moment: datetime) -> str:
    """`moment` as IST wall-clock time, e.g. "09:16:05 IST"."""
    return f"{moment.astimezone(IST):%H:%M:%S} IST"


def ist_day(moment: datetime) -> str:
    return f"{moment.astimezone(IST):%d %b %Y}"


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


# ---------------------------------------------------------------- readiness before the open
@dataclass(frozen=True)
class NotReady:
    """A follower that would not get the next entry, and why."""

    account_id: str
    reasons: tuple[str, ...]


def readiness_operator(
    *, day: date, not_ready: list[NotReady], followers: int, master_problem: str
) -> Notice:
    """The operator's list of everyone not ready for `day`'s open."""
    lines = [f"- {row.account_id}: {'; '.join(row.reasons)}" for row in not_ready]
    if master_problem:
        lines.insert(0, f"- Master: {master_problem}")
    count = len(not_ready)
    return Notice(
        event=Event.FOLLOWER_NOT_READY,
        dedupe_key=f"readiness:{day.isoformat()}",
        subject=f"{count} of {followers} followers not ready for the open ({day:%d %b %Y})",
        body="Not ready before the 09:15 IST open:\n" + "\n".join(lines),
    )


def readiness_follower(*, day: date, row: NotReady) -> Notice:
    """A follower's own notice that it is not ready (about itself only)."""
    return Notice(
        event=Event.FOLLOWER_NOT_READY,
        dedupe_key=f"readiness:{day.isoformat()}",
        subject=f"{row.account_id}: not ready for the open ({day:%d %b %Y})",
        body=f"Your account {row.account_id} will not copy trades at the 09:15 IST open: "
        + "; ".join(row.reasons)
        + ".",
    )


# ---------------------------------------------------------------- follower orders
@dataclass(frozen=True)
class OrderProblem:
    """A follower order (mapping) that FAILED or whose outcome is UNKNOWN."""

    mapping_pk: int
    account_id: str
    master_order_id: str
    leg: str
    side: str
    quantity: int
    symbol: str
    status: str  # FAILED or UNKNOWN
    reason: str
    created_at: datetime  # the try this status belongs to (an operator's retry starts a new one)


def order_problem(problem: OrderProblem) -> Notice:
    failed = problem.status == "FAILED"
    what = f"{problem.side} {problem.quantity} {problem.symbol}"
    if failed:
        subject = f"{problem.account_id}: order FAILED ({what})"
        advice = "Not placed at Alice Blue; see the dashboard's Needs attention."
    else:
        subject = f"{problem.account_id}: order outcome UNKNOWN ({what})"
        advice = "Sent, but Alice Blue's answer was lost; it is being reconciled by its order tag."
    reason = problem.reason.strip()[:200]
    return Notice(
        event=Event.ORDER_FAILED if failed else Event.ORDER_UNKNOWN,
        dedupe_key=f"order-{problem.status.lower()}:{problem.mapping_pk}:{_epoch(problem.created_at)}",
        subject=subject,
        body=f"Follower {problem.account_id}, {problem.leg.lower()} of master order "
        f"{problem.master_order_id}: {what}, {problem.status} (entry time {ist(problem.created_at)})."
        + (f"\nReason: {reason}" if reason else "")
        + f"\n{advice}",
    )


# ---------------------------------------------------------------- loss limit, auto-liquidation
def loss_limit(
    *, follower_pk: int, account_id: str, breach: str, auto_liquidate: bool, at: datetime
) -> Notice:
    """The daily loss limit reached (once a day per follower)."""
    then = (
        "auto-liquidation is on: copy trading stops and open copies are exited"
        if auto_liquidate
        else ("new entries are skipped for the rest of the day (auto-liquidation is off)")
    )
    return Notice(
        event=Event.LOSS_LIMIT,
        dedupe_key=f"loss-limit:{follower_pk}:{at.astimezone(IST).date().isoformat()}",
        subject=f"{account_id}: daily loss limit hit",
        body=f"Follower {account_id} at {ist(at)}: {breach}.\nThen: {then}.",
    )


def liquidated(
    *, follower_pk: int, account_id: str, reason: str, stopped: bool, exited: list[str], at: datetime
) -> Notice:
    """A follower auto-liquidated (once a day per follower)."""
    exits = ", ".join(exited[:10]) + (f" and {len(exited) - 10} more" if len(exited) > 10 else "")
    return Notice(
        event=Event.AUTO_LIQUIDATED,
        dedupe_key=f"auto-liquidated:{follower_pk}:{at.astimezone(IST).date().isoformat()}",
        subject=f"{account_id}: auto-liquidated",
        body=f"Follower {account_id} auto-liquidated at {ist(at)}: {reason}.\n"
        f"Copy trading {'stopped' if stopped else 'was already stopped'}; "
        f"exiting copies of master orders: {exits or 'none open'}.",
    )


# ---------------------------------------------------------------- capture, kill switch
def capture_down(*, since: datetime, now: datetime, detail: str) -> Notice:
    """Master capture down since `since` (one notice per outage)."""
    minutes = max(int((now - since).total_seconds() // 60), 1)
    return Notice(
        event=Event.CAPTURE_DOWN,
        dedupe_key=f"capture-down:{_epoch(since)}",
        subject=f"Master capture down for {minutes} min",
        body=f"No master order read has succeeded since {ist(since)} ({ist_day(since)}): new master orders "
        f"are not being copied.\n{detail}",
    )


def capture_back(*, since: datetime, now: datetime) -> Notice:
    """Master capture working again after a notified outage."""
    minutes = max(int((now - since).total_seconds() // 60), 1)
    return Notice(
        event=Event.CAPTURE_DOWN,
        dedupe_key=f"capture-back:{_epoch(since)}",
        subject="Master capture working again",
        body=f"Master orders are read again at {ist(now)}, after about {minutes} min down "
        f"(since {ist(since)}).",
    )


def kill_switch(*, on: bool, actor: str, reason: str, at: datetime, since: datetime) -> Notice:
    """The kill switch turned on or off at `at`; `since` is when it was turned on (the key of the toggle)."""
    if on:
        return Notice(
            event=Event.KILL_SWITCH,
            dedupe_key=f"kill-switch-on:{_epoch(since)}",
            subject="Kill switch ON: copying stopped",
            body=f"Copying stopped at {ist(at)} by {actor}"
            + (f": {reason.strip()[:200]}" if reason.strip() else "")
            + ".\nNo new entry is copied to any follower; exits still flow.",
        )
    return Notice(
        event=Event.KILL_SWITCH,
        dedupe_key=f"kill-switch-off:{_epoch(since)}",
        subject="Kill switch OFF: copying resumed",
        body=f"Copying resumed at {ist(at)} by {actor}. New master trades are copied again.",
    )
