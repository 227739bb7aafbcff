"""Batch placement: one claim for many rows, concurrent sends, per-row outcomes, never an order twice."""

from __future__ import annotations

import threading

import pytest

from replication.models import OrderMapping, TradeEvent
from replication.services.placement_batch import order_mappings_place_batch
from tests.factories.replication import OrderMappingFactory, TradeEventFactory
from tests.integration.replication.conftest import requires_mysql, settled, trade, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

Status = OrderMapping.Status


def _pending_mappings(followers, master_order_id: str = "M-BATCH-1") -> list[OrderMapping]:
    event = TradeEventFactory(master_order_id=master_order_id)
    return [OrderMappingFactory(trade_event=event, follower=f, quantity=10) for f in followers]


def test_one_batch_gives_each_follower_its_own_outcome(api, sim, worker, make_follower, settings):
    # given seven followers in one batch: healthy, session expired at the broker, 500 once, paper, refused by
    # the broker, accepted but answered after the read timeout, and accepted with the connection dropped
    settings.REPLICATION_PLACEMENT_BATCH_SIZE = settings.REPLICATION_PLACEMENT_FIRST_BATCH = 10
    healthy, expired, flaky, paper, refused, slow, dropped = (
        make_follower(),
        make_follower(),
        make_follower(),
        make_follower(paper=True),
        make_follower(),
        make_follower(),
        make_follower(),
    )
    sim.add_fault(user_id=expired.client_id, endpoint="placeorder", mode="session_expired")
    sim.add_fault(user_id=flaky.client_id, endpoint="placeorder", mode="http500", count=1)
    sim.add_fault(user_id=refused.client_id, endpoint="placeorder", mode="order_rejected")
    sim.add_fault(
        user_id=slow.client_id, endpoint="placeorder", mode="timeout_after_accept", count=1, hold_seconds=3
    )
    sim.add_fault(user_id=dropped.client_id, endpoint="placeorder", mode="drop_after_accept", count=1)
    # when
    api.post("/api/trades/replicate?wait=0", {"trade": trade("M-MIX-1")}, format="json")
    # then every row ends where its own outcome puts it
    assert wait_for(lambda: settled("M-MIX-1"), timeout=20)
    by_follower = {m.follower_id: m for m in OrderMapping.objects.filter(master_order_id="M-MIX-1")}
    assert (by_follower[healthy.pk].status, by_follower[healthy.pk].attempts) == (Status.ACTIVE, 1)
    assert by_follower[expired.pk].status == Status.FAILED
    assert "Session expired" in by_follower[expired.pk].reason
    assert (by_follower[flaky.pk].status, by_follower[flaky.pk].attempts) == (Status.ACTIVE, 2)
    assert by_follower[paper.pk].status == Status.SKIPPED
    assert by_follower[refused.pk].status == Status.REJECTED
    assert by_follower[refused.pk].reason_code == OrderMapping.ReasonCode.BROKER_REJECTED
    # the two whose answers were lost were found by their tag (filled meanwhile), not sent again
    for lost in (slow, dropped):
        assert (by_follower[lost.pk].status, by_follower[lost.pk].attempts) == (Status.COMPLETED, 1)
        (order,) = sim.orders(lost.client_id)
        assert by_follower[lost.pk].follower_order_id == order["orderId"]
        assert order["orderTag"] == by_follower[lost.pk].order_tag
    # and the broker saw exactly one order from each follower that was sent one, none from the others
    for follower in (healthy, flaky):
        assert len(sim.orders(follower.client_id)) == 1
    for follower in (expired, paper, refused):
        assert sim.orders(follower.client_id) == []
    assert by_follower[healthy.pk].follower_order_id == sim.orders(healthy.client_id)[0]["orderId"]
    assert len(by_follower) == 7


def test_a_redelivered_batch_places_nothing_twice(sim, engine, make_follower):
    # given a batch that has already run
    mappings = _pending_mappings([make_follower() for _ in range(3)])
    ids = [m.pk for m in mappings]
    first = order_mappings_place_batch(mapping_ids=ids)
    # when the same message is delivered again (acks_late after a worker crash)
    second = order_mappings_place_batch(mapping_ids=ids)
    # then
    assert set(first.statuses.values()) == {Status.ACTIVE}
    assert second.statuses == {}
    for mapping in mappings:
        assert len(sim.orders(mapping.follower.client_id)) == 1
        assert OrderMapping.objects.get(pk=mapping.pk).attempts == 1


def test_a_batch_leaves_retries_and_other_states_alone(sim, engine, make_follower):
    # given rows a batch must not send: a retry (its own task looks the tag up first), one in flight,
    # one already placed
    retry, in_flight, placed = _pending_mappings([make_follower() for _ in range(3)])
    OrderMapping.objects.filter(pk=retry.pk).update(attempts=1)
    OrderMapping.objects.filter(pk=in_flight.pk).update(status=Status.SUBMITTING, attempts=1)
    OrderMapping.objects.filter(pk=placed.pk).update(status=Status.ACTIVE, attempts=1, follower_order_id="X1")
    # when
    outcome = order_mappings_place_batch(mapping_ids=[retry.pk, in_flight.pk, placed.pk])
    # then nothing was claimed and nothing sent
    assert outcome.statuses == {}
    for mapping in (retry, in_flight, placed):
        assert sim.orders(mapping.follower.client_id) == []
    assert OrderMapping.objects.get(pk=retry.pk).status == Status.PENDING


@requires_mysql
def test_two_copies_of_a_batch_racing_place_each_order_once(sim, engine, make_follower):
    # given ten followers and the same batch delivered to two workers at once
    mappings = _pending_mappings([make_follower() for _ in range(10)])
    ids = [m.pk for m in mappings]
    barrier = threading.Barrier(2)
    outcomes = []

    def run() -> None:
        from django.db import connection

        barrier.wait()
        try:
            outcomes.append(order_mappings_place_batch(mapping_ids=ids))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    # when
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # then the row locks let exactly one copy claim each row
    claimed = [pk for outcome in outcomes for pk in outcome.statuses]
    assert sorted(claimed) == sorted(ids)
    for mapping in mappings:
        assert len(sim.orders(mapping.follower.client_id)) == 1
    assert set(OrderMapping.objects.filter(pk__in=ids).values_list("status", flat=True)) == {Status.ACTIVE}
    assert TradeEvent.objects.count() == 1
