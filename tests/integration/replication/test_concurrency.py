"""Concurrent replicate calls of the same trade: exactly one order per follower (MariaDB: real row locks)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection as default_connection
from django.db import connections
from rest_framework.test import APIClient

from replication.models import OrderMapping, TradeEvent
from tests.integration.replication.conftest import QA_SECRET, requires_mysql, settled, trade, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.mysql,
    requires_mysql,
    pytest.mark.django_db(transaction=True),
]


def test_ten_concurrent_replicates_place_exactly_one_order_per_follower(api, sim, worker, make_follower):
    # given
    followers = [make_follower() for _ in range(5)]
    assert default_connection.vendor == "mysql"

    def call(_n: int) -> dict:
        try:
            client = APIClient(headers={"x-qa-secret": QA_SECRET})
            response = client.post("/api/trades/replicate", {"trade": trade("M-RACE-1")}, format="json")
            assert response.status_code == 200, response.content
            return response.json()
        finally:
            connections.close_all()

    # when
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(call, range(10)))
    # then one event, one mapping and one simulator order per follower
    assert wait_for(lambda: settled("M-RACE-1"), timeout=15)
    assert len({a["eventId"] for a in answers}) == 1
    assert TradeEvent.objects.count() == 1
    assert OrderMapping.objects.count() == 5
    for follower in followers:
        orders = sim.orders(follower.client_id)
        assert len(orders) == 1, orders
        assert orders[0]["orderTag"] == OrderMapping.objects.get(follower=follower).order_tag
    for answer in answers:
        assert answer["summary"]["total_followers"] == 5
        assert answer["summary"]["failed"] == 0


def test_duplicate_place_tasks_send_one_order(api, sim, worker, make_follower):
    # given a mapping whose placement task is enqueued many times (redelivery, sweeper, double enqueue)
    from replication.tasks import order_mapping_place_task

    follower = make_follower()
    api.post("/api/trades/replicate", {"trade": trade("M-RACE-2")}, format="json")
    mapping = OrderMapping.objects.get(follower=follower)
    OrderMapping.objects.filter(pk=mapping.pk).update(status=OrderMapping.Status.PENDING, attempts=0)
    sim.reset()
    sim.create_account(follower.client_id)
    from accounts.models import BrokerCredential

    BrokerCredential.objects.filter(account=follower).delete()
    BrokerCredential.objects.create(
        account=follower, access_token=sim.issue_session(follower.client_id), session_status="VALID"
    )
    # when
    for _ in range(10):
        order_mapping_place_task.delay(mapping.pk)
    # then
    assert wait_for(lambda: settled("M-RACE-2"), timeout=15)
    assert len(sim.orders(follower.client_id)) == 1
    assert OrderMapping.objects.get(pk=mapping.pk).attempts == 1


def test_concurrent_replicates_of_a_sliced_trade_send_each_slice_once(api, sim, worker, make_follower):
    # given two 2x followers whose 2,700 of a NIFTY option goes as two slices (freeze quantity 1,800)
    from decimal import Decimal

    from accounts.models import MasterSettings

    MasterSettings.objects.update_or_create(
        pk=MasterSettings.SINGLETON_ID, defaults={"max_quantity_per_trade": 100_000}
    )
    followers = [make_follower(lot_multiplier=Decimal("2"), max_quantity=100_000) for _ in range(2)]
    sliced = trade("M-RACE-3", symbol="NIFTY26NOV26000CE", exchange="NFO", quantity=1350, product_type="NRML")

    def call(_n: int) -> dict:
        try:
            client = APIClient(headers={"x-qa-secret": QA_SECRET})
            response = client.post("/api/trades/replicate", {"trade": sliced}, format="json")
            assert response.status_code == 200, response.content
            return response.json()
        finally:
            connections.close_all()

    # when
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(call, range(6)))
    # then two slices per follower, each sent once with its own tag, and one result per follower everywhere
    assert wait_for(lambda: settled("M-RACE-3"), timeout=20)
    assert OrderMapping.objects.count() == 4
    for follower in followers:
        orders = sim.orders(follower.client_id)
        assert sorted(o["quantity"] for o in orders) == [900, 1800], orders
        tags = set(OrderMapping.objects.filter(follower=follower).values_list("order_tag", flat=True))
        assert {o["orderTag"] for o in orders} == tags
    for answer in answers:
        assert answer["summary"]["total_followers"] == 2
        assert [r["slices"] for r in answer["results"]] == [2, 2]
