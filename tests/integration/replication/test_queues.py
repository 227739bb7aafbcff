"""Two Celery queues: the order path (capture, placement, reconcile, exit / modify / cancel) on "placement",
the bookkeeping (status sync, sweeps, risk snapshots, session checks) on the default queue, so a slow status
sync never delays an entry; a worker started without -Q consumes both."""

from __future__ import annotations

import os
import time

import pytest
from django.conf import settings

from accounts.dispatch import NOTIFICATION_SEND_TASK, SESSION_CHECK_TASK
from copytrade.celery import app
from copytrade.core.models import Heartbeat
from copytrade.core.tasks import heartbeat_task, placement_heartbeat_task
from replication import dispatch
from replication.models import OrderMapping
from tests.integration.replication.conftest import (
    purge_broker,
    requires_mysql,
    running_worker,
    trade,
    wait_for,
)
from tests.integration.replication.workers import WorkerProcess

Status = OrderMapping.Status
DEFAULT, PLACEMENT = "celery", "placement"

# Every task the project registers, and the queue it must go to.
EXPECTED_QUEUES = {
    dispatch.PLACE: PLACEMENT,
    dispatch.PLACE_BATCH: PLACEMENT,
    # an UNKNOWN entry is resolved by tag and may be sent again: order work, as urgent as the first send
    dispatch.RECONCILE: PLACEMENT,
    # an exit mirrors the master's exit; modify and cancel mirror the master's too
    dispatch.ACTION_RUN: PLACEMENT,
    # capture: a poll or a webhook read ingests the master's order and fans it out in the same task
    dispatch.MASTER_POLL: PLACEMENT,
    dispatch.WEBHOOK_ORDER_REFRESH: PLACEMENT,
    dispatch.FOLLOWER_ORDERS_SYNC: DEFAULT,
    dispatch.ORDER_STATUS_SYNC: DEFAULT,
    dispatch.SWEEP: DEFAULT,
    dispatch.FOLLOWER_RISK_SNAPSHOT: DEFAULT,
    dispatch.RISK_SNAPSHOTS: DEFAULT,
    # capital sizing's morning read of the broker limits: before the open, not order work
    dispatch.CAPITALS_REFRESH: DEFAULT,
    SESSION_CHECK_TASK: DEFAULT,
    # notifications: a slow Telegram or mail server must never delay an order
    dispatch.NOTIFY_SCAN: DEFAULT,
    dispatch.NOTIFY_READINESS: DEFAULT,
    NOTIFICATION_SEND_TASK: DEFAULT,
    heartbeat_task.name: DEFAULT,
    placement_heartbeat_task.name: PLACEMENT,
}

SLOW_BOOK_MS = 1500  # each order-book read, below the tests' 2 s read timeout: slow, not failed
SYNCS = 6  # one at a time on the default queue: 9 s of backlog
ENTRY_WITHIN = 2.0  # seconds from the replicate call to every follower's order at the broker


def test_every_registered_task_is_routed_to_its_queue():
    # given every task a worker registers (Celery's own built-ins aside)
    app.loader.import_default_modules()
    ours = {name for name in app.tasks if not name.startswith("celery.")}
    # then each was given its queue deliberately, and goes there
    assert ours == set(EXPECTED_QUEUES), "a task was added or removed: decide its queue in CELERY_TASK_ROUTES"
    routed = {name: app.amqp.router.route({}, name)["queue"].name for name in sorted(ours)}
    assert routed == EXPECTED_QUEUES
    assert (settings.CELERY_TASK_DEFAULT_QUEUE, settings.PLACEMENT_QUEUE) == (DEFAULT, PLACEMENT)


def test_a_worker_started_without_queues_consumes_both():
    # given the queue table a worker builds from the settings (no -Q: no selection)
    queues = app.amqp.Queues(app.conf.task_queues)
    # then it consumes both, each bound by its own name (no two queues share a binding)
    assert {name: (q.exchange.name, q.routing_key) for name, q in queues.consume_from.items()} == {
        DEFAULT: (DEFAULT, DEFAULT),
        PLACEMENT: (PLACEMENT, PLACEMENT),
    }


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_one_worker_without_queues_runs_the_tasks_of_both_queues(engine):
    # given one worker started without -Q (a single-worker deployment, and every other test's worker)
    try:
        with running_worker(concurrency=2):
            # when beat's two heartbeats are sent, one through each queue
            heartbeat_task.delay()
            placement_heartbeat_task.delay()
            # then that worker runs both
            assert wait_for(
                lambda: (
                    Heartbeat.objects.filter(
                        name__in=(Heartbeat.DEFAULT_QUEUE, Heartbeat.PLACEMENT_QUEUE)
                    ).count()
                    == 2
                ),
                timeout=15,
            )
    finally:
        purge_broker()


def _book_reads(sim, followers) -> int:
    return sum(len(sim.requests_log(f.client_id, path="orders/book")) for f in followers)


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.mysql
@pytest.mark.redis
@requires_mysql
@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="needs Redis (TEST_REDIS_URL)")
@pytest.mark.django_db(transaction=True)
def test_the_placement_queue_keeps_entries_moving_while_a_long_status_sync_runs(
    api, sim, engine, make_follower, tmp_path
):
    # given a worker process per queue, as production runs them: the default queue's with one thread
    busy, fast = [make_follower() for _ in range(2)], make_follower()
    default = WorkerProcess(
        sim.base_url, tmp_path / "default.log", queues=[DEFAULT], concurrency=1, name="d@t"
    )
    placer = WorkerProcess(
        sim.base_url, tmp_path / "placer.log", queues=[PLACEMENT], concurrency=4, name="p@t"
    )
    try:
        default.start()
        placer.start()
        default.wait_ready()
        placer.wait_ready()
        # and two followers with open orders (limits below the market), whose order books read slowly
        opened = api.post(
            "/api/trades/copy-selected",
            {
                "trade": trade("M-OPEN-1", order_type="LIMIT", price="500"),
                "follower_ids": [f.account_id for f in busy],
            },
            format="json",
        )
        assert [r["status"] for r in opened.json()["results"]] == ["SUCCESS", "SUCCESS"], opened.json()
        for follower in busy:
            sim.add_fault(user_id=follower.client_id, endpoint="orders/book", latency_ms=SLOW_BOOK_MS)
        # and a backlog of their order-book syncs, the first already running
        for _ in range(SYNCS // len(busy)):
            for follower in busy:
                dispatch.follower_orders_sync_enqueue(follower.pk)
        assert wait_for(lambda: _book_reads(sim, busy) >= 1, timeout=10)
        # when the master's entry is replicated
        started = time.monotonic()
        response = api.post("/api/trades/replicate", {"trade": trade("M-ENTRY-1")}, format="json")
        elapsed = time.monotonic() - started
        # then every follower's order is at the broker within ENTRY_WITHIN s, not after the backlog
        body = response.json()
        assert response.status_code == 200, body
        assert {r["follower_id"]: r["status"] for r in body["results"]} == {
            f.account_id: "SUCCESS" for f in (*busy, fast)
        }, body
        assert elapsed < ENTRY_WITHIN, f"the entry took {elapsed:.1f} s"
        for follower in (*busy, fast):
            entry = OrderMapping.objects.get(master_order_id="M-ENTRY-1", follower=follower)
            (order,) = [o for o in sim.orders(follower.client_id) if o["orderTag"] == entry.order_tag]
            assert order["orderId"] == entry.follower_order_id
        assert OrderMapping.objects.get(master_order_id="M-ENTRY-1", follower=fast).status == Status.ACTIVE
        # while the status syncs were still queued behind the first
        assert _book_reads(sim, busy) < SYNCS
        # and the syncs all ran afterwards: the busy followers' filled entries read from their books
        assert wait_for(lambda: _book_reads(sim, busy) == SYNCS, timeout=SYNCS * SLOW_BOOK_MS / 1000 + 10)
        assert wait_for(
            lambda: (
                set(
                    OrderMapping.objects.filter(master_order_id="M-ENTRY-1", follower__in=busy).values_list(
                        "status", flat=True
                    )
                )
                == {Status.COMPLETED}
            ),
            timeout=5,
        )
    finally:
        default.stop()
        placer.stop()
        purge_broker()
