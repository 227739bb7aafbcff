"""The fan-out and a placement batch make the same number of queries for 2 followers as for 6: per-follower
work is done in memory, never one query per follower (a deferred field read later would add one)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from replication.models import OrderMapping
from replication.services.placement_batch import order_mappings_place_batch
from tests.factories.replication import OrderMappingFactory, TradeEventFactory
from tests.integration.replication.conftest import settled, trade, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _copy_selected_queries(api, trade_id: str, followers) -> int:
    body = {"trade": trade(trade_id), "follower_ids": [f.account_id for f in followers]}
    with CaptureQueriesContext(connection) as queries:
        response = api.post("/api/trades/copy-selected?wait=0", body, format="json")
    assert response.status_code == 200, response.json()
    assert wait_for(lambda: settled(trade_id), timeout=15)
    return len(queries)


def test_the_fan_out_makes_the_same_queries_for_more_followers(api, sim, worker, make_follower):
    # given six followers
    followers = [make_follower() for _ in range(6)]
    _copy_selected_queries(api, "M-QC-WARM", followers[:2])
    # when a trade is copied to two of them, then another to all six
    two = _copy_selected_queries(api, "M-QC-2", followers[:2])
    six = _copy_selected_queries(api, "M-QC-6", followers)
    # then
    assert six == two
    active = OrderMapping.objects.filter(master_order_id="M-QC-6", status=OrderMapping.Status.ACTIVE)
    assert active.count() == 6


def _batch_queries(followers, master_order_id: str) -> int:
    event = TradeEventFactory(master_order_id=master_order_id)
    ids = [OrderMappingFactory(trade_event=event, follower=f, quantity=10).pk for f in followers]
    with CaptureQueriesContext(connection) as queries:
        outcome = order_mappings_place_batch(mapping_ids=ids)
    assert set(outcome.statuses.values()) == {OrderMapping.Status.ACTIVE}
    return len(queries)


def test_a_placement_batch_makes_the_same_queries_for_more_rows(sim, engine, make_follower):
    # given six followers
    followers = [make_follower() for _ in range(6)]
    _batch_queries(followers[:2], "M-QB-WARM")
    # when a batch of two rows is placed, then one of six
    two = _batch_queries(followers[:2], "M-QB-2")
    six = _batch_queries(followers, "M-QB-6")
    # then
    assert six == two
    for follower in followers:
        assert len(sim.orders(follower.client_id)) == 3 if follower in followers[:2] else 1
