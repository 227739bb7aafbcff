"""Exit (cancel the open part, square off the filled part), modify and cancel sync, on the simulator."""

from __future__ import annotations

from decimal import Decimal

import pytest

from replication.models import OrderAction, OrderMapping
from tests.integration.replication.conftest import trade

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _open_limit_order(api, sim, follower, trade_id="M-EXIT-1", quantity=100, **risk):
    body = api.post(
        "/api/trades/replicate",
        {"trade": trade(trade_id, order_type="LIMIT", price="500", quantity=quantity)},
        format="json",
    ).json()
    result = next(r for r in body["results"] if r["follower_id"] == follower.account_id)
    assert result["status"] == "SUCCESS", body
    return result["follower_order_id"]


def test_exit_of_a_partly_filled_order_cancels_the_rest_and_squares_off_the_filled_part(
    api, sim, worker, make_follower
):
    # given a follower order of 100 with 40 filled
    follower = make_follower()
    order_id = _open_limit_order(api, sim, follower)
    sim.fill(order_id, quantity=40, price="500")
    # when
    response = api.post("/api/trades/exit", {"masterOrderId": "M-EXIT-1"}, format="json")
    # then the seed's shape
    body = response.json()
    assert response.status_code == 200, body
    assert body["message"] == "Exit order processed successfully"
    assert body["masterOrderId"] == "M-EXIT-1"
    assert body["summary"]["total_followers"] == 1
    assert body["summary"]["successful"] == 1
    (result,) = body["results"]
    assert result["status"] == "SUCCESS"
    assert "squaring off 40" in result["reason"]
    # and the simulator: entry cancelled with 40 filled, one SELL of exactly 40, same product, tagged
    entry, exit_order = sim.orders(follower.client_id)
    assert entry["orderId"] == order_id
    assert (entry["status"], entry["filledQuantity"], entry["cancelledQuantity"]) == ("CANCELLED", 40, 60)
    assert (exit_order["side"], exit_order["quantity"], exit_order["product"]) == (
        "SELL",
        40,
        entry["product"],
    )
    exit_leg = OrderMapping.objects.get(follower=follower, leg=OrderMapping.Leg.EXIT)
    assert exit_order["orderTag"] == exit_leg.order_tag
    entry_mapping = OrderMapping.objects.get(follower=follower, leg=OrderMapping.Leg.ENTRY)
    assert (entry_mapping.status, entry_mapping.executed_quantity) == (OrderMapping.Status.CANCELLED, 40)


def test_exit_is_idempotent(api, sim, worker, make_follower):
    # given an exited order
    follower = make_follower()
    api.post("/api/trades/replicate", {"trade": trade("M-EXIT-2")}, format="json")
    first = api.post("/api/trades/exit", {"masterOrderId": "M-EXIT-2"}, format="json").json()
    # when exit comes again
    second = api.post("/api/trades/exit", {"masterOrderId": "M-EXIT-2"}, format="json").json()
    # then nothing new was sent
    assert first["results"][0]["status"] == second["results"][0]["status"] == "SUCCESS"
    orders = sim.orders(follower.client_id)
    assert [o["side"] for o in orders] == ["BUY", "SELL"]
    assert orders[1]["quantity"] == 100
    assert OrderAction.objects.count() == 1


def test_exit_of_an_unfilled_order_only_cancels(api, sim, worker, make_follower):
    # given
    follower = make_follower()
    order_id = _open_limit_order(api, sim, follower, "M-EXIT-3")
    # when
    body = api.post("/api/trades/exit", {"masterOrderId": "M-EXIT-3"}, format="json").json()
    # then
    assert body["results"][0]["status"] == "SUCCESS"
    (entry,) = sim.orders(follower.client_id)
    assert (entry["orderId"], entry["status"]) == (order_id, "CANCELLED")
    assert not OrderMapping.objects.filter(leg=OrderMapping.Leg.EXIT).exists()


def test_exit_is_not_blocked_by_entry_rules(api, sim, worker, make_follower):
    # given a filled order, then the follower is stopped and its rules would refuse SBIN
    follower = make_follower()
    api.post("/api/trades/replicate", {"trade": trade("M-EXIT-4")}, format="json")
    follower.copy_trading_active = False
    follower.save()
    follower.risk_config.allowed_instruments = ["RELIANCE"]
    follower.risk_config.enabled = False
    follower.risk_config.save()
    # when
    body = api.post("/api/trades/exit", {"masterOrderId": "M-EXIT-4"}, format="json").json()
    # then
    assert body["results"][0]["status"] == "SUCCESS"
    assert [o["side"] for o in sim.orders(follower.client_id)] == ["BUY", "SELL"]


def test_exit_skips_followers_that_never_got_an_order(api, sim, worker, make_follower):
    # given
    make_follower(allowed_instruments=["RELIANCE"])
    api.post("/api/trades/replicate", {"trade": trade("M-EXIT-5")}, format="json")
    # when
    body = api.post("/api/trades/exit", {"masterOrderId": "M-EXIT-5"}, format="json").json()
    # then
    assert body["results"][0]["status"] == "SKIPPED"
    assert body["results"][0]["reason"] == "Order already skipped or no order ID"
    assert sim.orders() == []


def test_modify_rescales_the_quantity_and_changes_the_price_of_open_orders(api, sim, worker, make_follower):
    # given a follower at 0.5x with an open LIMIT order of 50
    follower = make_follower(lot_multiplier=Decimal("0.5"))
    order_id = _open_limit_order(api, sim, follower, "M-MOD-1")
    # when the master modifies to 80 @ 505
    response = api.post(
        "/api/trades/modify",
        {"masterOrderId": "M-MOD-1", "modification": {"price": "505", "quantity": 80}},
        format="json",
    )
    # then
    body = response.json()
    assert response.status_code == 200, body
    assert body["message"] == "Order modifications processed"
    assert body["summary"]["total_orders"] == 1
    assert body["summary"]["successful"] == 1
    assert body["results"][0]["follower_order_id"] == order_id
    order = sim.order(order_id)
    assert (order["quantity"], Decimal(order["price"])) == (40, Decimal("505"))
    mapping = OrderMapping.objects.get(follower=follower)
    assert (mapping.quantity, mapping.price) == (40, Decimal("505"))


def test_modify_rejected_by_the_broker_is_failed_with_its_reason(api, sim, worker, make_follower):
    # given
    follower = make_follower()
    _open_limit_order(api, sim, follower, "M-MOD-2")
    # when the new price is not a multiple of the tick size
    body = api.post(
        "/api/trades/modify", {"masterOrderId": "M-MOD-2", "modification": {"price": "500.01"}}, format="json"
    ).json()
    # then
    assert body["results"][0]["status"] == "FAILED"
    assert body["results"][0]["reason"].startswith("Alice Blue API error:")


def test_cancel_sync_cancels_open_follower_orders(api, sim, worker, make_follower):
    # given
    follower = make_follower()
    order_id = _open_limit_order(api, sim, follower, "M-CXL-1")
    # when
    body = api.post("/api/trades/cancel", {"masterOrderId": "M-CXL-1"}, format="json").json()
    # then
    assert body["results"][0]["status"] == "SUCCESS"
    assert sim.order(order_id)["status"] == "CANCELLED"
    assert OrderMapping.objects.get(follower=follower).status == OrderMapping.Status.CANCELLED
