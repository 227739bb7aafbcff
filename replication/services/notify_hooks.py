"""The notifications raised by the services that change state (kill switch, loss limit, auto-liquidation):
each is queued when the service's transaction commits, and a failure to queue it never undoes the change."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from accounts.models import Account
from accounts.services.notifications import notification_raise_on_commit
from replication import notify_messages as messages


def kill_switch_notify(*, on: bool, actor: str, since: datetime, reason: str = "") -> None:
    """The kill switch turned on or off (operator channels); `since` is when it was turned on."""
    notice = messages.kill_switch(on=on, actor=actor, reason=reason, at=timezone.now(), since=since)
    notification_raise_on_commit(notice=notice)


def loss_limit_notify(*, follower: Account, breach: str, auto_liquidate: bool) -> None:
    """A follower at its daily loss limit (its channels and the operator's; once a day)."""
    notice = messages.loss_limit(
        follower_pk=follower.pk,
        account_id=follower.account_id,
        breach=breach,
        auto_liquidate=auto_liquidate,
        at=timezone.now(),
    )
    notification_raise_on_commit(notice=notice, follower_pk=follower.pk)


def liquidation_notify(*, follower: Account, reason: str, stopped: bool, exited: list[str]) -> None:
    """A follower auto-liquidated (its channels and the operator's; once a day)."""
    notice = messages.liquidated(
        follower_pk=follower.pk,
        account_id=follower.account_id,
        reason=reason,
        stopped=stopped,
        exited=exited,
        at=timezone.now(),
    )
    notification_raise_on_commit(notice=notice, follower_pk=follower.pk)
