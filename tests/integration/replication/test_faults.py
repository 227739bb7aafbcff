"""Broker faults during placement: every mapping ends terminal with a reason; no duplicate order."""

from __future__ import annotations

import pytest

from accounts.models import BrokerCredential
from replication import states
from replication.models import OrderMapping
from tests.integration.replication.conftest import settled, trade, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TERMINAL = {s for s in OrderMapping.Status} - set(states.IN_FLIGHT)


def _assert_no_duplicates(sim, *accounts):
    for account in accounts:
        tags = [order["orderTag"] for order in sim.orders(account.client_id)]
        assert len(tags) == len(set(tags)), f"duplicate orders for {account.account_id}: {tags}"


def test_http500_before_acceptance_is_retried_and_placed_once(api, sim, worker, make_follower):
    # given two 500s on placement, then the broker recovers
    follower = make_follower()
    sim.add_fault(user_id=follower.client_id, endpoint="placeorder", mode="http500", count=2)
    # when
    body = api.post("/api/trades/replicate", {"trade": trade()}, format="json").json()
    # then
    assert body["results"][0]["status"] == "SUCCESS", body
    mapping = OrderMapping.objects.get(follower=follower)
    assert mapping.status == OrderMapping.Status.ACTIVE
    assert mapping.attempts == 3
    assert len(sim.orders(follower.client_id)) == 1


def test_http500_until_the_attempt_cap_fails_with_the_reason(api, sim, worker, make_follower, settings):
    # given the broker never recovers
    settings.REPLICATION_MAX_ATTEMPTS = 3
    follower = make_follower()
    sim.add_fault(user_id=follower.client_id, endpoint="placeorder", mode="http500")
    # when
    body = api.post("/api/trades/replicate", {"trade": trade()}, format="json").json()
    # then
    result = body["results"][0]
    assert result["status"] == "FAILED"
    assert "gave up after 3 attempts" in result["reason"]
    assert OrderMapping.objects.get(follower=follower).attempts == 3
    assert sim.orders(follower.client_id) == []


@pytest.mark.parametrize("mode", ["timeout_after_accept", "drop_after_accept"])
def test_sent_without_answer_is_reconciled_by_tag_never_resent(api, sim, worker, make_follower, mode):
    # given the broker accepts the order but the answer never arrives
    follower = make_follower()
    sim.add_fault(user_id=follower.client_id, endpoint="placeorder", mode=mode, count=1, hold_seconds=3)
    # when
    body = api.post("/api/trades/replicate", {"trade": trade()}, format="json").json()
    # then the reconcile found the order by its tag: one order, mapped to it
    assert wait_for(lambda: settled("M-TEST-001"), timeout=15)
    mapping = OrderMapping.objects.get(follower=follower)
    (order,) = sim.orders(follower.client_id)
    assert mapping.status in (OrderMapping.Status.ACTIVE, OrderMapping.Status.COMPLETED)
    assert mapping.follower_order_id == order["orderId"]
    assert order["orderTag"] == mapping.order_tag
    assert mapping.attempts == 1
    assert body["results"][0]["status"] in ("SUCCESS", "PENDING")


def test_timeout_before_acceptance_is_sent_again_with_the_same_tag_once_confirmed_absent(
    api, sim, worker, make_follower
):
    # given the first request times out and the broker never placed it
    follower = make_follower()
    sim.add_fault(
        user_id=follower.client_id, endpoint="placeorder", mode="timeout_before", count=1, hold_seconds=3
    )
    # when
    api.post("/api/trades/replicate", {"trade": trade()}, format="json")
    # then after the grace window the tag lookup confirms it absent and it is sent again, once, same tag
    assert wait_for(lambda: settled("M-TEST-001"), timeout=20)
    mapping = OrderMapping.objects.get(follower=follower)
    (order,) = sim.orders(follower.client_id)
    assert mapping.status in (OrderMapping.Status.ACTIVE, OrderMapping.Status.COMPLETED)
    assert (mapping.follower_order_id, order["orderTag"]) == (order["orderId"], mapping.order_tag)
    assert mapping.attempts == 2
    assert len(sim.requests_log(path="placeorder")) == 2  # the first was held and never processed


def test_session_expired_fails_and_marks_the_credential_expired(api, sim, worker, make_follower):
    # given
    follower = make_follower()
    healthy = make_follower()
    sim.add_fault(user_id=follower.client_id, endpoint="placeorder", mode="session_expired")
    # when
    body = api.post("/api/trades/replicate", {"trade": trade()}, format="json").json()
    # then
    results = {r["follower_id"]: r for r in body["results"]}
    assert results[follower.account_id]["status"] == "FAILED"
    assert results[follower.account_id]["reason"].startswith("Session expired")
    assert results[healthy.account_id]["status"] == "SUCCESS"
    assert BrokerCredential.objects.get(account=follower).session_status == "EXPIRED"
    # and the next trade skips the follower up front
    body = api.post("/api/trades/replicate", {"trade": trade("M-TEST-002")}, format="json").json()
    results = {r["follower_id"]: r for r in body["results"]}
    assert results[follower.account_id] == {
        "follower_id": follower.account_id,
        "status": "SKIPPED",
        "reason": "Broker session expired for this follower",
        "order_mapping_id": results[follower.account_id]["order_mapping_id"],
    }


def test_mixed_faults_across_followers_end_terminal_without_duplicates(api, sim, worker, make_follower):
    # given one follower per fault mode, and one healthy
    modes = ["http500", "timeout_after_accept", "drop_after_accept", "session_expired", "html502", None]
    followers = []
    for mode in modes:
        account = make_follower()
        followers.append(account)
        if mode:
            sim.add_fault(
                user_id=account.client_id, endpoint="placeorder", mode=mode, count=1, hold_seconds=3
            )
    # when
    api.post("/api/trades/replicate", {"trade": trade()}, format="json")
    # then
    assert wait_for(lambda: settled("M-TEST-001"), timeout=20)
    for mapping in OrderMapping.objects.all():
        assert mapping.status in TERMINAL
        if mapping.status not in states.PLACED:
            assert mapping.reason
    _assert_no_duplicates(sim, *followers)
