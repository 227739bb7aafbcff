"""Auto-liquidation: a follower at or beyond a loss limit is stopped and every open copied trade exited.

Runs from the risk-snapshot refresh when MasterSettings.auto_liquidate_on_loss is on. Copy trading is stopped
first (no new entries pass the rules), then each open copied trade goes through the ordinary exit machinery
(cancel what is open, square off what is filled, EXIT legs with their own order tags). Idempotent: a trade
that already has an exit action for its master order gets nothing new, so running it again while the loss
persists only catches entries that appeared since (e.g. a fan-out that committed during the last run).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import transaction

from accounts.models import Account
from accounts.services.accounts import account_copy_trading_set
from accounts.services.audit import audit_record
from replication import selectors
from replication.models import OrderAction, TradeEvent
from replication.services.exits import trade_exit_follower
from replication.services.notify_hooks import liquidation_notify

logger = logging.getLogger(__name__)

AUTO_LIQUIDATE_ACTOR = "auto-liquidate"


@dataclass
class LiquidationResult:
    stopped: bool = False
    exited: list[str] = field(default_factory=list)  # master order ids given an exit action now

    @property
    def acted(self) -> bool:
        return self.stopped or bool(self.exited)


def follower_open_trades_exit(*, follower_pk: int, source: str) -> list[str]:
    """Exit each of the follower's open copied trades that has no exit action for it yet; returns the master
    order ids given one now (idempotent: running it again exits only entries that appeared since)."""
    master_order_ids = sorted(
        set(
            selectors.open_copied_trades(follower_pks=[follower_pk]).values_list("master_order_id", flat=True)
        )
    )
    exited = []
    for master_order_id in master_order_ids:
        already = OrderAction.objects.filter(
            trade_event__dedupe_key=f"{TradeEvent.EventType.EXIT}:{master_order_id}",
            mapping__follower_id=follower_pk,
        ).exists()
        if already:
            continue
        if trade_exit_follower(master_order_id=master_order_id, follower_pk=follower_pk, source=source):
            exited.append(master_order_id)
    return exited


def follower_liquidate(*, follower_pk: int, reason: str) -> LiquidationResult:
    """Stop copy trading for the follower and exit its open copied trades; an AuditEvent when it acted."""
    result = LiquidationResult()
    with transaction.atomic():
        follower = Account.objects.select_for_update().get(pk=follower_pk)
        if follower.copy_trading_active:
            account_copy_trading_set(
                account=follower, active=False, actor=AUTO_LIQUIDATE_ACTOR, stopped_by=AUTO_LIQUIDATE_ACTOR
            )
            result.stopped = True
    result.exited = follower_open_trades_exit(follower_pk=follower_pk, source=TradeEvent.Source.RISK)
    if result.acted:
        audit_record(
            actor=AUTO_LIQUIDATE_ACTOR,
            action="follower.auto_liquidated",
            target=follower.account_id,
            details={
                "reason": reason,
                "stopped": result.stopped,
                "exited_master_orders": result.exited,
            },
        )
        liquidation_notify(follower=follower, reason=reason, stopped=result.stopped, exited=result.exited)
        logger.warning(
            "[RISK] follower %s auto-liquidated: %s; copy trading %s; exiting %s",
            follower.account_id,
            reason,
            "stopped" if result.stopped else "already stopped",
            result.exited or "nothing",
        )
    return result
