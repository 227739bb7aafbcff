"""Replicate and copy-selected end to end: API -> fan-out -> real Celery worker -> simulator ledger."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import Account
from replication.models import OrderMapping, TradeEvent
from replication.services.sweeper import order_mappings_sync_now
from tests.integration.replication.conftest import settled, trade, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_replicate_places_one_tagged_order_per_follower_with_the_scaled_quantity(
    api, sim, worker, make_follower
):
    # given
    half = make_follower("TEST-USER-1", lot_multiplier=Decimal("0.5"))
    full = make_follower("TEST-USER-2")
    # when
    response = api.post("/api/trades/replicate", {"trade": trade(product_type="CNC")}, format="json")
    # then the seed's answer
    body = response.json()
    assert response.status_code == 200, body
    assert body["ok"] is True
    assert body["message"] == "Trade replicated successfully"
    assert body["master_order_id"] == "M-TEST-001"
    assert body["summary"] == {"total_followers": 2, "successful": 2, "failed": 0, "skipped": 0, "pending": 0}
    results = {r["follower_id"]: r for r in body["results"]}
    assert results["TEST-USER-1"]["status"] == "SUCCESS"
    assert results["TEST-USER-1"]["executed_quantity"] == 50
    assert results["TEST-USER-2"]["executed_quantity"] == 100
    # and the simulator received exactly those orders, tagged and with the product
    for account, quantity in ((half, 50), (full, 100)):
        mapping = OrderMapping.objects.get(follower=account)
        (order,) = sim.orders(account.client_id)
        assert (
            order["orderId"] == mapping.follower_order_id == results[account.account_id]["follower_order_id"]
        )
        assert order["quantity"] == quantity
        assert order["product"] == "LONGTERM"  # the open-api name of CNC
        assert order["side"] == "BUY"
        assert order["tradingSymbol"] == "SBIN-EQ"
        assert order["orderTag"] == mapping.order_tag
        assert len(mapping.order_tag) <= 20
    event = TradeEvent.objects.get(event_id=body["eventId"])
    assert (event.total_followers, event.successful_followers) == (2, 2)


def test_seed_example_sbin_not_allowed_is_skipped_and_nothing_is_sent(api, sim, worker, make_follower):
    # given
    make_follower("trader1@example.com")
    skipped = make_follower("trader2@example.com", allowed_instruments=["RELIANCE"])
    # when
    body = api.post(
        "/api/trades/copy-selected",
        {"trade": trade(), "follower_ids": ["trader1@example.com", "trader2@example.com"]},
        format="json",
    ).json()
    # then
    assert body["message"] == "Trade copied successfully"
    assert body["summary"] == {"total_followers": 2, "successful": 1, "failed": 0, "skipped": 1, "pending": 0}
    result = next(r for r in body["results"] if r["follower_id"] == "trader2@example.com")
    assert result["status"] == "SKIPPED"
    assert result["reason"] == "Symbol SBIN not in allowed instruments"
    assert sim.orders(skipped.client_id) == []


def test_copy_selected_only_places_for_the_selected(api, sim, worker, make_follower):
    # given
    chosen = make_follower()
    other = make_follower()
    # when
    body = api.post(
        "/api/trades/copy-selected", {"trade": trade(), "follower_ids": [chosen.account_id]}, format="json"
    ).json()
    # then
    (result,) = body["results"]
    assert (result["follower_id"], result["status"]) == (chosen.account_id, "SUCCESS"), body
    assert len(sim.orders(chosen.client_id)) == 1
    assert sim.orders(other.client_id) == []
    assert not OrderMapping.objects.filter(follower=other).exists()


def test_copy_selected_with_an_unknown_follower_is_404_and_writes_nothing(api, sim, worker, make_follower):
    # given
    chosen = make_follower()
    # when one selected id is not a follower
    response = api.post(
        "/api/trades/copy-selected",
        {"trade": trade(), "follower_ids": [chosen.account_id, "NOBODY", "NO-ONE-ELSE"]},
        format="json",
    )
    # then nothing is copied, not even to the known follower, and the answer names the unknown ids
    body = response.json()
    assert response.status_code == 404, body
    assert body["ok"] is False
    assert body["code"] == "follower_not_found"
    assert body["message"] == "Unknown followers: NOBODY, NO-ONE-ELSE"
    assert body["extra"] == {"follower_ids": ["NOBODY", "NO-ONE-ELSE"]}
    assert not TradeEvent.objects.exists()
    assert not OrderMapping.objects.exists()
    assert sim.orders(chosen.client_id) == []


def test_copy_selected_to_an_inactive_follower_skips_it_with_the_reason(api, sim, worker, make_follower):
    # given a follower the operator deactivated
    chosen = make_follower()
    chosen.status = Account.Status.INACTIVE
    chosen.save(update_fields=["status"])
    # when
    body = api.post(
        "/api/trades/copy-selected", {"trade": trade(), "follower_ids": [chosen.account_id]}, format="json"
    ).json()
    # then
    (result,) = body["results"]
    assert (result["status"], result["reason"]) == ("SKIPPED", "Follower not found or not active"), body
    assert body["summary"] == {"total_followers": 1, "successful": 0, "failed": 0, "skipped": 1, "pending": 0}
    assert sim.orders(chosen.client_id) == []
    event = TradeEvent.objects.get()
    assert event.status == TradeEvent.Status.WARNING


def test_replay_returns_the_existing_results_and_places_nothing_new(api, sim, worker, make_follower):
    # given a replicated trade
    follower = make_follower()
    first = api.post("/api/trades/replicate", {"trade": trade()}, format="json").json()
    # when the same master order id comes again (replicate and copy-selected)
    again = api.post("/api/trades/replicate", {"trade": trade()}, format="json").json()
    selected = api.post(
        "/api/trades/copy-selected", {"trade": trade(), "follower_ids": [follower.account_id]}, format="json"
    ).json()
    # then
    assert again["eventId"] == first["eventId"] == selected["eventId"]
    assert again["results"][0]["follower_order_id"] == first["results"][0]["follower_order_id"]
    assert len(sim.orders(follower.client_id)) == 1
    assert OrderMapping.objects.count() == 1


def test_replay_with_other_details_or_after_an_exit_is_refused(api, sim, worker, make_follower):
    # given a replicated trade
    follower = make_follower()
    api.post("/api/trades/replicate", {"trade": trade()}, format="json")
    late = make_follower()
    # when the same id comes with another quantity
    changed = api.post("/api/trades/replicate", {"trade": trade(quantity=500)}, format="json")
    # then it is refused, naming the difference, and nothing is placed for anyone
    assert changed.status_code == 409
    assert "quantity 100 != 500" in changed.json()["message"]
    assert sim.orders(late.client_id) == []
    # and after the master order was exited, even an identical replay is refused
    api.post("/api/trades/exit", {"masterOrderId": "M-TEST-001"}, format="json")
    after_exit = api.post("/api/trades/replicate", {"trade": trade()}, format="json")
    assert after_exit.status_code == 409
    assert sim.orders(late.client_id) == []
    assert [o["side"] for o in sim.orders(follower.client_id)].count("BUY") == 1


def test_replay_places_for_a_follower_added_since(api, sim, worker, make_follower):
    # given
    early = make_follower()
    api.post("/api/trades/replicate", {"trade": trade()}, format="json")
    late = make_follower()
    # when
    body = api.post("/api/trades/replicate", {"trade": trade()}, format="json").json()
    # then
    assert body["summary"]["successful"] == 2
    assert len(sim.orders(early.client_id)) == 1
    assert len(sim.orders(late.client_id)) == 1


def test_rule_skips_stopped_unconsented_and_paper_followers(api, sim, worker, make_follower):
    # given
    stopped = make_follower()
    Account.objects.filter(pk=stopped.pk).update(copy_trading_active=False)
    no_consent = make_follower(consent=False)
    no_session = make_follower(session=False)
    paper = make_follower(paper=True)
    # when
    body = api.post("/api/trades/replicate", {"trade": trade()}, format="json").json()
    # then
    reasons = {r["follower_id"]: (r["status"], r.get("reason")) for r in body["results"]}
    assert reasons[stopped.account_id] == ("SKIPPED", "Copy trading disabled for this follower")
    assert reasons[no_consent.account_id] == ("SKIPPED", "Follower has not given consent")
    assert reasons[no_session.account_id] == ("SKIPPED", "No broker session for this follower")
    assert reasons[paper.account_id] == ("SKIPPED", "Paper account: order logged, not sent")
    assert sim.orders() == []


def test_limit_order_stays_open_then_status_sync_records_the_real_fills(api, sim, worker, make_follower):
    # given a LIMIT order below the market: accepted, open
    follower = make_follower()
    body = api.post(
        "/api/trades/replicate", {"trade": trade(order_type="LIMIT", price="500")}, format="json"
    ).json()
    order_id = body["results"][0]["follower_order_id"]
    mapping = OrderMapping.objects.get(follower=follower)
    assert mapping.status == OrderMapping.Status.ACTIVE
    # when the exchange fills 40, then the rest
    sim.fill(order_id, quantity=40, price="500")
    order_mappings_sync_now(mapping_ids=[mapping.pk])
    mapping.refresh_from_db()
    # then
    assert (mapping.status, mapping.executed_quantity) == (OrderMapping.Status.PARTIAL, 40)
    sim.fill(order_id, quantity=60, price="499")
    order_mappings_sync_now(mapping_ids=[mapping.pk])
    mapping.refresh_from_db()
    assert (mapping.status, mapping.executed_quantity) == (OrderMapping.Status.COMPLETED, 100)
    assert mapping.average_price == Decimal("499.4")


def test_market_order_syncs_to_completed_with_the_filled_quantity(api, sim, worker, make_follower):
    # given
    follower = make_follower(lot_multiplier=Decimal("0.5"))
    api.post("/api/trades/replicate", {"trade": trade()}, format="json")
    mapping = OrderMapping.objects.get(follower=follower)
    # when the beat task's per-follower sync runs
    from replication.tasks import order_status_sync_task

    order_status_sync_task.delay()
    # then
    assert wait_for(lambda: OrderMapping.objects.get(pk=mapping.pk).status == OrderMapping.Status.COMPLETED)
    mapping.refresh_from_db()
    assert mapping.executed_quantity == 50
    assert mapping.average_price
    assert mapping.average_price > 0
    assert settled("M-TEST-001")
