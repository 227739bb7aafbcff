"""Position-aware exits (DESIGN 5.5): a master order that reduces the master's position closes the same
fraction of what each follower holds from copies of this master.

Capture records the close as a CLOSE TradeEvent with one CLOSE action per follower holding the instrument, in
the same transaction as the master trade (so a crash loses nothing: the sweeper runs a lost action again).
Each action is run by a task: it waits for the follower's orders in flight in that instrument, reads the
follower's order book (fills are what the position is made of), and then, under the master trade's row lock
(so a master cancel and this run cannot cross), decides the follower's share and writes one CLOSE-leg mapping:
unique per master order and follower, placed by the placement task like any order. Closes are never blocked by
entry rules.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction

from accounts.models import Account
from accounts.selectors import account_broker_client
from broker.instruments import Instrument
from broker.types import OrderType, Side
from replication import closing, risk, selectors, states
from replication.models import MasterTrade, OrderAction, OrderMapping, TradeEvent
from replication.services.action_events import action_end, actions_create, wait_in_flight
from replication.services.events import trade_event_refresh_totals
from replication.services.order_state import Outcome, leg_mapping_create, order_mapping_apply_order

logger = logging.getLogger(__name__)

Status = states.MappingStatus
ActionStatus = states.ActionStatus
OPEN_MASTER_STATUSES = selectors.MASTER_OPEN_STATUSES


def close_event_create(*, trade: MasterTrade, instrument: Instrument, source: str) -> TradeEvent:
    """The CLOSE event of a master trade (once: deduplicated) and a CLOSE action for every follower holding
    the instrument from copies; call inside the ingest transaction."""
    key = f"CLOSE:{trade.broker_order_id}"
    event = TradeEvent.objects.filter(dedupe_key=key).first()
    if event is not None:
        return event
    event = TradeEvent.objects.create(
        dedupe_key=key,
        master_order_id=trade.broker_order_id,
        event_type=TradeEvent.EventType.CLOSE,
        source=source,
        symbol=trade.symbol,
        trading_symbol=instrument.trading_symbol,
        token=instrument.token,
        exchange=trade.exchange,
        side=trade.side,
        quantity=trade.close_quantity,
        price=trade.price,
        trigger_price=trade.trigger_price,
        product_type=trade.product_type,
        order_type=trade.order_type,
        details={
            "lot_size": instrument.lot_size,
            "master_trade": trade.pk,
            "position_before": trade.position_before,
            "close_quantity": trade.close_quantity,
        },
    )
    anchors = selectors.followers_holding_instrument(
        exchange=trade.exchange, trading_symbol=instrument.trading_symbol, product_type=trade.product_type
    )
    entries = list(OrderMapping.objects.filter(pk__in=anchors.values()).select_related("follower"))
    actions_create(
        event=event,
        kind=OrderAction.Kind.CLOSE,
        entries=entries,
        params_for=lambda entry: {},
        skip_reason_for=lambda entry: "",
    )
    trade_event_refresh_totals(event=event)
    logger.info(
        "[CLOSE] master order %s closes %s of %s %s %s: %d followers hold it",
        trade.broker_order_id,
        trade.close_quantity,
        abs(trade.position_before),
        trade.trading_symbol,
        trade.product_type,
        len(entries),
    )
    return event


def _instrument_orders(anchor: OrderMapping) -> Any:
    return selectors.follower_instrument_mappings(
        follower_pk=anchor.follower_id,
        exchange=anchor.exchange,
        trading_symbol=anchor.trading_symbol,
        product_type=anchor.product_type,
    )


def _follower_book_read(anchor: OrderMapping) -> None:
    """Bring the follower's open orders in the instrument up to date from its order book (one read)."""
    open_rows = list(
        _instrument_orders(anchor).filter(status__in=states.OPEN_AT_BROKER).select_related("follower")
    )
    if not open_rows:
        return
    book = account_broker_client(account=anchor.follower).order_book()
    by_id = {order.order_id: order for order in book}
    by_tag = {order.tag: order for order in book if order.tag}
    for mapping in open_rows:
        order = by_id.get(mapping.follower_order_id) or by_tag.get(mapping.order_tag)
        if order is not None:
            order_mapping_apply_order(mapping=mapping, order=order, from_statuses=states.OPEN_AT_BROKER)


def master_close_now(trade: MasterTrade) -> int:
    """How much of its close part the master order closes, as it stands: all of it while open, what filled
    once it is final (a cancelled or rejected close closes only what filled before)."""
    if trade.status in OPEN_MASTER_STATUSES or not trade.status:
        return trade.close_quantity
    return min(trade.filled_quantity, trade.close_quantity)


def close_run(action: OrderAction, anchor: OrderMapping) -> Outcome:
    """Run one follower's CLOSE action: wait for its orders in flight, read its book, place its share."""
    # The position before this master order: its own orders (a reversal's entry part) are not part of it.
    event = action.trade_event
    master_order_id = event.master_order_id
    in_flight = (
        _instrument_orders(anchor)
        .filter(status__in=states.IN_FLIGHT)
        .exclude(master_order_id=master_order_id)
        .exclude(leg=OrderMapping.Leg.ENTRY, trade_event_id__gt=action.trade_event_id)
        .select_related("follower")
        .first()
    )
    if in_flight is not None:
        return wait_in_flight(action, in_flight)
    _follower_book_read(anchor)
    details = event.details or {}
    with transaction.atomic():
        trade = (
            MasterTrade.objects.select_for_update().filter(pk=int(details.get("master_trade") or 0)).first()
        )
        if trade is None:
            return action_end(action, ActionStatus.FAILED, "The master trade of this close is gone")
        master_close = master_close_now(trade)
        master_position = abs(int(details.get("position_before") or 0))
        if master_close <= 0:
            return action_end(
                action, ActionStatus.SKIPPED, f"Master close order {trade.status.lower()} before it filled"
            )
        # Closes and exits of one follower decide one at a time, each seeing the orders of the one before.
        Account.objects.select_for_update().filter(pk=anchor.follower_id).first()
        holding = selectors.follower_holding(
            follower_pk=anchor.follower_id,
            exchange=anchor.exchange,
            trading_symbol=anchor.trading_symbol,
            product_type=anchor.product_type,
            before=event,
        )
        held = holding.available
        closing_long = trade.side == Side.SELL.value
        if held == 0 or (held > 0) != closing_long:
            return action_end(action, ActionStatus.SKIPPED, "No position held from copies of this master")
        quantity = closing.close_share(
            held=abs(held),
            master_close=master_close,
            master_position=master_position,
            lot_size=int(details.get("lot_size") or 1),
        )
        if quantity <= 0:
            return action_end(
                action,
                ActionStatus.SKIPPED,
                f"Share of the close rounds to 0 lots (holds {abs(held)}, master closes "
                f"{master_close} of {master_position})",
            )
        params = {"held": abs(held), "master_close": master_close, "master_position": master_position}
        OrderAction.objects.filter(pk=action.pk).update(params=params)
        created = _close_leg_create(event=event, anchor=anchor, trade=trade, quantity=quantity)
        text = f"Closing {quantity} of {abs(held)} held" + (
            "" if created else " (close order exists already)"
        )
        return action_end(action, ActionStatus.DONE, text)


def _close_leg_create(*, event: TradeEvent, anchor: OrderMapping, trade: MasterTrade, quantity: int) -> bool:
    """The CLOSE-leg mappings: the master close order's type and prices while it is open (so its modify and
    cancel carry over), a market order once the master's close has executed; one per slice when the share
    is above the freeze quantity (all in one transaction: all or none)."""
    leg = OrderMapping.Leg.CLOSE
    mirror = trade.status in OPEN_MASTER_STATUSES
    order_type = trade.order_type if mirror else OrderType.MARKET.value
    freeze, lot_size = selectors.mapping_freeze_quantity(mapping=anchor)
    slices = risk.slice_quantities(quantity, freeze, lot_size) or [quantity]
    try:
        with transaction.atomic():
            mappings = [
                leg_mapping_create(
                    trade_event=event,
                    master_order_id=trade.broker_order_id,
                    like=anchor,
                    leg=leg,
                    side=trade.side,
                    quantity=part,
                    order_type=order_type,
                    price=trade.price,
                    trigger_price=trade.trigger_price,
                    slice_no=index,
                    slice_count=len(slices),
                )
                for index, part in enumerate(slices)
            ]
    except IntegrityError:
        logger.info(
            "[CLOSE] close leg of %s for follower %s exists", trade.broker_order_id, anchor.follower_id
        )
        return False
    for mapping in mappings:
        logger.info(
            "[CLOSE] mapping %s: %s %s %s %s for follower %s (tag %s)",
            mapping.pk,
            mapping.side,
            mapping.quantity,
            mapping.trading_symbol,
            order_type,
            anchor.follower.account_id,
            mapping.order_tag,
        )
    return True


def close_leg_modified_quantity(leg: OrderMapping, *, master_close: int) -> int:
    """A CLOSE leg's quantity after the master changed its close order's quantity: the same share of what the
    follower held when the close was decided."""
    action = (
        OrderAction.objects.filter(
            trade_event=leg.trade_event_id, kind=OrderAction.Kind.CLOSE, mapping__follower_id=leg.follower_id
        )
        .only("params")
        .first()
    )
    params = (action.params if action else None) or {}
    held = int(params.get("held") or leg.quantity)
    position = int(params.get("master_position") or 0)
    if not position:
        return leg.quantity
    lot_size = int((leg.trade_event.details or {}).get("lot_size") or 1)
    return closing.close_share(
        held=held, master_close=min(master_close, position), master_position=position, lot_size=lot_size
    )
