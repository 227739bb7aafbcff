"""The issue 11 rules together on the simulator: a follower order above the freeze quantity keeps the price
guard's MARKET and the after-market flag on every slice."""

from __future__ import annotations

from decimal import Decimal

import pytest
import time_machine

from accounts.models import MasterSettings
from replication.models import OrderMapping
from tests.integration.replication.conftest import settled, wait_for
from tests.integration.replication.test_copy_window import A_TUESDAY, _master, at
from tests.integration.replication.test_slicing import OPTION, _entries, _nifty

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _settings(**fields) -> None:
    MasterSettings.objects.update_or_create(
        pk=MasterSettings.SINGLETON_ID, defaults={"max_quantity_per_trade": 100_000, **fields}
    )


def _guarded_doubler(make_follower):
    """A 2x follower (caps not binding) whose price guard of 5% sends a stale LIMIT as MARKET."""
    return make_follower(
        lot_multiplier=Decimal("2"),
        max_quantity=100_000,
        price_guard_percent=Decimal("5"),
        price_guard_action="MARKET",
    )


def test_a_stale_limit_sent_as_market_is_market_on_every_slice(api, sim, worker, make_follower):
    # given the option's last price 100, a master LIMIT at 80 (20% away) and a 2x follower whose 2,700 is
    # above the freeze quantity of 1,800, guarded at 5% with action MARKET
    _settings()
    _master(sim)
    sim.set_price("NFO", OPTION, "100")
    follower = _guarded_doubler(make_follower)
    # when
    response = api.post(
        "/api/trades/replicate", {"trade": _nifty("M-MIX-1", order_type="LIMIT", price="80")}, format="json"
    )
    assert response.status_code == 200, response.content
    assert wait_for(lambda: settled("M-MIX-1"), timeout=15)
    # then both slices went as MARKET, none at the stale limit price
    orders = sim.orders(follower.client_id)
    assert [(o["orderType"], o["quantity"]) for o in orders] == [("MARKET", 1800), ("MARKET", 900)]
    assert [(m.order_type, m.price) for m in _entries(follower)] == [("MARKET", None), ("MARKET", None)]


def test_an_after_market_entry_above_the_freeze_quantity_is_amo_on_every_slice(
    api, sim, worker, make_follower
):
    with time_machine.travel(at(A_TUESDAY, "20:00"), tick=True):
        # given after-market orders allowed, after the close, a 2x follower above the freeze quantity
        _settings(enforce_copy_window=True, allow_amo=True)
        follower = make_follower(lot_multiplier=Decimal("2"), max_quantity=100_000)
        # when
        response = api.post("/api/trades/replicate", {"trade": _nifty("M-MIX-2")}, format="json")
        assert response.status_code == 200, response.content
        assert wait_for(lambda: settled("M-MIX-2"), timeout=15)
        # then both slices are after-market orders
        orders = sim.orders(follower.client_id)
        assert [(o["complexity"], o["quantity"]) for o in orders] == [("AMO", 1800), ("AMO", 900)]
        assert [m.amo for m in _entries(follower)] == [True, True]
        assert OrderMapping.objects.filter(master_order_id="M-MIX-2").count() == 2


def test_a_slice_a_modify_adds_to_an_after_market_copy_is_an_after_market_order(
    api, sim, worker, make_follower
):
    with time_machine.travel(at(A_TUESDAY, "20:00"), tick=True):
        # given an after-market copy of 900 (one order, pending for the next session)
        _settings(enforce_copy_window=True, allow_amo=True)
        follower = make_follower(lot_multiplier=Decimal("2"), max_quantity=100_000)
        api.post("/api/trades/replicate", {"trade": _nifty("M-MIX-3", quantity=450)}, format="json")
        assert wait_for(lambda: settled("M-MIX-3"), timeout=15)
        # when the master raises its quantity to 1,350 (the follower's 2,700: 1,800 + a new slice of 900)
        api.post(
            "/api/trades/modify",
            {"masterOrderId": "M-MIX-3", "modification": {"quantity": 1350}},
            format="json",
        )
        assert wait_for(lambda: settled("M-MIX-3") and len(sim.orders(follower.client_id)) == 2, timeout=15)
        # then the new slice is an after-market order too, like the copy it extends
        orders = sim.orders(follower.client_id)
        assert wait_for(lambda: [o["quantity"] for o in sim.orders(follower.client_id)] == [1800, 900])
        assert [o["complexity"] for o in orders] == ["AMO", "AMO"]
        assert [m.amo for m in _entries(follower)] == [True, True]


def test_a_master_price_change_is_not_sent_to_a_copy_the_price_guard_sent_as_market(
    api, sim, worker, make_follower
):
    with time_machine.travel(at(A_TUESDAY, "20:00"), tick=True):
        # given after the close, a stale master LIMIT sent to a guarded follower as two MARKET after-market
        # slices (open until the next session)
        _settings(enforce_copy_window=True, allow_amo=True)
        _master(sim)
        sim.set_price("NFO", OPTION, "100")
        follower = _guarded_doubler(make_follower)
        api.post(
            "/api/trades/replicate",
            {"trade": _nifty("M-MIX-4", order_type="LIMIT", price="80")},
            format="json",
        )
        assert wait_for(lambda: settled("M-MIX-4"), timeout=15)
        before = sim.orders(follower.client_id)
        # when the master moves its LIMIT price
        response = api.post(
            "/api/trades/modify",
            {"masterOrderId": "M-MIX-4", "modification": {"price": "85"}},
            format="json",
        )
        assert response.status_code == 200, response.content
        # then nothing is sent to the MARKET copies, the answer says the price is not mirrored, and the
        # rows keep no price
        (result,) = response.json()["results"]
        assert result["status"] == "SKIPPED", result
        assert "MARKET" in result["reason"], result
        assert sim.orders(follower.client_id) == before
        assert [(m.order_type, m.price) for m in _entries(follower)] == [("MARKET", None), ("MARKET", None)]


def test_a_slice_added_as_the_master_order_is_exited_is_never_sent(api, sim, worker, make_follower):
    # given a 2x follower's two open LIMIT slices, then the master exits (both slices cancelled)
    from django.db import transaction

    from replication.services.order_state import leg_mapping_create

    _settings()
    follower = make_follower(lot_multiplier=Decimal("2"), max_quantity=100_000)
    api.post(
        "/api/trades/replicate",
        {"trade": _nifty("M-MIX-5", order_type="LIMIT", price="150")},
        format="json",
    )
    assert wait_for(lambda: settled("M-MIX-5"))
    assert api.post("/api/trades/exit", {"masterOrderId": "M-MIX-5"}, format="json").status_code == 200
    assert wait_for(lambda: settled("M-MIX-5"))
    sent = len(sim.orders(follower.client_id))
    # when a modify that raced the exit (it checked for the exit before the exit committed) adds a slice
    last = _entries(follower)[-1]
    with transaction.atomic():
        added = leg_mapping_create(
            trade_event=last.trade_event,
            master_order_id="M-MIX-5",
            like=last,
            leg=OrderMapping.Leg.ENTRY,
            side=last.side,
            quantity=900,
            order_type="LIMIT",
            price=last.price,
            slice_no=2,
            slice_count=3,
        )
    # then the slice is never sent: the master order it would add to is exited
    assert wait_for(lambda: OrderMapping.objects.get(pk=added.pk).status != OrderMapping.Status.PENDING)
    added.refresh_from_db()
    assert added.status == OrderMapping.Status.CANCELLED, added.reason
    assert added.attempts == 0
    assert len(sim.orders(follower.client_id)) == sent


def test_a_modify_rescales_a_sliced_copy_with_its_per_symbol_multiplier(api, sim, worker, make_follower):
    # given a 1x follower with NIFTY at 2x: its 2,700 of a 1,350 master LIMIT rests as 1,800 + 900
    _settings()
    follower = make_follower(max_quantity=100_000, symbol_multipliers={"NIFTY": "2"})
    api.post(
        "/api/trades/replicate",
        {"trade": _nifty("M-MIX-6", order_type="LIMIT", price="150")},
        format="json",
    )
    assert wait_for(lambda: settled("M-MIX-6"))
    # when the master raises its quantity to 1,800 (the follower's 3,600 at 2x, not 1,800 at 1x)
    response = api.post(
        "/api/trades/modify",
        {"masterOrderId": "M-MIX-6", "modification": {"quantity": 1800}},
        format="json",
    )
    assert response.status_code == 200, response.content
    # then both slices carry the freeze quantity, nothing else is sent
    assert wait_for(lambda: [o["quantity"] for o in sim.orders(follower.client_id)] == [1800, 1800])
    assert [m.quantity for m in _entries(follower)] == [1800, 1800]
