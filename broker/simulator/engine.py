"""The order lifecycle: place, fill (fully or partly), reject, cancel, modify, price-cross fills, P&L."""

from __future__ import annotations

from decimal import Decimal

from broker.simulator import notify_shapes as notify
from broker.simulator.contract_master import Instrument
from broker.simulator.order_validation import OrderIntent
from broker.simulator.state import Fill, HistoryEntry, PositionState, SimOrder, SimState

FINAL_STATUSES = frozenset({"COMPLETE", "REJECTED", "CANCELLED"})


class EngineError(Exception):
    """A control or lifecycle request that the order's state does not allow."""


def _record(state: SimState, order: SimOrder, status: str) -> None:
    order.status = status
    order.updated_at = state.clock.now()
    order.history.append(
        HistoryEntry(
            status=status,
            filled_quantity=order.filled_quantity,
            average_price=order.average_price,
            time=order.updated_at,
            rejection_reason=order.rejection_reason,
        )
    )


def _publish(state: SimState, order: SimOrder, report_type: str, fill: Fill | None = None) -> None:
    """Tell the account's order-notify sockets and webhooks about this event of `order`."""
    if not state.notify.wants(order.user_id):
        return
    account = state.account(order.user_id)
    if account is None:
        return
    frame = notify.order_frame(
        order, account, report_type=report_type, moment=order.updated_at or state.clock.now(), fill=fill
    )
    state.notify.publish(
        order.user_id,
        frame,
        notify.webhook_payload(frame),
        delay_ms=state.config.order_notify_delay_ms,
        webhook_timeout=state.config.webhook_timeout_seconds,
    )


def tick_violation(price: Decimal, tick: Decimal) -> bool:
    """True when a non-zero price is not a multiple of the tick size."""
    return bool(price) and price % tick != 0


def order_place(state: SimState, *, user_id: str, flavor: str, intent: OrderIntent) -> SimOrder:
    """Accept an order into the book and run its immediate lifecycle (market fill, tick rejection, IOC)."""
    now = state.clock.now()
    order = SimOrder(
        order_id=state.next_order_id(),
        user_id=user_id,
        flavor=flavor,
        instrument=intent.instrument,
        side=intent.side,
        quantity=intent.quantity,
        product=intent.product,
        product_class=intent.product_class,
        order_type=intent.order_type,
        price=intent.price,
        trigger_price=intent.trigger_price,
        validity=intent.validity,
        complexity=intent.complexity,
        disclosed_quantity=intent.disclosed_quantity,
        tag=intent.tag,
        algo_id=intent.algo_id,
        placed_at=now,
        day=now.date(),
    )
    state.orders[order.order_id] = order
    _record(state, order, "PENDING")
    tick = intent.instrument.tick_size
    if tick_violation(order.price, tick) or tick_violation(order.trigger_price, tick):
        # The OMS took the order (PENDING), then its RMS check refused it, as Alice Blue reports it.
        _publish(state, order, notify.NEW)
        bad = order.price if tick_violation(order.price, tick) else order.trigger_price
        order.rejection_reason = f"ORA:Price {bad:.2f} is not a multiple of tick size {tick:.2f} "
        _record(state, order, "REJECTED")
        _publish(state, order, notify.REJECTED)
        return order
    order.exchange_order_id = str(next(state.exchange_sequence))
    _record(state, order, "TRIGGER_PENDING" if order.order_type in {"SL", "SLM"} else "OPEN")
    _publish(state, order, notify.NEW)
    if order.complexity == "AMO":
        return order
    last = state.last_price(order.instrument)
    fills_now = order.order_type == "LIMIT" and (
        state.config.marketable_limit_fill or order.validity == "IOC"
    )
    if order.order_type == "MARKET" or (fills_now and _crosses(order, last)):
        order_fill(state, order, quantity=order.quantity, price=last)
    if order.validity == "IOC" and order.is_open:
        order_cancel(state, order)
    return order


def _crosses(order: SimOrder, last: Decimal) -> bool:
    if order.side == "BUY":
        return last <= order.price
    return last >= order.price


def _triggered(order: SimOrder, last: Decimal) -> bool:
    if order.side == "BUY":
        return last >= order.trigger_price
    return last <= order.trigger_price


def default_fill_price(state: SimState, order: SimOrder) -> Decimal:
    """The order's limit price, or the last price for market and stop-market orders."""
    if order.order_type in {"LIMIT", "SL"} and order.price:
        return order.price
    return state.last_price(order.instrument)


def order_fill(state: SimState, order: SimOrder, *, quantity: int, price: Decimal) -> Fill:
    """Execute `quantity` (capped at the pending quantity) at `price`: one trade row, position updated."""
    if not order.is_open:
        raise EngineError(f"order {order.order_id} is {order.status}")
    quantity = min(quantity, order.pending_quantity)
    if quantity <= 0:
        raise EngineError("fill quantity must be positive")
    fill = Fill(
        trade_id=str(next(state.trade_sequence)),
        order_id=order.order_id,
        quantity=quantity,
        price=price,
        time=state.clock.now(),
    )
    order.fills.append(fill)
    order.filled_quantity += quantity
    order.filled_value += price * quantity
    _record(state, order, "COMPLETE" if order.filled_quantity >= order.quantity else "OPEN")
    position_apply_fill(state, order, quantity=quantity, price=price)
    _publish(state, order, notify.FILL, fill)
    return fill


def order_reject(state: SimState, order: SimOrder, *, reason: str) -> None:
    """Reject an open order after its acceptance (RMS/exchange rejection)."""
    if not order.is_open:
        raise EngineError(f"order {order.order_id} is {order.status}")
    order.rejection_reason = reason
    _record(state, order, "REJECTED")
    _publish(state, order, notify.REJECTED)


def order_cancel(state: SimState, order: SimOrder) -> None:
    """Cancel the unfilled remainder of an open order."""
    if not order.is_open:
        raise EngineError(f"order {order.order_id} is {order.status}")
    order.cancelled_quantity = order.quantity - order.filled_quantity
    _record(state, order, "CANCELLED")
    _publish(state, order, notify.CANCELED)


def order_modify(state: SimState, order: SimOrder, *, intent: OrderIntent) -> None:
    """Replace quantity, type, prices and validity of an open order, then re-run its fill checks."""
    if not order.is_open:
        raise EngineError(f"order {order.order_id} is {order.status}")
    if intent.quantity <= order.filled_quantity:
        raise EngineError("quantity below the filled quantity")
    order.quantity = intent.quantity
    order.order_type = intent.order_type
    order.price = intent.price
    order.trigger_price = intent.trigger_price
    order.validity = intent.validity
    order.disclosed_quantity = intent.disclosed_quantity
    stop = order.order_type in {"SL", "SLM"}
    _record(state, order, "TRIGGER_PENDING" if stop and not order.filled_quantity else "OPEN")
    _publish(state, order, notify.REPLACED)
    if order.order_type == "MARKET" and order.complexity != "AMO":
        order_fill(state, order, quantity=order.pending_quantity, price=state.last_price(order.instrument))


def price_set(state: SimState, instrument: Instrument, price: Decimal) -> list[SimOrder]:
    """Set the last price and trigger/fill every resting order it crosses; returns the orders touched."""
    state.prices[(instrument.exchange, instrument.token)] = price
    touched: list[SimOrder] = []
    for order in list(state.orders.values()):
        if order.instrument != instrument or not order.is_open or order.complexity == "AMO":
            continue
        if order.status == "TRIGGER_PENDING":
            if not _triggered(order, price):
                continue
            touched.append(order)
            if order.order_type == "SLM":
                order_fill(state, order, quantity=order.pending_quantity, price=price)
                continue
            _record(state, order, "OPEN")
            _publish(state, order, notify.TRIGGERED)
        if order.order_type in {"LIMIT", "SL"} and _crosses(order, price):
            order_fill(state, order, quantity=order.pending_quantity, price=order.price)
            if order not in touched:
                touched.append(order)
    return touched


def _position_for(state: SimState, order: SimOrder) -> PositionState:
    key = (order.user_id, order.instrument.exchange, order.instrument.token, order.product_class)
    position = state.positions.get(key)
    if position is None:
        position = PositionState(
            user_id=order.user_id, instrument=order.instrument, product_class=order.product_class
        )
        state.positions[key] = position
    return position


def position_apply_fill(state: SimState, order: SimOrder, *, quantity: int, price: Decimal) -> None:
    """Net one fill into the position: average cost on opening, realised P&L on closing."""
    position = _position_for(state, order)
    signed = quantity if order.side == "BUY" else -quantity
    if order.side == "BUY":
        position.day_buy_quantity += quantity
        position.day_buy_value += price * quantity
    else:
        position.day_sell_quantity += quantity
        position.day_sell_value += price * quantity
    net = position.net_quantity
    if net == 0 or (net > 0) == (signed > 0):
        held = abs(net)
        position.net_average = (position.net_average * held + price * quantity) / (held + quantity)
        position.net_quantity = net + signed
        return
    closing = min(abs(net), quantity)
    direction = 1 if net > 0 else -1
    position.realised_pnl += (price - position.net_average) * closing * direction
    position.net_quantity = net + signed
    if position.net_quantity == 0:
        position.net_average = Decimal("0")
    elif quantity > closing:
        position.net_average = price


def unrealised_pnl(state: SimState, position: PositionState) -> Decimal:
    """Mark-to-market of the open quantity against the last price."""
    if not position.net_quantity:
        return Decimal("0")
    last = state.last_price(position.instrument)
    return (last - position.net_average) * position.net_quantity


def utilized_margin(state: SimState, user_id: str) -> Decimal:
    """A rough margin: 20% of intraday exposure, full value otherwise."""
    total = Decimal("0")
    for position in state.user_positions(user_id):
        exposure = abs(position.net_quantity) * position.net_average
        total += exposure * (Decimal("0.2") if position.product_class == "MIS" else Decimal("1"))
    return total.quantize(Decimal("0.01"))


def trading_day_roll(state: SimState) -> None:
    """Expire today's open orders, advance the clock a day, drop sessions and logins, carry positions."""
    for order in state.orders.values():
        if order.is_open:
            order_cancel(state, order)
    state.clock.day_offset += 1
    state.sessions.clear()
    for account in state.accounts.values():
        account.last_enc_key = None
    carried: dict[tuple[str, str, str, str], PositionState] = {}
    for key, position in state.positions.items():
        if not state.config.carry_positions or not position.net_quantity or position.product_class == "MIS":
            continue
        carried[key] = PositionState(
            user_id=position.user_id,
            instrument=position.instrument,
            product_class=position.product_class,
            overnight_quantity=position.net_quantity,
            overnight_price=position.net_average,
            net_quantity=position.net_quantity,
            net_average=position.net_average,
        )
    state.positions = carried
