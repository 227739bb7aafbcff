"""Freeze-quantity slicing on the simulator: a follower order above the freeze quantity is sent as slices,
each exactly once with its own tag; an exit closes them all; a modify reaches every open slice."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import MasterSettings
from replication.models import OrderMapping, order_tag_for
from tests.integration.replication.conftest import settled, trade, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# NIFTY options in the simulator's contract master: lot 75, freeze quantity 1,800 (24 lots).
OPTION = "NIFTY26NOV26000CE"


def _nifty(trade_id: str, quantity: int = 1350, **fields) -> dict:
    return trade(trade_id, symbol=OPTION, exchange="NFO", quantity=quantity, product_type="NRML", **fields)


@pytest.fixture
def doubling_follower(make_follower):
    """A 2x follower whose caps do not bind (the defaults, 100 and 1,000, would)."""
    MasterSettings.objects.update_or_create(
        pk=MasterSettings.SINGLETON_ID, defaults={"max_quantity_per_trade": 100_000}
    )
    return make_follower(lot_multiplier=Decimal("2"), max_quantity=100_000)


def _entries(follower) -> list[OrderMapping]:
    return list(
        OrderMapping.objects.filter(follower=follower, leg=OrderMapping.Leg.ENTRY).order_by("slice_no")
    )


def test_a_2x_follower_above_the_freeze_quantity_gets_slices_each_placed_exactly_once(
    api, sim, worker, doubling_follower
):
    # given a master BUY of 1,350 (18 lots): the follower's 2,700 is above the freeze quantity of 1,800
    follower = doubling_follower
    # when
    response = api.post("/api/trades/replicate", {"trade": _nifty("M-SLICE-1")}, format="json")
    # then one result for the follower, successful, with both slices' order ids
    body = response.json()
    assert response.status_code == 200, body
    assert body["summary"]["total_followers"] == 1
    assert body["summary"]["successful"] == 1
    (result,) = body["results"]
    assert result["status"] == "SUCCESS", result
    assert result["slices"] == 2
    assert result["quantity"] == 2700
    assert result["follower_order_id"] == result["follower_order_ids"][0]
    # and the simulator received exactly two orders, 1,800 and 900, each with its slice's own tag
    orders = sim.orders(follower.client_id)
    assert [(o["side"], o["quantity"], o["status"]) for o in orders] == [
        ("BUY", 1800, "COMPLETE"),
        ("BUY", 900, "COMPLETE"),
    ]
    entries = _entries(follower)
    assert [(m.slice_no, m.slice_count, m.quantity) for m in entries] == [(0, 2, 1800), (1, 2, 900)]
    assert [o["orderTag"] for o in orders] == [m.order_tag for m in entries]
    assert entries[0].order_tag == order_tag_for(
        master_order_id="M-SLICE-1", follower_pk=follower.pk, leg="ENTRY"
    )
    assert len({m.order_tag for m in entries}) == 2
    assert [o["orderId"] for o in orders] == result["follower_order_ids"]
    # when the same trade is replicated again
    again = api.post("/api/trades/replicate", {"trade": _nifty("M-SLICE-1")}, format="json").json()
    # then nothing new is sent and no slice is added
    assert again["results"][0]["follower_order_ids"] == result["follower_order_ids"]
    assert len(sim.orders(follower.client_id)) == 2
    assert len(_entries(follower)) == 2


def test_an_exit_closes_every_slice(api, sim, worker, doubling_follower):
    # given a follower holding 2,700 from two slices
    follower = doubling_follower
    api.post("/api/trades/replicate", {"trade": _nifty("M-SLICE-2")}, format="json")
    assert wait_for(lambda: settled("M-SLICE-2"))
    # when the master exits
    response = api.post("/api/trades/exit", {"masterOrderId": "M-SLICE-2"}, format="json")
    # then one result for the follower
    body = response.json()
    assert response.status_code == 200, body
    assert body["summary"]["total_followers"] == 1
    (result,) = body["results"]
    assert result["status"] == "SUCCESS", result
    assert "slice 1/2: Exit order processed: squaring off 1800 filled" in result["reason"], result
    assert "slice 2/2: Exit order processed: squaring off 900 filled" in result["reason"], result
    # and the simulator squared off each slice exactly once, and the follower is flat
    assert wait_for(lambda: settled("M-SLICE-2"))
    sells = [o for o in sim.orders(follower.client_id) if o["side"] == "SELL"]
    assert sorted(o["quantity"] for o in sells) == [900, 1800]
    assert all(o["quantity"] <= 1800 for o in sells)
    exit_tags = set(
        OrderMapping.objects.filter(follower=follower, leg=OrderMapping.Leg.EXIT).values_list(
            "order_tag", flat=True
        )
    )
    assert {o["orderTag"] for o in sells} == exit_tags
    (position,) = [p for p in sim.positions(follower.client_id) if p["tradingSymbol"] == OPTION]
    assert position["netQuantity"] == 0
    # when the exit comes again, nothing new is sent
    api.post("/api/trades/exit", {"masterOrderId": "M-SLICE-2"}, format="json")
    assert len([o for o in sim.orders(follower.client_id) if o["side"] == "SELL"]) == 2


def test_a_modify_changes_every_open_slice(api, sim, worker, doubling_follower):
    # given two open LIMIT slices (1,800 and 900) below the market
    follower = doubling_follower
    api.post(
        "/api/trades/replicate",
        {"trade": _nifty("M-SLICE-3", order_type="LIMIT", price="150")},
        format="json",
    )
    assert wait_for(lambda: settled("M-SLICE-3"))
    # when the master moves its price and raises its quantity to 1,800 (the follower's 3,600)
    response = api.post(
        "/api/trades/modify",
        {"masterOrderId": "M-SLICE-3", "modification": {"price": "151", "quantity": 1800}},
        format="json",
    )
    # then every slice carries the new price, and the new total is spread over the slices
    body = response.json()
    assert response.status_code == 200, body
    assert [r["status"] for r in body["results"]] == ["SUCCESS"], body
    orders = sim.orders(follower.client_id)
    assert [(o["quantity"], o["price"], o["status"]) for o in orders] == [
        (1800, "151.00", "OPEN"),
        (1800, "151.00", "OPEN"),
    ]
    assert [m.quantity for m in _entries(follower)] == [1800, 1800]


def _open_slices(api, trade_id: str) -> None:
    api.post(
        "/api/trades/replicate",
        {"trade": _nifty(trade_id, order_type="LIMIT", price="150")},
        format="json",
    )
    assert wait_for(lambda: settled(trade_id))


def test_a_modify_that_needs_more_slices_places_a_new_slice_once(api, sim, worker, doubling_follower):
    # given two open slices (1,800 and 900) of the follower's 2,700
    follower = doubling_follower
    _open_slices(api, "M-SLICE-4")
    # when the master raises its quantity to 2,250 (the follower's 4,500: 1,800 + 1,800 + 900)
    api.post(
        "/api/trades/modify",
        {"masterOrderId": "M-SLICE-4", "modification": {"quantity": 2250}},
        format="json",
    )
    assert wait_for(lambda: settled("M-SLICE-4") and len(sim.orders(follower.client_id)) == 3)
    # then the second slice grows to the slice size and a third slice carries the rest, each sent once
    assert wait_for(lambda: [o["quantity"] for o in sim.orders(follower.client_id)] == [1800, 1800, 900])
    entries = _entries(follower)
    assert [(m.slice_no, m.slice_count, m.quantity) for m in entries] == [
        (0, 3, 1800),
        (1, 3, 1800),
        (2, 3, 900),
    ]
    assert sim.orders(follower.client_id)[2]["orderTag"] == entries[2].order_tag


def test_a_modify_that_needs_fewer_slices_cancels_the_slice_not_needed(api, sim, worker, doubling_follower):
    # given two open slices (1,800 and 900)
    follower = doubling_follower
    _open_slices(api, "M-SLICE-5")
    # when the master lowers its quantity to 600 (the follower's 1,200: one slice)
    body = api.post(
        "/api/trades/modify", {"masterOrderId": "M-SLICE-5", "modification": {"quantity": 600}}, format="json"
    ).json()
    # then the first slice carries 1,200 and the second is cancelled; one result for the follower
    assert [r["status"] for r in body["results"]] == ["SUCCESS"], body
    orders = sim.orders(follower.client_id)
    assert [(o["quantity"], o["status"]) for o in orders] == [(1200, "OPEN"), (900, "CANCELLED")]


def test_a_modify_never_resends_the_quantity_of_a_rejected_slice(api, sim, worker, doubling_follower):
    # given two open slices, the second rejected by the broker after acceptance (and synced)
    from replication.services.sweeper import follower_orders_sync

    follower = doubling_follower
    _open_slices(api, "M-SLICE-6")
    second = sim.orders(follower.client_id)[1]["orderId"]
    sim.reject(second, "RMS: margin exceeds")
    follower_orders_sync(follower_pk=follower.pk)
    # when the master raises its quantity to 2,250 (the follower's 4,500)
    api.post(
        "/api/trades/modify",
        {"masterOrderId": "M-SLICE-6", "modification": {"quantity": 2250}},
        format="json",
    )
    assert wait_for(lambda: settled("M-SLICE-6"))
    # then the open slice grows to the slice size, and no new slice is sent for the rest
    orders = sim.orders(follower.client_id)
    assert [(o["quantity"], o["status"]) for o in orders] == [(1800, "OPEN"), (900, "REJECTED")]
    assert len(_entries(follower)) == 2


def test_a_modify_after_an_exit_adds_no_slice(api, sim, worker, doubling_follower):
    # given two open slices, exited (both cancelled)
    follower = doubling_follower
    _open_slices(api, "M-SLICE-7")
    api.post("/api/trades/exit", {"masterOrderId": "M-SLICE-7"}, format="json")
    assert wait_for(lambda: settled("M-SLICE-7"))
    # when a late modify raises the quantity
    api.post(
        "/api/trades/modify",
        {"masterOrderId": "M-SLICE-7", "modification": {"quantity": 2250}},
        format="json",
    )
    # then nothing new is sent
    assert [o["status"] for o in sim.orders(follower.client_id)] == ["CANCELLED", "CANCELLED"]
    assert len(_entries(follower)) == 2


def test_the_operators_freeze_quantity_slices_where_the_contract_master_has_none(
    api, sim, worker, make_follower
):
    # given an operator's freeze quantity of 60 for NSE:SBIN (the contract master gives none for equities)
    from replication.models import FreezeQuantity

    FreezeQuantity.objects.create(exchange="NSE", symbol="SBIN", freeze_quantity=60)
    follower = make_follower()
    # when the master buys 100
    body = api.post("/api/trades/replicate", {"trade": trade("M-SLICE-8")}, format="json").json()
    # then the follower's 100 goes as 60 + 40
    (result,) = body["results"]
    assert (result["status"], result["slices"], result["quantity"]) == ("SUCCESS", 2, 100)
    assert [o["quantity"] for o in sim.orders(follower.client_id)] == [60, 40]


def test_an_exit_of_partly_filled_slices_cancels_the_rest_and_squares_off_each_slices_fill(
    api, sim, worker, doubling_follower
):
    # given two open LIMIT slices: the first filled in full (1,800), the second 300 of 900
    follower = doubling_follower
    _open_slices(api, "M-SLICE-9")
    first, second = (o["orderId"] for o in sim.orders(follower.client_id))
    sim.fill(first, quantity=1800, price="150")
    sim.fill(second, quantity=300, price="150")
    # when the master exits
    body = api.post("/api/trades/exit", {"masterOrderId": "M-SLICE-9"}, format="json").json()
    assert wait_for(lambda: settled("M-SLICE-9"))
    # then one result; the open 600 is cancelled and each slice's fill is squared off by its own order
    assert [r["status"] for r in body["results"]] == ["SUCCESS"], body
    orders = sim.orders(follower.client_id)
    assert sim.order(second)["status"] == "CANCELLED"
    sells = sorted(o["quantity"] for o in orders if o["side"] == "SELL")
    assert sells == [300, 1800]
    (position,) = [p for p in sim.positions(follower.client_id) if p["tradingSymbol"] == OPTION]
    assert position["netQuantity"] == 0


def test_a_sliced_trade_counts_as_one_open_trade(api, sim, worker, doubling_follower):
    # given a limit of 2 concurrent trades and one open trade sent as two slices
    follower = doubling_follower
    MasterSettings.objects.filter(pk=MasterSettings.SINGLETON_ID).update(max_concurrent_trades=2)
    api.post("/api/trades/replicate", {"trade": _nifty("M-SLICE-10")}, format="json")
    assert wait_for(lambda: settled("M-SLICE-10"))
    # when a second trade comes
    body = api.post("/api/trades/replicate", {"trade": trade("M-SLICE-11")}, format="json").json()
    # then it is copied: the two slices are one trade, not two
    (result,) = body["results"]
    assert result["status"] == "SUCCESS", result
    assert len(sim.orders(follower.client_id)) == 3


def test_a_cancel_cancels_every_open_slice_with_one_result(api, sim, worker, doubling_follower):
    # given two open slices
    follower = doubling_follower
    _open_slices(api, "M-SLICE-12")
    # when the master cancels
    body = api.post("/api/trades/cancel", {"masterOrderId": "M-SLICE-12"}, format="json").json()
    # then both are cancelled at the broker and the follower has one result, counted once
    assert wait_for(lambda: [o["status"] for o in sim.orders(follower.client_id)] == ["CANCELLED"] * 2)
    (result,) = body["results"]
    assert (result["status"], result["slices"]) == ("SUCCESS", 2), result
    assert body["summary"]["total_followers"] == 1


def test_a_freeze_quantity_below_one_lot_skips_the_follower_with_that_reason(api, sim, worker, make_follower):
    # given a contract the contract master gives no freeze quantity for, and an operator's value below a lot
    from broker.instrument_store import instrument_cache_clear
    from broker.models import Instrument
    from replication.models import FreezeQuantity

    Instrument.objects.create(
        exchange="NFO", token="99001", symbol="FINNIFTY", trading_symbol="FINNIFTY26NOVFUT", lot_size=65
    )
    instrument_cache_clear()
    FreezeQuantity.objects.create(exchange="NFO", symbol="FINNIFTY", freeze_quantity=50)
    follower = make_follower()
    # when
    body = api.post(
        "/api/trades/replicate",
        {
            "trade": trade(
                "M-SLICE-13", symbol="FINNIFTY26NOVFUT", exchange="NFO", quantity=65, product_type="NRML"
            )
        },
        format="json",
    ).json()
    # then nothing is sent and the reason says why
    (result,) = body["results"]
    assert result["status"] == "SKIPPED", result
    assert result["reason"] == "Freeze quantity 50 is below one lot (65): order cannot be sliced"
    assert sim.orders(follower.client_id) == []
