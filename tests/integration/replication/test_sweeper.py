"""The sweeper with a real worker and the simulator: a lost enqueue is placed exactly once; a stuck SUBMITTING
row is resolved by its order tag, and sent again (same tag) only once it is confirmed absent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Account
from replication.models import OrderMapping, TradeEvent, order_tag_for
from replication.services.sweeper import replication_sweep
from replication.tasks import replication_sweep_task
from tests.integration.replication.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

Status = OrderMapping.Status


def _mapping(follower: Account, master_order_id: str, *, status: str, age: float, **fields) -> OrderMapping:
    """A mapping as the fan-out writes it (NSE SBIN-EQ), `age` seconds old, and no task enqueued for it."""
    event = TradeEvent.objects.create(
        dedupe_key=f"PLACE:{master_order_id}",
        master_order_id=master_order_id,
        symbol="SBIN",
        trading_symbol="SBIN-EQ",
        token="3045",
        side="BUY",
        quantity=10,
    )
    mapping = OrderMapping.objects.create(
        trade_event=event,
        master_order_id=master_order_id,
        follower=follower,
        order_tag=order_tag_for(master_order_id=master_order_id, follower_pk=follower.pk, leg="ENTRY"),
        symbol="SBIN",
        trading_symbol="SBIN-EQ",
        token="3045",
        exchange="NSE",
        side="BUY",
        quantity=10,
        status=status,
        **fields,
    )
    past = timezone.now() - timedelta(seconds=age)
    OrderMapping.objects.filter(pk=mapping.pk).update(created_at=past, updated_at=past)
    mapping.refresh_from_db()
    return mapping


def _placements(sim, follower: Account) -> list[dict]:
    return sim.requests_log(follower.client_id, path="placeorder")


def test_pending_row_whose_enqueue_was_lost_is_placed_exactly_once(sim, worker, make_follower):
    # given a PENDING mapping older than REPLICATION_SWEEP_AFTER (1 s) that no task will ever pick up
    follower = make_follower()
    mapping = _mapping(follower, "M-SWEEP-1", status=Status.PENDING, age=5)
    # when the sweep runs twice before the worker gets to it (two enqueues of the same row)
    assert replication_sweep()["pending"] == 1
    assert replication_sweep()["pending"] == 1
    # then it is placed, once
    assert wait_for(lambda: OrderMapping.objects.get(pk=mapping.pk).status == Status.ACTIVE)
    mapping.refresh_from_db()
    (order,) = sim.orders(follower.client_id)
    assert (order["orderId"], order["orderTag"], order["quantity"]) == (
        mapping.follower_order_id,
        mapping.order_tag,
        10,
    )
    assert mapping.attempts == 1
    assert len(_placements(sim, follower)) == 1
    # and a later sweep leaves it alone
    assert replication_sweep()["pending"] == 0


def test_fresh_pending_row_is_left_to_its_own_task(sim, worker, make_follower):
    # given a PENDING row younger than REPLICATION_SWEEP_AFTER
    follower = make_follower()
    mapping = _mapping(follower, "M-SWEEP-2", status=Status.PENDING, age=0)
    # when
    counts = replication_sweep()
    # then
    assert counts["pending"] == 0
    assert OrderMapping.objects.get(pk=mapping.pk).status == Status.PENDING
    assert _placements(sim, follower) == []


def test_stuck_submitting_row_whose_order_is_in_the_book_becomes_active_with_that_order(
    sim, worker, make_follower
):
    # given the broker holds an open order with the mapping's tag, but the row stayed SUBMITTING (worker died)
    follower = make_follower()
    mapping = _mapping(follower, "M-SWEEP-3", status=Status.SUBMITTING, age=10, attempts=1)
    OrderMapping.objects.filter(pk=mapping.pk).update(submitted_at=timezone.now() - timedelta(seconds=10))
    placed = sim.place_as_user(
        follower.client_id,
        exchange="NSE",
        symbol="SBIN",
        side="BUY",
        quantity=10,
        order_type="LIMIT",
        price="1",
        tag=mapping.order_tag,
    )
    # when the beat's sweep runs on the worker
    replication_sweep_task.delay()
    # then the tag lookup maps it to that order, and nothing was sent
    assert wait_for(lambda: OrderMapping.objects.get(pk=mapping.pk).status == Status.ACTIVE)
    mapping.refresh_from_db()
    assert mapping.follower_order_id == placed["orderId"]
    assert len(sim.orders(follower.client_id)) == 1
    assert _placements(sim, follower) == []


def test_stuck_submitting_row_whose_order_is_absent_is_sent_once_after_the_grace_window(
    sim, worker, make_follower, settings
):
    # given a SUBMITTING row claimed 6 s ago whose worker died before sending (stuck after 5 s), and a grace
    # window of 3 s; the broker never got the order
    settings.REPLICATION_RECONCILE_GRACE = 3.0
    follower = make_follower()
    mapping = _mapping(follower, "M-SWEEP-4", status=Status.SUBMITTING, age=6, attempts=1)
    submitted_at = timezone.now() - timedelta(seconds=6)
    OrderMapping.objects.filter(pk=mapping.pk).update(submitted_at=submitted_at)
    # when
    assert replication_sweep()["stuck"] == 1
    # then the tag lookup confirms it absent and it is sent again, with the same tag, exactly once
    assert wait_for(lambda: OrderMapping.objects.get(pk=mapping.pk).status == Status.ACTIVE, timeout=15)
    mapping.refresh_from_db()
    (order,) = sim.orders(follower.client_id)
    assert (order["orderTag"], mapping.follower_order_id) == (mapping.order_tag, order["orderId"])
    assert len(_placements(sim, follower)) == 1
    assert mapping.attempts == 2
    assert (mapping.reason, mapping.reason_code) == ("", "")


def test_stuck_submitting_row_too_old_to_send_fails_not_placed_without_sending(
    sim, worker, make_follower, settings
):
    # given a SUBMITTING row stuck like the one above, but its entry is older than REPLICATION_ENTRY_MAX_AGE
    settings.REPLICATION_RECONCILE_GRACE = 3.0
    settings.REPLICATION_ENTRY_MAX_AGE = 4.0
    follower = make_follower()
    mapping = _mapping(follower, "M-SWEEP-5", status=Status.SUBMITTING, age=6, attempts=1)
    submitted_at = timezone.now() - timedelta(seconds=6)
    OrderMapping.objects.filter(pk=mapping.pk).update(submitted_at=submitted_at)
    # when
    assert replication_sweep()["stuck"] == 1
    # then it is FAILED "not placed", naming why it was not sent again, and nothing was sent
    assert wait_for(lambda: OrderMapping.objects.get(pk=mapping.pk).status == Status.FAILED, timeout=15)
    mapping.refresh_from_db()
    assert mapping.reason.startswith(f"Order not placed: tag {mapping.order_tag} not in the order book")
    assert "Expired before placement" in mapping.reason
    assert mapping.reason_code == "NOT_PLACED"
    assert mapping.follower_order_id == ""
    assert sim.orders(follower.client_id) == []
    assert _placements(sim, follower) == []
