"""Workers killed with SIGKILL while their orders are in flight lose nothing and duplicate nothing.

A real Celery worker process (MariaDB + Redis) claims a fan-out's rows (SUBMITTING, committed) and is killed
with kill -9 while its requests are held at the simulator, round after round:
- "never processed": the simulator holds each order request and then drops it unprocessed (Alice Blue never
  saw the order), the worker dies before any answer;
- "processed late": the simulator processes each order after a delay, when the worker is already dead.
The worker that recovers them (stuck SUBMITTING -> UNKNOWN -> reconcile by tag -> found, or confirmed
absent and sent again with the same tag) is killed the same way during its resends; a last one finishes.
Every follower must end with exactly one order per trade, with its tag: 0 lost, 0 duplicated.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from replication.models import OrderMapping
from replication.services.sweeper import replication_sweep
from tests.integration.replication.conftest import purge_broker, requires_mysql, trade, wait_for
from tests.integration.replication.workers import WorkerProcess

ROOT = Path(__file__).resolve().parents[3]
FOLLOWERS = 6

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.mysql,
    pytest.mark.redis,
    requires_mysql,
    pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="needs Redis (TEST_REDIS_URL)"),
    pytest.mark.django_db(transaction=True),
]

Status = OrderMapping.Status


@pytest.fixture
def worker_process(sim, engine, tmp_path):
    worker = WorkerProcess(sim.base_url, tmp_path / "worker.log")
    yield worker
    worker.stop()
    # Messages the killed workers had taken stay unacknowledged in Redis until their visibility timeout.
    purge_broker()


def _sweep_until_settled(master_order_ids: list[str], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replication_sweep()
        if not OrderMapping.objects.filter(
            master_order_id__in=master_order_ids,
            status__in=(Status.PENDING, Status.SUBMITTING, Status.UNKNOWN),
        ).exists():
            return True
        time.sleep(0.5)
    return False


def test_workers_killed_between_claim_and_answer_lose_and_duplicate_nothing(
    api, sim, make_follower, worker_process, tmp_path
):
    # given followers with no loss rule to read (placement is the only broker call)
    followers = [make_follower(max_quantity=1000) for _ in range(FOLLOWERS)]
    from accounts.models import MasterSettings

    MasterSettings.objects.update_or_create(pk=1, defaults={"max_daily_loss_percentage": 0})
    rounds = [
        ("never processed", "timeout_before"),
        ("processed late", None),
        ("never processed", "timeout_before"),
    ]
    trade_ids = []
    for number, (label, mode) in enumerate(rounds, start=1):
        trade_id = f"M-CRASH-{number}"
        trade_ids.append(trade_id)
        sim.clear_faults()
        for follower in followers:
            if mode:
                sim.add_fault(
                    user_id=follower.client_id, endpoint="placeorder", mode=mode, count=1, hold_seconds=4
                )
            else:
                sim.add_fault(user_id=follower.client_id, endpoint="placeorder", latency_ms=2500, count=1)
        worker_process.start()
        # when a trade fans out and the worker has claimed its rows (committed SUBMITTING) ...
        response = api.post("/api/trades/replicate?wait=0", {"trade": trade(trade_id)}, format="json")
        assert response.status_code == 200, response.json()
        claimed = wait_for(
            lambda tid=trade_id: (
                OrderMapping.objects.filter(master_order_id=tid, status=Status.SUBMITTING).count()
                == FOLLOWERS
            ),
            timeout=30,
        )
        assert claimed, f"round {number} ({label}): the worker did not claim the rows"
        # ... and is killed with SIGKILL while the requests are held at the broker
        time.sleep(0.5)
        worker_process.kill9()
    # and the worker that recovers them is killed too, while its resends (same tags) are held
    time.sleep(4.5)  # let the held requests finish at the simulator (processed or dropped)
    sim.clear_faults()
    for follower in followers:
        sim.add_fault(
            user_id=follower.client_id, endpoint="placeorder", mode="timeout_before", hold_seconds=4
        )
    worker_process.start()
    resending = wait_for(
        lambda: (
            replication_sweep() is not None
            and OrderMapping.objects.filter(status=Status.SUBMITTING, attempts__gte=2).exists()
        ),
        timeout=30,
    )
    assert resending, (tmp_path / "worker.log").read_text()[-3000:]
    time.sleep(0.5)
    worker_process.kill9()
    # then a last worker recovers everything through the sweeper
    time.sleep(4.5)
    sim.clear_faults()
    worker_process.start()
    assert _sweep_until_settled(trade_ids, timeout=90), (tmp_path / "worker.log").read_text()[-3000:]
    # every follower has exactly one order per trade, with its tag, and its mapping points at it
    for follower in followers:
        ledger = sim.orders(follower.client_id)
        for trade_id in trade_ids:
            mapping = OrderMapping.objects.get(master_order_id=trade_id, follower=follower)
            orders = [order for order in ledger if order["orderTag"] == mapping.order_tag]
            assert len(orders) == 1, (trade_id, follower.account_id, mapping.status, mapping.reason, orders)
            assert mapping.status in (Status.ACTIVE, Status.COMPLETED), (mapping.status, mapping.reason)
            assert mapping.follower_order_id == orders[0]["orderId"]
        assert len(ledger) == len(trade_ids)


def test_a_worker_killed_while_slices_are_in_flight_loses_and_duplicates_no_slice(
    api, sim, make_follower, worker_process, tmp_path
):
    # given 2x followers whose NIFTY option copies (2 x 1,350 = 2,700) go as two slices (freeze 1,800)
    from accounts.models import MasterSettings

    MasterSettings.objects.update_or_create(
        pk=1, defaults={"max_daily_loss_percentage": 0, "max_quantity_per_trade": 100_000}
    )
    followers = [make_follower(lot_multiplier=2, max_quantity=100_000) for _ in range(3)]
    for follower in followers:
        sim.add_fault(
            user_id=follower.client_id, endpoint="placeorder", mode="timeout_before", count=2, hold_seconds=4
        )
    worker_process.start()
    # when the fan-out's slices are claimed and the worker is killed while they are held at the broker
    nifty = trade(
        "M-CRASH-SLICES", symbol="NIFTY26NOV26000CE", exchange="NFO", quantity=1350, product_type="NRML"
    )
    response = api.post("/api/trades/replicate?wait=0", {"trade": nifty}, format="json")
    assert response.status_code == 200, response.json()
    claimed = wait_for(
        lambda: (
            OrderMapping.objects.filter(master_order_id="M-CRASH-SLICES", status=Status.SUBMITTING).count()
            == 2 * len(followers)
        ),
        timeout=30,
    )
    assert claimed, (tmp_path / "worker.log").read_text()[-3000:]
    time.sleep(0.5)
    worker_process.kill9()
    # then a new worker recovers every slice through the sweeper
    time.sleep(4.5)
    sim.clear_faults()
    worker_process.start()
    assert _sweep_until_settled(["M-CRASH-SLICES"], timeout=90), (tmp_path / "worker.log").read_text()[-3000:]
    # and each slice is at the broker exactly once, with its own tag
    for follower in followers:
        ledger = sim.orders(follower.client_id)
        slices = OrderMapping.objects.filter(master_order_id="M-CRASH-SLICES", follower=follower).order_by(
            "slice_no"
        )
        assert [m.quantity for m in slices] == [1800, 900]
        for mapping in slices:
            orders = [order for order in ledger if order["orderTag"] == mapping.order_tag]
            assert len(orders) == 1, (follower.account_id, mapping.slice_no, mapping.status, orders)
            assert mapping.follower_order_id == orders[0]["orderId"]
        assert sorted(order["quantity"] for order in ledger) == [900, 1800]
