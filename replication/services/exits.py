"""Exit and cancel of the follower orders that mirror a master order (DESIGN 5.3, 5.4).

Exit = cancel what is still open, then square off exactly the filled quantity with an EXIT-leg mapping placed
through the placement task (its own orderTag, unique per master order and follower): running an exit twice
places nothing new. Cancel = cancel what is still open. Both are a deduplicated TradeEvent with one action per
follower (`action_events.py`), run by `order_action_run`.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction

from accounts.models import Account
from accounts.selectors import account_broker_client
from broker.client import AliceBlueClient
from broker.exceptions import BrokerRejectedError
from broker.types import Order, OrderStatus, OrderType, Side
from replication import risk, selectors, states
from replication.models import OrderAction, OrderMapping, TradeEvent
from replication.services.action_events import (
    action_end,
    action_event,
    entries_or_404,
    mirrors_or_404,
    wait_for_entry,
)
from replication.services.order_state import Outcome, leg_mapping_create, order_mapping_apply_order

logger = logging.getLogger(__name__)

Status = states.MappingStatus
ActionStatus = states.ActionStatus


def trade_exit(*, master_order_id: str, source: str = TradeEvent.Source.API) -> TradeEvent:
    """Exit every follower of the master order (cancel open, square off filled); idempotent. Asked again, it
    runs the exit actions that ended FAILED once more (at most one square-off order per follower still)."""
    entries = entries_or_404(master_order_id)
    logger.info("[EXIT] Processing exit for master order: %s", master_order_id)
    return action_event(
        entries=entries, event_type=TradeEvent.EventType.EXIT, kind=OrderAction.Kind.EXIT, source=source
    )


def trade_exit_follower(
    *, master_order_id: str, follower_pk: int, source: str = TradeEvent.Source.RISK
) -> TradeEvent | None:
    """Exit one follower of the master order (auto-liquidation): the same EXIT event and action as a master
    exit, so a later master exit finds this follower's action and does nothing twice. None if not mapped."""
    entries = [e for e in entries_or_404(master_order_id) if e.follower_id == follower_pk]
    if not entries:
        return None
    logger.info("[EXIT] Processing exit of master order %s for follower #%s", master_order_id, follower_pk)
    return action_event(
        entries=entries, event_type=TradeEvent.EventType.EXIT, kind=OrderAction.Kind.EXIT, source=source
    )


def trade_cancel(*, master_order_id: str, source: str = TradeEvent.Source.API) -> TradeEvent:
    """Cancel every follower order mirroring the master order (its copies, and the closes it caused) that is
    still open (master cancel). Asked again, it runs the cancel actions that ended FAILED once more."""
    entries = mirrors_or_404(master_order_id)
    logger.info("[CANCEL] Processing cancel for master order: %s", master_order_id)
    return action_event(
        entries=entries, event_type=TradeEvent.EventType.CANCEL, kind=OrderAction.Kind.CANCEL, source=source
    )


def _find(client: AliceBlueClient, entry: OrderMapping) -> Order | None:
    for order in client.order_book():
        if order.order_id == entry.follower_order_id or (entry.order_tag and order.tag == entry.order_tag):
            return order
    return None


def cancel_or_exit_run(action: OrderAction, entry: OrderMapping) -> Outcome:
    """Run a CANCEL or EXIT action: cancel the open part, then (EXIT) square off the filled part."""
    waiting = wait_for_entry(action, entry)
    if waiting is not None:
        return waiting
    follower = entry.follower
    client = account_broker_client(account=follower)
    order = _find(client, entry)
    if order is None:
        return action_end(
            action, ActionStatus.FAILED, f"Order {entry.follower_order_id} not in today's order book"
        )
    cancelled_now = 0
    # Anything not final may still fill, including a status we do not recognise (OrderStatus.UNKNOWN).
    if not order.status.is_final:
        logger.info("[EXIT-ORDER] Cancelling order %s for follower %s", order.order_id, follower.account_id)
        refused = False
        try:
            client.cancel_order(order.order_id, exchange=entry.exchange, trading_symbol=entry.trading_symbol)
        except BrokerRejectedError as exc:
            refused = True
            logger.info(
                "[EXIT-ORDER] cancel of %s refused (%s); re-reading the order", order.order_id, exc.reason
            )
        order = _find(client, entry) or order
        if refused and order.status is OrderStatus.UNKNOWN:
            # A status we do not recognise whose cancel Alice Blue refuses is not open there: go on with the
            # filled part rather than wait for a change that will not come.
            logger.warning(
                "[EXIT-ORDER] order %s: unrecognised status and cancel refused; treated as closed",
                order.order_id,
            )
        elif not order.status.is_final:
            return action_end(
                action,
                ActionStatus.PENDING,
                "Cancel sent; waiting for the order to close",
                retry_in=settings.REPLICATION_ACTION_WAIT,
            )
        else:
            cancelled_now = max(order.quantity - order.filled_quantity, 0)
            logger.info("[EXIT-ORDER] Successfully cancelled %s", order.order_id)
    order_mapping_apply_order(mapping=entry, order=order, from_statuses=states.BOOK_STATES)
    if action.kind == OrderAction.Kind.CANCEL:
        text = (
            f"Order cancelled ({cancelled_now} open)"
            if cancelled_now
            else f"Order already {entry.status.lower()}"
        )
        return action_end(action, ActionStatus.DONE, text)
    filled = int(order.filled_quantity)
    parts = [f"cancelled {cancelled_now} open"] if cancelled_now else []
    if filled > 0:
        squared = _exit_leg_create(action=action, entry=entry, filled=filled)
        if squared:
            parts.append(f"squaring off {squared} filled")
        else:
            parts.append(f"nothing left to square off of {filled} filled (closed already)")
    return action_end(
        action, ActionStatus.DONE, "Exit order processed" + (f": {', '.join(parts)}" if parts else "")
    )


def _exit_leg_create(*, action: OrderAction, entry: OrderMapping, filled: int) -> int:
    """The EXIT-leg mappings (opposite side, same product, market) for the filled quantity, once; no more than
    the follower still holds in that instrument (the master's closes may have closed part of it already), so
    an exit never reverses a follower. Returns the quantity squared off (0: nothing left to square off).

    Entry slice k of n is squared off by EXIT slice k; a square-off above the freeze quantity (an entry sent
    whole before its freeze quantity was known) by EXIT slices k, k + n, k + 2n, ...: unique per entry slice.
    """
    leg = OrderMapping.Leg.EXIT
    step = max(entry.slice_count, 1)
    freeze, lot_size = selectors.mapping_freeze_quantity(mapping=entry)
    try:
        with transaction.atomic():
            # Closes and exits of one follower decide one at a time, each seeing the orders of the one before.
            Account.objects.select_for_update().filter(pk=entry.follower_id).first()
            existing = OrderMapping.objects.filter(
                master_order_id=entry.master_order_id, follower_id=entry.follower_id, leg=leg
            ).values_list("slice_no", "quantity")
            mine = [
                quantity
                for slice_no, quantity in existing
                if risk.exit_slice_of(exit_slice_no=slice_no, entry_slice_count=step) == entry.slice_no
            ]
            if mine:
                return sum(mine)
            held = selectors.follower_holding(
                follower_pk=entry.follower_id,
                exchange=entry.exchange,
                trading_symbol=entry.trading_symbol,
                product_type=entry.product_type,
            ).available
            same_way = held if entry.side == Side.BUY.value else -held
            quantity = min(filled, max(same_way, 0))
            if quantity <= 0:
                logger.info(
                    "[EXIT] master %s follower %s: %s filled, nothing held any more: no square-off",
                    entry.master_order_id,
                    entry.follower_id,
                    filled,
                )
                return 0
            slices = risk.slice_quantities(quantity, freeze, lot_size) or [quantity]
            mappings = [
                leg_mapping_create(
                    trade_event=action.trade_event,
                    master_order_id=entry.master_order_id,
                    like=entry,
                    leg=leg,
                    side=Side(entry.side).opposite.value,
                    quantity=part,
                    order_type=OrderType.MARKET.value,
                    slice_no=entry.slice_no + index * step,
                    slice_count=entry.slice_count if len(slices) == 1 else step * len(slices),
                )
                for index, part in enumerate(slices)
            ]
    except IntegrityError:
        logger.info(
            "[EXIT] exit leg for master %s follower %s slice %s exists already",
            entry.master_order_id,
            entry.follower_id,
            entry.slice_no,
        )
        return filled
    for mapping in mappings:
        logger.info(
            "[EXIT] mapping %s: square off %s %s %s for follower %s (tag %s)",
            mapping.pk,
            mapping.side,
            mapping.quantity,
            entry.symbol,
            entry.follower.account_id,
            mapping.order_tag,
        )
    return quantity
