"""Master capture end to end, once through the order-update stream (its own process) and once through the poll
(the beat task on a real worker): the master trades at the simulator, the followers' orders appear there.

Copy, modify, cancel, rejection, partial fill, partial close (proportional), full close (flat) and reversal.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import MasterSettings
from replication.models import MasterTrade, OrderMapping, TradeEvent
from tests.integration.replication.capture.conftest import (
    MASTER_USER,
    net_position,
    sim_orders,
    stream_connected,
    wait_for,
    wait_orders,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

MODES = ["stream", "poll"]


@pytest.fixture(params=MODES)
def capture(request, sim, master, make_follower):
    """Capture running in one mode, with two followers (multiplier 1 and 0.5); yields (mode, followers)."""
    followers = [make_follower(lot_multiplier=Decimal("1")), make_follower(lot_multiplier=Decimal("0.5"))]
    if request.param == "stream":
        request.getfixturevalue("stream_process")()
        assert wait_for(lambda: stream_connected(sim, master), timeout=20), "the stream did not connect"
    else:
        request.getfixturevalue("poller")()
    return request.param, followers


def _place(sim, **fields) -> str:
    fields.setdefault("exchange", "NSE")
    fields.setdefault("symbol", "SBIN")
    return sim.place_as_user(MASTER_USER, **fields)["orderId"]


def _trade(order_id: str) -> MasterTrade:
    assert wait_for(lambda: MasterTrade.objects.filter(broker_order_id=order_id).exists(), timeout=15)
    return MasterTrade.objects.get(broker_order_id=order_id)


def test_master_order_is_copied_to_every_follower(capture, sim, api):
    mode, (f1, f2) = capture
    # when the master buys 100 at the market
    order_id = _place(sim, side="BUY", quantity=100)
    # then each follower gets one order, scaled, tagged, filled
    (o1,) = wait_orders(sim, f1, 1)
    (o2,) = wait_orders(sim, f2, 1)
    assert (o1["side"], o1["quantity"], o2["quantity"]) == ("BUY", 100, 50)
    assert o1["orderTag"].startswith("CT")
    trade = _trade(order_id)
    assert (trade.state, trade.kind, trade.source) == ("COPIED", "ENTRY", mode.upper())
    assert trade.order_time is not None
    assert abs((timezone.now() - trade.order_time).total_seconds()) < 60
    event = TradeEvent.objects.get(dedupe_key=f"PLACE:{order_id}")
    assert event.source == mode.upper()
    # and the queue shows it
    body = api.get("/api/alice/incoming").json()
    row = next(t for t in body["trades"] if t["id"] == order_id)
    assert (row["state"], row["side"], row["quantity"], row["account"]) == ("COPIED", "BUY", 100, "MASTER-1")


def test_master_modify_is_applied_to_the_open_copies(capture, sim):
    _mode, (f1, f2) = capture
    order_id = _place(sim, side="BUY", quantity=100, order_type="LIMIT", price="400")
    wait_orders(sim, f1, 1)
    wait_orders(sim, f2, 1)
    # when the master changes price and quantity
    sim.modify_as_user(order_id, quantity=60, price="401.5")
    # then the followers' open orders follow (quantity re-scaled)
    assert wait_for(lambda: sim_orders(sim, f1)[0]["price"] in ("401.50", "401.5"), timeout=15), sim_orders(
        sim, f1
    )
    assert wait_for(lambda: sim_orders(sim, f2)[0]["quantity"] == 30, timeout=15), sim_orders(sim, f2)
    assert sim_orders(sim, f1)[0]["quantity"] == 60
    assert len(sim_orders(sim, f1)) == 1  # modified in place, nothing new placed


def test_master_cancel_cancels_the_open_copies(capture, sim):
    _mode, (f1, f2) = capture
    order_id = _place(sim, side="BUY", quantity=100, order_type="LIMIT", price="400")
    wait_orders(sim, f1, 1)
    wait_orders(sim, f2, 1)
    # when
    sim.cancel(order_id)
    # then
    for follower in (f1, f2):
        assert wait_for(lambda f=follower: sim_orders(sim, f)[0]["status"] == "CANCELLED", timeout=15)
    assert _trade(order_id).status == "CANCELLED"


def test_master_order_rejected_cancels_the_copies_still_open(capture, sim):
    _mode, (f1, _f2) = capture
    order_id = _place(sim, side="BUY", quantity=100, order_type="LIMIT", price="400")
    wait_orders(sim, f1, 1)
    # when the exchange rejects the master's order after accepting it
    sim.reject(order_id, "RMS: margin exceeds")
    # then
    assert wait_for(lambda: sim_orders(sim, f1)[0]["status"] == "CANCELLED", timeout=15)
    trade = _trade(order_id)
    assert (trade.status, trade.rejection_reason) == ("REJECTED", "RMS: margin exceeds")


def test_master_partial_fill_is_recorded(capture, sim):
    _mode, (f1, _f2) = capture
    order_id = _place(sim, side="BUY", quantity=100, order_type="LIMIT", price="400")
    wait_orders(sim, f1, 1)
    # when 40 of the master's 100 fill
    sim.fill(order_id, quantity=40, price="400")
    # then
    assert wait_for(
        lambda: MasterTrade.objects.filter(broker_order_id=order_id, filled_quantity=40).exists(), timeout=15
    )
    trade = _trade(order_id)
    assert trade.average_price == Decimal("400")
    assert trade.status == "OPEN"
    assert len(sim_orders(sim, f1)) == 1  # a fill copies nothing new


def test_master_partial_close_closes_the_same_fraction(capture, sim):
    _mode, (f1, f2) = capture
    _place(sim, side="BUY", quantity=100)
    wait_orders(sim, f1, 1)
    wait_orders(sim, f2, 1)
    assert wait_for(lambda: net_position(sim, f1) == 100 and net_position(sim, f2) == 50)
    # when the master sells 40 of its 100
    close_id = _place(sim, side="SELL", quantity=40)
    # then each follower sells 40% of what it holds
    assert wait_for(lambda: net_position(sim, f1) == 60 and net_position(sim, f2) == 30, timeout=20), (
        net_position(sim, f1),
        net_position(sim, f2),
    )
    trade = _trade(close_id)
    assert (trade.kind, trade.position_before, trade.close_quantity) == ("CLOSE", 100, 40)
    legs = OrderMapping.objects.filter(master_order_id=close_id, leg=OrderMapping.Leg.CLOSE)
    assert sorted(leg.quantity for leg in legs) == [20, 40]
    assert not OrderMapping.objects.filter(master_order_id=close_id, leg=OrderMapping.Leg.ENTRY).exists()


def test_master_full_close_flattens_every_follower(capture, sim):
    _mode, (f1, f2) = capture
    _place(sim, side="BUY", quantity=100)
    assert wait_for(lambda: net_position(sim, f1) == 100 and net_position(sim, f2) == 50, timeout=20)
    # when the master scales out in two steps
    _place(sim, side="SELL", quantity=30)
    assert wait_for(lambda: net_position(sim, f1) == 70 and net_position(sim, f2) == 35, timeout=20)
    _place(sim, side="SELL", quantity=70)
    # then everyone is flat
    assert wait_for(lambda: net_position(sim, f1) == 0 and net_position(sim, f2) == 0, timeout=20), (
        net_position(sim, f1),
        net_position(sim, f2),
    )


def test_master_reversal_closes_then_opens_the_other_way(capture, sim):
    _mode, (f1, f2) = capture
    _place(sim, side="BUY", quantity=100)
    assert wait_for(lambda: net_position(sim, f1) == 100 and net_position(sim, f2) == 50, timeout=20)
    # when the master sells 200 while long 100
    reversal_id = _place(sim, side="SELL", quantity=200)
    # then each follower closes what it held and opens its own short of 100 x multiplier
    assert wait_for(lambda: net_position(sim, f1) == -100 and net_position(sim, f2) == -50, timeout=20), (
        net_position(sim, f1),
        net_position(sim, f2),
    )
    trade = _trade(reversal_id)
    assert (trade.kind, trade.close_quantity, trade.entry_quantity) == ("REVERSAL", 100, 100)


def test_captured_orders_meet_the_followers_instrument_rules_by_plain_symbol(
    sim, master, make_follower, poller
):
    # given followers allowed only some instruments, as an operator writes them ("SBIN", not "SBIN-EQ")
    sbin_only = make_follower(allowed_instruments=["SBIN"])
    infy_only = make_follower(allowed_instruments=["INFY"])
    poller()
    # when the master buys SBIN
    order_id = _place(sim, side="BUY", quantity=10)
    # then the SBIN follower gets it, the other is skipped with the seed's wording
    (order,) = wait_orders(sim, sbin_only, 1)
    assert order["quantity"] == 10
    skipped = OrderMapping.objects.get(master_order_id=order_id, follower=infy_only)
    assert (skipped.status, skipped.reason) == ("SKIPPED", "Symbol SBIN not in allowed instruments")
    assert _trade(order_id).symbol == "SBIN"


def test_an_open_master_close_is_mirrored_then_modified_and_cancelled(capture, sim):
    _mode, (f1, f2) = capture
    _place(sim, side="BUY", quantity=100)
    assert wait_for(lambda: net_position(sim, f1) == 100 and net_position(sim, f2) == 50, timeout=20)
    # when the master offers half its position at a limit above the market
    close_id = _place(sim, side="SELL", quantity=50, order_type="LIMIT", price="900")
    # then each follower offers half of what it holds, at the same limit
    assert wait_for(lambda: len(sim_orders(sim, f1)) == 2 and len(sim_orders(sim, f2)) == 2, timeout=20)
    offer1, offer2 = sim_orders(sim, f1)[1], sim_orders(sim, f2)[1]
    assert (offer1["side"], offer1["quantity"], offer1["orderType"], offer1["status"]) == (
        "SELL",
        50,
        "LIMIT",
        "OPEN",
    )
    assert offer2["quantity"] == 25
    # when the master moves its price, then cancels
    sim.modify_as_user(close_id, price="905")
    assert wait_for(lambda: sim_orders(sim, f1)[1]["price"] in ("905.00", "905"), timeout=15), sim_orders(
        sim, f1
    )
    sim.cancel(close_id)
    # then the followers' offers are cancelled and their positions untouched
    for follower in (f1, f2):
        assert wait_for(lambda f=follower: sim_orders(sim, f)[1]["status"] == "CANCELLED", timeout=15)
    assert (net_position(sim, f1), net_position(sim, f2)) == (100, 50)


def test_a_trade_closed_by_the_master_no_longer_counts_as_open(sim, master, make_follower, poller):
    # given at most one open copied trade per follower
    MasterSettings.objects.filter(pk=MasterSettings.SINGLETON_ID).update(max_concurrent_trades=1)
    follower = make_follower()
    poller()
    _place(sim, side="BUY", quantity=10)
    assert wait_for(lambda: net_position(sim, follower) == 10, timeout=20)
    # when the master closes it, then opens again
    _place(sim, side="SELL", quantity=10)
    assert wait_for(lambda: net_position(sim, follower) == 0, timeout=20)
    again = _place(sim, side="BUY", quantity=10)
    # then the follower copies the new trade: the first one is closed
    assert wait_for(lambda: net_position(sim, follower) == 10, timeout=20), OrderMapping.objects.filter(
        master_order_id=again
    ).values_list("status", "reason")
    # and a second trade while that one is open is refused by the rule
    held = _place(sim, symbol="INFY", side="BUY", quantity=5)
    assert wait_for(lambda: OrderMapping.objects.filter(master_order_id=held).exists(), timeout=20)
    assert OrderMapping.objects.get(master_order_id=held).reason == "Max concurrent trades reached: 1"


def test_a_master_close_above_the_freeze_quantity_closes_each_follower_in_slices(
    sim, master, make_follower, poller
):
    # given a 2x follower holding 2,700 NIFTY options (two entry slices: freeze quantity 1,800)
    MasterSettings.objects.update_or_create(pk=1, defaults={"max_quantity_per_trade": 100_000})
    follower = make_follower(lot_multiplier=Decimal("2"), max_quantity=100_000)
    poller()
    option = {"exchange": "NFO", "symbol": "NIFTY26NOV26000CE", "product": "NRML"}
    _place(sim, side="BUY", quantity=1350, **option)
    assert wait_for(lambda: net_position(sim, follower, "NIFTY26NOV26000CE") == 2700, timeout=20)
    # when the master closes its 1,350
    close_id = _place(sim, side="SELL", quantity=1350, **option)
    # then the follower is flat, closed by two CLOSE slices of at most the freeze quantity, each sent once
    assert wait_for(lambda: net_position(sim, follower, "NIFTY26NOV26000CE") == 0, timeout=20)
    legs = list(
        OrderMapping.objects.filter(master_order_id=close_id, leg=OrderMapping.Leg.CLOSE).order_by("slice_no")
    )
    assert [(leg.slice_no, leg.slice_count, leg.quantity) for leg in legs] == [(0, 2, 1800), (1, 2, 900)]
    sells = [o for o in sim_orders(sim, follower) if o["side"] == "SELL"]
    assert sorted(o["orderTag"] for o in sells) == sorted(leg.order_tag for leg in legs)
