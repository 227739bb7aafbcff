"""Master capture under duplication, concurrency, drops and downtime: the same order seen by the stream, the
poll and the webhook is copied once; two pollers and two streams copy once; a dropped stream misses nothing;
capture that starts after the master traded copies the recent, queues the old and applies the exits; the poll
stays inside the budget of non-order calls; a forged webhook changes nothing."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from replication.models import CaptureStatus, MasterTrade, OrderMapping, TradeEvent
from replication.services.capture_inbound import webhook_subscription_set, webhook_token
from replication.services.capture_poll import master_poll
from tests.integration.replication.capture.conftest import (
    MASTER_USER,
    net_position,
    sim_orders,
    stream_connected,
    wait_for,
    wait_orders,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _place(sim, **fields) -> str:
    fields.setdefault("exchange", "NSE")
    fields.setdefault("symbol", "SBIN")
    return sim.place_as_user(MASTER_USER, **fields)["orderId"]


def _one_order_each(sim, followers, count: int) -> None:
    for follower in followers:
        tags = Counter(order["orderTag"] for order in sim_orders(sim, follower))
        assert len(sim_orders(sim, follower)) == count, sim_orders(sim, follower)
        assert all(n == 1 for n in tags.values()), tags


def test_one_order_seen_by_the_stream_the_poll_and_the_webhook_is_copied_once(
    sim, master, make_follower, stream_process, poller, live_server, capture_engine
):
    # given all three sources running at once
    capture_engine.COPYTRADE_PUBLIC_URL = live_server.url
    followers = [make_follower(), make_follower()]
    stream_process()
    assert wait_for(lambda: stream_connected(sim, master), timeout=20)
    poller()
    webhook_subscription_set(subscribe=True)
    # when the master places five orders
    ids = [_place(sim, side="BUY", quantity=10 + n, order_type="LIMIT", price="400") for n in range(5)]
    # then every follower has exactly one copy of each
    for follower in followers:
        wait_orders(sim, follower, 5)
    time.sleep(2)  # let the slower sources see the orders too
    _one_order_each(sim, followers, 5)
    assert OrderMapping.objects.filter(master_order_id__in=ids).count() == 10
    deliveries = sim.webhooks(MASTER_USER)["deliveries"]
    assert deliveries
    assert all(d["statusCode"] == 200 for d in deliveries), deliveries
    sources = set(MasterTrade.objects.filter(broker_order_id__in=ids).values_list("last_source", flat=True))
    assert sources <= {"STREAM", "POLL", "WEBHOOK"}


def test_two_pollers_copy_once(sim, master, make_follower, poller):
    followers = [make_follower(), make_follower()]
    poller(tick=0.1)
    poller(tick=0.1)
    for n in range(5):
        _place(sim, side="BUY", quantity=5 + n)
    for follower in followers:
        wait_orders(sim, follower, 5)
    time.sleep(1.5)
    _one_order_each(sim, followers, 5)


def test_two_streams_copy_once_and_one_stands_by(sim, master, make_follower, stream_process):
    followers = [make_follower(), make_follower()]
    first, second = stream_process(), stream_process()
    assert wait_for(lambda: stream_connected(sim, master), timeout=20)
    time.sleep(2)
    assert len(sim.streams(MASTER_USER)) == 1  # one streams, the other stands by on the lease
    for n in range(5):
        _place(sim, side="BUY", quantity=5 + n)
    for follower in followers:
        wait_orders(sim, follower, 5)
    time.sleep(1)
    _one_order_each(sim, followers, 5)
    # when the streaming process stops, the one standing by takes over
    holder = CaptureStatus.objects.get(account=master, kind=CaptureStatus.Kind.STREAM).holder
    (first if f":{first.proc.pid}:" in holder else second).stop()
    time.sleep(0.5)
    assert wait_for(lambda: stream_connected(sim, master), timeout=20)
    _place(sim, side="BUY", quantity=1)
    for follower in followers:
        wait_orders(sim, follower, 6)
    _one_order_each(sim, followers, 6)


def test_a_dropped_stream_misses_no_order(sim, master, make_follower, stream_process):
    # given only the stream (no poll)
    follower = make_follower()
    stream_process()
    assert wait_for(lambda: stream_connected(sim, master), timeout=20)
    _place(sim, side="BUY", quantity=10)
    wait_orders(sim, follower, 1)
    # when the sockets are dropped and the master trades while the stream is down
    sim.drop_streams(MASTER_USER, hold_seconds=1.5)
    missed = _place(sim, side="BUY", quantity=20)
    # then the reconnect's catch-up copies it
    orders = wait_orders(sim, follower, 2, timeout=20)
    assert [o["quantity"] for o in orders] == [10, 20]
    assert MasterTrade.objects.get(broker_order_id=missed).state == "COPIED"
    assert CaptureStatus.objects.get(account=master, kind=CaptureStatus.Kind.STREAM).reconnects >= 1


def test_capture_after_downtime_copies_recent_queues_old_and_applies_exits(
    sim, master, make_follower, worker, capture_engine
):
    follower = make_follower()
    # given a position copied while capture ran
    _place(sim, symbol="INFY", side="BUY", quantity=50)
    master_poll(force=True)
    assert wait_for(lambda: net_position(sim, follower, "INFY") == 50, timeout=20)
    # when, while capture is down, the master buys SBIN (an old order, then a recent one) and exits INFY
    capture_engine.REPLICATION_ENTRY_MAX_AGE = 3.0
    old = _place(sim, side="BUY", quantity=11)
    _place(sim, symbol="INFY", side="SELL", quantity=50)
    time.sleep(3.5)
    recent = _place(sim, side="BUY", quantity=22)
    master_poll(force=True)  # capture starts again
    # then the recent entry is copied, the old one waits for the operator, the exit is applied
    assert wait_for(lambda: net_position(sim, follower, "INFY") == 0, timeout=20)
    assert wait_for(lambda: net_position(sim, follower, "SBIN") == 22, timeout=20)
    assert MasterTrade.objects.get(broker_order_id=recent).state == "COPIED"
    queued = MasterTrade.objects.get(broker_order_id=old)
    assert queued.state == "NEW"
    assert "older than" in queued.note
    assert not OrderMapping.objects.filter(master_order_id=old).exists()


def test_the_poll_stays_inside_the_budget_of_non_order_calls(sim, master, poller, capture_engine):
    # given a small budget and a fast poll
    capture_engine.ALICE_NON_ORDER_BUDGET = "12 per 1 minute"
    capture_engine.CAPTURE_POLL_BUDGET_RESERVE = 2
    started = time.monotonic()
    poller(tick=0.1)
    time.sleep(8)
    # then the master's non-order calls in the window stay within the budget, less the reserve
    calls = [r for r in sim.requests_log(MASTER_USER) if "orders/book" in r["path"] or "trades" in r["path"]]
    assert 5 <= len(calls) <= 10, len(calls)
    status = CaptureStatus.objects.get(account=master, kind=CaptureStatus.Kind.POLL)
    assert "budget" in status.last_error
    assert time.monotonic() - started < 30


def test_a_forged_webhook_changes_nothing(sim, master, make_follower, worker, api, capture_engine):
    follower = make_follower()
    client = api.__class__()  # Alice Blue has no operator secret
    payload = {
        "norenordno": "26120100999999",
        "actid": MASTER_USER,
        "status": "COMPLETE",
        "qty": "1000",
        "trantype": "B",
        "tsym": "SBIN-EQ",
        "exch": "NSE",
        "prctyp": "MKT",
    }
    # a wrong token is an unknown path, and reads nothing
    assert client.post("/api/alice/webhook/not-the-token", payload, format="json").status_code == 404
    # the right token with an order the master's book does not have: read, found absent, nothing ingested
    response = client.post(f"/api/alice/webhook/{webhook_token()}", payload, format="json")
    assert response.status_code == 200
    assert wait_for(
        lambda: any("orders/book" in r["path"] for r in sim.requests_log(MASTER_USER)), timeout=10
    )
    time.sleep(1)
    assert not MasterTrade.objects.exists()
    assert not TradeEvent.objects.exists()
    assert sim_orders(sim, follower) == []
