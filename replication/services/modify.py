"""Modify sync (DESIGN 5.4): a master modification (price, trigger, quantity re-scaled per follower, order
type) applied to every follower order that is not final, as a TradeEvent with one action per follower."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction

from accounts.selectors import account_broker_client, master_settings_get
from broker.exceptions import BrokerRejectedError
from broker.types import ModifyRequest, OrderType, ProductType, Side
from replication import risk, selectors, states
from replication.models import MasterTrade, OrderAction, OrderMapping, TradeEvent
from replication.services.action_events import (
    action_end,
    actions_create,
    event_like,
    mirrors_or_404,
    wait_in_flight,
)
from replication.services.capital import sizing_capitals
from replication.services.closes import close_leg_modified_quantity
from replication.services.order_state import Outcome, mapping_transition

logger = logging.getLogger(__name__)

Status = states.MappingStatus
ActionStatus = states.ActionStatus


@dataclass(frozen=True)
class Modification:
    """A validated master modification; None leaves the value as it is."""

    price: Decimal | None = None
    trigger_price: Decimal | None = None
    quantity: int | None = None
    order_type: str | None = None

    def as_params(self) -> dict[str, Any]:
        return {
            k: (str(v) if isinstance(v, Decimal) else v) for k, v in self.__dict__.items() if v is not None
        }


def trade_modify(
    *, master_order_id: str, modification: Modification, source: str = TradeEvent.Source.API
) -> TradeEvent:
    """Apply a master modification to every follower order mirroring it that is not yet final; quantity
    re-scaled per follower: an entry from the part that opens a position, a close as the same share of what
    the follower held (a reversal's new quantity splits into its close part first, then its entry part)."""
    entries = mirrors_or_404(master_order_id)
    place = entries[0].trade_event
    captured = MasterTrade.objects.filter(broker_order_id=master_order_id).only("close_quantity").first()
    close_part = captured.close_quantity if captured is not None else 0
    logger.info(
        "[MODIFY] Processing modification for master order: %s %s", master_order_id, modification.as_params()
    )
    master_settings = master_settings_get()
    limits = selectors.limits_from(master_settings)
    details = place.details or {}
    lot_size = int(details.get("lot_size") or 1)
    underlying = str(details.get("underlying") or place.symbol)
    open_entries = [e for e in entries if e.status in (*states.IN_FLIGHT, *states.OPEN_AT_BROKER)]
    sized = [e for e in open_entries if e.leg != OrderMapping.Leg.CLOSE]
    followers = list({e.follower_id: e.follower for e in sized}.values())
    rules = {f.pk: selectors.follower_rules(account=f, master_settings=master_settings) for f in followers}
    # Capital sizing re-scales with today's capitals, as the entry was sized (read before the transaction).
    capitals = (
        sizing_capitals(followers=followers, rules=rules, limits=limits) if modification.quantity else None
    )
    if capitals is not None:
        rules = capitals.rules

    def params_for(entry: OrderMapping) -> dict[str, Any]:
        params = modification.as_params()
        if modification.quantity is None:
            return params
        if entry.leg == OrderMapping.Leg.CLOSE:
            master_close = min(modification.quantity, close_part) if close_part else modification.quantity
            params["quantity"] = close_leg_modified_quantity(entry, master_close=master_close)
            return params
        params["quantity"] = risk.scale_modified_quantity(
            master_quantity=max(modification.quantity - close_part, 0),
            rules=rules[entry.follower_id],
            limits=limits,
            lot_size=lot_size,
            trading_symbol=place.trading_symbol or place.symbol,
            underlying=underlying,
            master_capital=capitals.master_capital if capitals is not None else None,
        )
        return params

    def skip_reason_for(entry: OrderMapping) -> str:
        if modification.quantity is None or params_for(entry)["quantity"]:
            return ""
        if entry.leg != OrderMapping.Leg.CLOSE and rules[entry.follower_id].sizing_mode == risk.CAPITAL:
            unknown = risk.capital_unknown_reason(
                rules=rules[entry.follower_id],
                master_capital=capitals.master_capital if capitals is not None else None,
            )
            return (
                unknown
                or f"Quantity becomes 0 after capital sizing for modified quantity {modification.quantity}"
            )
        return f"Quantity becomes 0 after multiplier for modified quantity {modification.quantity}"

    with transaction.atomic():
        event = event_like(
            place,
            event_type=TradeEvent.EventType.MODIFY,
            dedupe=False,
            source=source,
            details={"modification": modification.as_params()},
        )
        actions_create(
            event=event,
            kind=OrderAction.Kind.MODIFY,
            entries=open_entries,
            params_for=params_for,
            skip_reason_for=skip_reason_for,
        )
    return event


def modify_run(action: OrderAction, entry: OrderMapping) -> Outcome:
    """Run a MODIFY action: rewrite a never-sent entry locally, else modify the order at the broker."""
    params = action.params
    fields: dict[str, Any] = {}
    if "quantity" in params:
        fields["quantity"] = int(params["quantity"])
    for name in ("price", "trigger_price"):
        if name in params:
            fields[name] = Decimal(params[name])
    if "order_type" in params:
        fields["order_type"] = params["order_type"]
    # Only a never-sent entry (PENDING, attempts 0) may be rewritten locally. One waiting for a retry may be
    # at the broker already (its retry looks the tag up first): wait for it like any in-flight entry, then
    # modify the order at the broker.
    if (
        entry.status == Status.PENDING
        and entry.attempts == 0
        and mapping_transition(entry, from_statuses=(Status.PENDING,), where={"attempts": 0}, **fields)
    ):
        return action_end(action, ActionStatus.DONE, "Order modification applied before placement")
    entry.refresh_from_db()
    if entry.status in states.IN_FLIGHT:
        return wait_in_flight(action, entry)
    if entry.status not in states.OPEN_AT_BROKER or not entry.follower_order_id:
        return action_end(
            action, ActionStatus.SKIPPED, f"Order already {entry.status.lower()} or no order ID"
        )
    order_type = fields.get("order_type", entry.order_type)
    change = ModifyRequest(
        order_id=entry.follower_order_id,
        exchange=entry.exchange,
        token=entry.token,
        trading_symbol=entry.trading_symbol or entry.symbol,
        side=Side(entry.side),
        quantity=fields.get("quantity", entry.quantity),
        product=ProductType(entry.product_type),
        order_type=OrderType(order_type),
        price=fields.get("price", entry.price) if order_type in ("LIMIT", "SL") else None,
        trigger_price=fields.get("trigger_price", entry.trigger_price)
        if order_type in ("SL", "SLM")
        else None,
    )
    logger.info(
        "[MODIFY] Modifying order %s for follower %s: %s",
        entry.follower_order_id,
        entry.follower.account_id,
        params,
    )
    client = account_broker_client(account=entry.follower)
    try:
        client.modify_order(change)
    except BrokerRejectedError as exc:
        return action_end(action, ActionStatus.FAILED, f"Alice Blue API error: {exc.reason}")
    mapping_transition(entry, from_statuses=states.BOOK_STATES, **fields)
    return action_end(action, ActionStatus.DONE, "Order modified")
