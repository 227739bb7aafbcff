"""Modify sync (DESIGN 5.4): a master modification (price, trigger, quantity re-scaled per follower, order
type) applied to every follower order that is not final, as a TradeEvent with one action per follower."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

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
from replication.services.order_state import Outcome, leg_mapping_create, mapping_transition

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
    the follower held (a reversal's new quantity splits into its close part first, then its entry part).

    A follower order sent as slices gets its new total spread over its slices (`risk.slices_redistribute`:
    never below what a slice filled, at most the freeze quantity each): an open slice no longer needed is
    cancelled (a CANCEL action of this event), and a total that needs more slices gets new PENDING slices
    (new mappings, placed once each like any order).
    """
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
    open_statuses = (*states.IN_FLIGHT, *states.OPEN_AT_BROKER)
    open_entries = [e for e in entries if e.status in open_statuses]
    sized = [e for e in open_entries if e.leg != OrderMapping.Leg.CLOSE]
    followers = list({e.follower_id: e.follower for e in sized}.values())
    rules = {f.pk: selectors.follower_rules(account=f, master_settings=master_settings) for f in followers}
    # Capital sizing re-scales with today's capitals, as the entry was sized (read before the transaction).
    capitals = (
        sizing_capitals(followers=followers, rules=rules, limits=limits) if modification.quantity else None
    )
    if capitals is not None:
        rules = capitals.rules
    master_capital = capitals.master_capital if capitals is not None else None

    def total_for(entry: OrderMapping) -> int:
        if entry.leg == OrderMapping.Leg.CLOSE:
            master_close = (
                min(modification.quantity or 0, close_part) if close_part else modification.quantity
            )
            return close_leg_modified_quantity(entry, master_close=master_close or 0)
        return risk.scale_modified_quantity(
            master_quantity=max((modification.quantity or 0) - close_part, 0),
            rules=rules[entry.follower_id],
            limits=limits,
            lot_size=lot_size,
            trading_symbol=place.trading_symbol or place.symbol,
            underlying=underlying,
            master_capital=master_capital,
        )

    plan = _quantity_plan(entries, total_for=total_for) if modification.quantity is not None else None

    def params_for(entry: OrderMapping) -> dict[str, Any]:
        params = modification.as_params()
        if plan is not None:
            params["quantity"] = plan.quantities[entry.pk]
        return params

    def skip_reason_for(entry: OrderMapping) -> str:
        if plan is None or plan.totals.get((entry.follower_id, entry.leg), 1):
            return ""
        if entry.leg != OrderMapping.Leg.CLOSE and rules[entry.follower_id].sizing_mode == risk.CAPITAL:
            unknown = risk.capital_unknown_reason(
                rules=rules[entry.follower_id], master_capital=master_capital
            )
            return (
                unknown
                or f"Quantity becomes 0 after capital sizing for modified quantity {modification.quantity}"
            )
        return f"Quantity becomes 0 after multiplier for modified quantity {modification.quantity}"

    cancels = [e for e in open_entries if plan is not None and e.pk in plan.cancels]
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
            entries=[e for e in open_entries if e not in cancels],
            params_for=params_for,
            skip_reason_for=skip_reason_for,
        )
        if cancels:
            actions_create(
                event=event,
                kind=OrderAction.Kind.CANCEL,
                entries=cancels,
                params_for=lambda entry: {},
                skip_reason_for=lambda entry: "",
            )
        closed = TradeEvent.objects.filter(
            dedupe_key__in=[f"{kind}:{master_order_id}" for kind in ("EXIT", "CANCEL")]
        ).exists()
        if plan is not None and not closed:
            _slices_add(plan, modification=modification)
    return event


@dataclass
class _QuantityPlan:
    """A quantity modification per follower order: each slice's new quantity, slices to cancel and add."""

    totals: dict[tuple[int, str], int]
    quantities: dict[int, int]
    cancels: set[int]
    additions: list[tuple[OrderMapping, list[int]]]


def _quantity_plan(entries: list[OrderMapping], *, total_for: Any) -> _QuantityPlan:
    groups: dict[tuple[int, str], list[OrderMapping]] = {}
    for entry in entries:
        groups.setdefault((entry.follower_id, entry.leg), []).append(entry)
    plan = _QuantityPlan(totals={}, quantities={}, cancels=set(), additions=[])
    open_statuses = (*states.IN_FLIGHT, *states.OPEN_AT_BROKER)
    for key, group in groups.items():
        group.sort(key=lambda m: m.slice_no)
        if not any(m.status in open_statuses for m in group):
            continue  # nothing left to modify: a final order is never topped up by new slices
        total = total_for(group[0])
        plan.totals[key] = total
        if not total:
            continue
        freeze, lot = selectors.mapping_freeze_quantity(mapping=group[0])
        fits = len(group) == 1 and (not freeze or total <= freeze)
        if fits:  # one order, still one order: exactly the re-scaled quantity, as before slicing
            plan.quantities[group[0].pk] = total
            continue
        modifiable = [m.status in open_statuses for m in group]
        floors = [m.executed_quantity for m in group]  # a final slice stays at what it filled
        quantities, extra = risk.slices_redistribute(
            total=total, floors=floors, modifiable=modifiable, freeze_quantity=freeze, lot_size=lot
        )
        for mapping, quantity, open_ in zip(group, quantities, modifiable, strict=True):
            if not open_:
                continue
            if quantity == 0:
                plan.cancels.add(mapping.pk)
            plan.quantities[mapping.pk] = quantity
        if extra and all(m.status in (*open_statuses, Status.COMPLETED) for m in group):
            plan.additions.append((group[-1], extra))
        elif extra:
            # A slice was rejected, cancelled or never placed: sending its quantity again as a new slice
            # would repeat what the broker or the operator refused.
            logger.warning(
                "[MODIFY] master %s follower %s %s: %s more not mirrored (a slice is %s)",
                group[0].master_order_id,
                group[0].follower_id,
                group[0].leg,
                sum(extra),
                next(m.status for m in group if m.status not in (*open_statuses, Status.COMPLETED)).lower(),
            )
    return plan


def _slice_create(
    last: OrderMapping, modification: Modification, order_type: str, quantity: int, slice_no: int, count: int
) -> OrderMapping:
    return leg_mapping_create(
        trade_event=last.trade_event,
        master_order_id=last.master_order_id,
        like=last,
        leg=last.leg,
        side=last.side,
        quantity=quantity,
        order_type=order_type,
        price=modification.price if modification.price is not None else last.price,
        trigger_price=(
            modification.trigger_price if modification.trigger_price is not None else last.trigger_price
        ),
        slice_no=slice_no,
        slice_count=count,
        amo=last.amo,  # a slice of an after-market entry is an after-market order too
    )


def _slices_add(plan: _QuantityPlan, *, modification: Modification) -> None:
    """New PENDING slices for follower orders whose new total needs more than their slices carry."""
    for last, quantities in plan.additions:
        order_type = modification.order_type or last.order_type
        count = last.slice_no + 1 + len(quantities)
        for index, quantity in enumerate(quantities):
            try:
                with transaction.atomic():  # a savepoint: a concurrent modify may have added this slice
                    mapping = _slice_create(
                        last, modification, order_type, quantity, last.slice_no + 1 + index, count
                    )
            except IntegrityError:
                logger.info(
                    "[MODIFY] slice %s of master %s follower %s exists already",
                    last.slice_no + 1 + index,
                    last.master_order_id,
                    last.follower_id,
                )
                continue
            logger.info(
                "[MODIFY] mapping %s: new slice %s of %s for follower %s (tag %s)",
                mapping.pk,
                mapping.slice_label,
                quantity,
                last.follower_id,
                mapping.order_tag,
            )
        OrderMapping.objects.filter(
            master_order_id=last.master_order_id, follower_id=last.follower_id, leg=last.leg
        ).update(slice_count=count)


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
    # A price the copy's order type does not carry (the price guard sent a stale LIMIT as MARKET) is not
    # mirrored: never written on the row, never sent.
    copy_type = fields.get("order_type", entry.order_type)
    unpriced = [
        name
        for name, types in (("price", ("LIMIT", "SL")), ("trigger_price", ("SL", "SLM")))
        if name in fields and copy_type not in types
    ]
    for name in unpriced:
        del fields[name]
    not_mirrored = (
        f"{' and '.join(unpriced).replace('_', ' ')} not mirrored: the copy is a {copy_type} order"
        if unpriced
        else ""
    )
    if not_mirrored and not fields:
        return action_end(action, ActionStatus.SKIPPED, not_mirrored[0].upper() + not_mirrored[1:])
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
    return action_end(
        action, ActionStatus.DONE, f"Order modified ({not_mirrored})" if not_mirrored else "Order modified"
    )
