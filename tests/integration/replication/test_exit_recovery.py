"""Exit / modify while the entry order is in flight or being retried, re-running failed actions, and order
statuses the client does not recognise, with a real worker and the simulator.

- An exit waits for an in-flight entry as long as the sweeper and the reconcile by tag may take (a time
  budget), and an exit that gave up is run again by a repeated exit request or the admin.
- An entry waiting for a retry (PENDING, attempts >= 1) may be at the broker already: it is reconciled by its
  tag, never cancelled locally as "not placed yet" and never sent again.
- An order whose status the client does not recognise is open until proved closed: an exit cancels it.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, AuditEvent
from broker import parsing
from replication import states
from replication.models import OrderAction, OrderMapping, TradeEvent, order_tag_for
from replication.services import action_events, placement
from replication.services.sweeper import replication_sweep
from replication.tasks import order_mapping_place_task
from tests.integration.replication.conftest import trade, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

Status = OrderMapping.Status
ActionStatus = OrderAction.Status


def _entry(follower: Account, master_order_id: str, *, status: str, **fields) -> OrderMapping:
    """An ENTRY mapping (BUY 10 NSE SBIN-EQ) as the fan-out and placement leave it, with no task enqueued."""
    event = TradeEvent.objects.create(
        dedupe_key=f"PLACE:{master_order_id}",
        master_order_id=master_order_id,
        symbol="SBIN",
        trading_symbol="SBIN-EQ",
        token="3045",
        side="BUY",
        quantity=10,
    )
    return OrderMapping.objects.create(
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


def _at_broker(sim, follower: Account, entry: OrderMapping, **order) -> dict:
    """The entry's order as an earlier attempt left it at the broker (tagged with the entry's orderTag)."""
    fields = {"exchange": "NSE", "symbol": "SBIN-EQ", "side": "BUY", "quantity": 10, **order}
    return sim.place_as_user(follower.client_id, tag=entry.order_tag, **fields)


def _ledger(sim, follower: Account) -> list[tuple[str, int, str]]:
    return [(o["side"], o["quantity"], o["status"]) for o in sim.orders(follower.client_id)]


def _entry_sends(sim, follower: Account, entry: OrderMapping) -> list[dict]:
    """Place requests sent for the entry's tag (the simulator's own placements are not in this log)."""
    return [
        r
        for r in sim.requests_log(follower.client_id, path="placeorder")
        if entry.order_tag in str(r["body"])
    ]


def _exit_settled(master_order_id: str) -> bool:
    return (
        not OrderAction.objects.filter(
            trade_event__master_order_id=master_order_id,
            status__in=[ActionStatus.PENDING, ActionStatus.RUNNING],
        ).exists()
        and not OrderMapping.objects.filter(
            master_order_id=master_order_id, leg=OrderMapping.Leg.EXIT, status__in=states.IN_FLIGHT
        ).exists()
    )


@pytest.fixture
def short_budget(settings):
    """Recovery timings that make an exit's wait budget for an in-flight entry 1.8 s."""
    settings.REPLICATION_SUBMITTING_STUCK_AFTER = 0.5
    settings.REPLICATION_SWEEP_INTERVAL = 0.1
    settings.REPLICATION_RECONCILE_GRACE = 0.3
    settings.REPLICATION_RECONCILE_DELAY = 0.1
    settings.REPLICATION_SWEEP_AFTER = 0.7
    assert action_events.entry_wait_budget() == pytest.approx(1.8)
    return settings


def _exit_that_gave_up_on_a_stuck_entry(api, sim, follower, master_order_id: str) -> OrderMapping:
    """An entry left SUBMITTING (worker died after sending; the order is at the broker, filled) and an exit
    that waited for it until its budget ran out, then the sweeper resolving the entry by its tag."""
    entry = _entry(
        follower, master_order_id, status=Status.SUBMITTING, attempts=1, submitted_at=timezone.now()
    )
    _at_broker(sim, follower, entry)
    api.post("/api/trades/exit?wait=0", {"masterOrderId": master_order_id}, format="json")
    assert wait_for(lambda: OrderAction.objects.filter(status=ActionStatus.FAILED).exists())
    action = OrderAction.objects.get()
    assert "gave up" in action.reason
    assert [side for side, _qty, _status in _ledger(sim, follower)] == ["BUY"]
    assert replication_sweep()["stuck"] == 1
    assert wait_for(lambda: OrderMapping.objects.get(pk=entry.pk).status == Status.COMPLETED)
    return entry


# ------------------------------------------------------------------ F2: waiting on a time budget, re-running
def test_exit_waits_for_a_stuck_entry_until_the_sweeper_resolves_it_then_squares_off_once(
    api, sim, worker, make_follower, settings
):
    # given a wait budget of 4.7 s, while the old count (3 x 0.2 s) would have given up after 0.6 s
    settings.REPLICATION_ACTION_MAX_ATTEMPTS = 3
    settings.REPLICATION_SUBMITTING_STUCK_AFTER = 1.0
    settings.REPLICATION_SWEEP_INTERVAL = 0.5
    assert action_events.entry_wait_budget() == pytest.approx(4.7)
    # and an entry left SUBMITTING whose order did reach the broker (filled)
    follower = make_follower()
    entry = _entry(follower, "M-STUCK-1", status=Status.SUBMITTING, attempts=1, submitted_at=timezone.now())
    _at_broker(sim, follower, entry)
    # when the master exits at once
    response = api.post("/api/trades/exit?wait=0", {"masterOrderId": "M-STUCK-1"}, format="json")
    assert response.status_code == 200, response.json()
    time.sleep(1.5)
    # then the exit is still waiting for the entry, well past the old give-up point
    action = OrderAction.objects.get()
    assert action.status in (ActionStatus.PENDING, ActionStatus.RUNNING), action.reason
    assert action.attempts <= 1  # waiting runs do not use up the attempt cap
    # when the sweeper finds the entry stuck and the reconcile finds its order by tag
    assert replication_sweep()["stuck"] == 1
    # then the exit goes on and squares off exactly the filled quantity, without sending the entry again
    assert wait_for(lambda: _exit_settled("M-STUCK-1"))
    action.refresh_from_db()
    assert (action.status, action.reason) == (
        ActionStatus.DONE,
        "Exit order processed: squaring off 10 filled",
    )
    entry.refresh_from_db()
    assert (entry.status, entry.executed_quantity) == (Status.COMPLETED, 10)
    assert _ledger(sim, follower) == [("BUY", 10, "COMPLETE"), ("SELL", 10, "COMPLETE")]
    assert _entry_sends(sim, follower, entry) == []
    # and a second exit request sends nothing more
    body = api.post("/api/trades/exit", {"masterOrderId": "M-STUCK-1"}, format="json").json()
    assert body["results"][0]["status"] == "SUCCESS", body
    assert len(sim.orders(follower.client_id)) == 2
    assert OrderAction.objects.count() == 1


def test_exit_that_gave_up_is_run_again_by_a_repeated_exit_request(
    api, sim, worker, make_follower, short_budget
):
    # given an exit that gave up on a stuck entry, which the sweeper then resolved (placed, filled 10)
    follower = make_follower()
    entry = _exit_that_gave_up_on_a_stuck_entry(api, sim, follower, "M-STUCK-2")
    # when the master's exit comes again
    body = api.post("/api/trades/exit", {"masterOrderId": "M-STUCK-2"}, format="json").json()
    # then the failed action ran again and squared off exactly the filled quantity
    (result,) = body["results"]
    assert (result["status"], result["reason"]) == (
        "SUCCESS",
        "Exit order processed: squaring off 10 filled",
    ), body
    assert _ledger(sim, follower) == [("BUY", 10, "COMPLETE"), ("SELL", 10, "COMPLETE")]
    assert _entry_sends(sim, follower, entry) == []
    action = OrderAction.objects.get()
    assert action.status == ActionStatus.DONE
    # and once more: nothing new (one action, one square-off order)
    again = api.post("/api/trades/exit", {"masterOrderId": "M-STUCK-2"}, format="json").json()
    assert again["results"][0]["status"] == "SUCCESS"
    assert len(sim.orders(follower.client_id)) == 2
    assert OrderAction.objects.count() == 1
    assert OrderMapping.objects.filter(leg=OrderMapping.Leg.EXIT).count() == 1


def test_exit_that_gave_up_is_run_again_by_the_admin_action(
    api, sim, worker, make_follower, short_budget, client, django_user_model, otp_login
):
    # given an exit that gave up on a stuck entry, which the sweeper then resolved (placed, filled 10)
    follower = make_follower()
    _exit_that_gave_up_on_a_stuck_entry(api, sim, follower, "M-STUCK-3")
    event = TradeEvent.objects.get(event_type=TradeEvent.EventType.EXIT)
    user = django_user_model.objects.create_superuser(username="ops", password="pw-ops-123", email="o@x.io")
    otp_login(client, user)
    # when an operator runs "Retry failed exit/modify/cancel actions" on the exit event
    response = client.post(
        reverse("admin:replication_tradeevent_changelist"),
        {"action": "retry_failed_actions", "_selected_action": [event.pk]},
        follow=True,
    )
    # then the action runs again and squares off exactly the filled quantity, once
    assert response.status_code == 200
    assert "1 failed actions of 1 exit/modify/cancel events run again." in response.content.decode()
    assert wait_for(lambda: _exit_settled("M-STUCK-3"))
    action = OrderAction.objects.get()
    assert (action.status, action.reason) == (
        ActionStatus.DONE,
        "Exit order processed: squaring off 10 filled",
    )
    assert _ledger(sim, follower) == [("BUY", 10, "COMPLETE"), ("SELL", 10, "COMPLETE")]
    assert AuditEvent.objects.filter(action="actions.retried", actor="admin:ops").count() == 1
    # and the service run again finds nothing failed: nothing is sent
    assert action_events.trade_events_retry_failed_actions(event_ids=[event.pk], actor="admin:ops") == []
    assert len(sim.orders(follower.client_id)) == 2


# ------------------------------------------------------------------ F3a: an entry waiting for its retry
def test_exit_of_a_retrying_entry_that_reached_the_broker_squares_it_off(api, sim, worker, make_follower):
    # given attempt 1 got an HTTP 502 (classified "not sent") but the order did reach the broker and filled
    follower = make_follower()
    entry = _entry(
        follower,
        "M-RETRY-1",
        status=Status.PENDING,
        attempts=1,
        reason="Retrying: placeorder: HTTP 502 from broker",
        submitted_at=timezone.now() - timedelta(seconds=1),
        next_attempt_at=timezone.now() + timedelta(seconds=30),
    )
    _at_broker(sim, follower, entry)
    # when the master exits
    body = api.post("/api/trades/exit", {"masterOrderId": "M-RETRY-1"}, format="json").json()
    # then the entry was reconciled by its tag (not cancelled locally) and its 10 squared off
    (result,) = body["results"]
    assert (result["status"], result["reason"]) == (
        "SUCCESS",
        "Exit order processed: squaring off 10 filled",
    ), body
    entry.refresh_from_db()
    assert (entry.status, entry.executed_quantity) == (Status.COMPLETED, 10)
    assert "Cancelled before placement" not in entry.reason
    assert _ledger(sim, follower) == [("BUY", 10, "COMPLETE"), ("SELL", 10, "COMPLETE")]
    # and the retry that was scheduled sends nothing when it runs
    assert placement.order_mapping_place(mapping_id=entry.pk).status == Status.COMPLETED
    assert _entry_sends(sim, follower, entry) == []
    assert len(sim.orders(follower.client_id)) == 2


def test_exit_of_a_retrying_entry_absent_from_the_book_fails_it_not_placed_and_sends_nothing(
    api, sim, worker, make_follower
):
    # given attempt 1 failed 5 s ago (past the 1.5 s reconcile grace) and its order is not at the broker
    follower = make_follower()
    entry = _entry(
        follower,
        "M-RETRY-2",
        status=Status.PENDING,
        attempts=1,
        reason="Retrying: placeorder: HTTP 502 from broker",
        submitted_at=timezone.now() - timedelta(seconds=5),
        next_attempt_at=timezone.now() + timedelta(seconds=30),
    )
    # when the master exits
    body = api.post("/api/trades/exit", {"masterOrderId": "M-RETRY-2"}, format="json").json()
    # then the entry is FAILED "not placed" by its tag lookup and the exit has nothing to do
    entry.refresh_from_db()
    assert entry.status == Status.FAILED
    assert "not placed" in entry.reason.lower()
    (result,) = body["results"]
    assert (result["status"], result["reason"]) == ("SKIPPED", "Order already failed or no order ID"), body
    # and nothing was sent, then or by the retry that was scheduled
    assert placement.order_mapping_place(mapping_id=entry.pk).status == Status.FAILED
    assert sim.orders(follower.client_id) == []
    assert sim.requests_log(follower.client_id, path="placeorder") == []


def test_modify_of_a_retrying_entry_waits_for_it_and_modifies_the_order_at_the_broker(
    api, sim, worker, make_follower
):
    # given attempt 1 of a LIMIT BUY 10 @ 500 got an HTTP 502 but the order is open at the broker
    follower = make_follower()
    entry = _entry(
        follower,
        "M-RETRY-3",
        status=Status.PENDING,
        attempts=1,
        order_type="LIMIT",
        price="500",
        reason="Retrying: placeorder: HTTP 502 from broker",
        submitted_at=timezone.now() - timedelta(seconds=1),
        next_attempt_at=timezone.now() + timedelta(seconds=30),
    )
    order = _at_broker(sim, follower, entry, order_type="LIMIT", price="500")
    # when the master modifies the price to 505
    api.post(
        "/api/trades/modify?wait=0",
        {"masterOrderId": "M-RETRY-3", "modification": {"price": "505"}},
        format="json",
    )
    # then the row of the possibly-placed order is not rewritten as if it had not been sent: the modify waits
    assert wait_for(lambda: "Waiting for the entry order (pending)" in OrderAction.objects.get().reason)
    entry.refresh_from_db()
    assert (entry.status, str(entry.price)) == (Status.PENDING, "500.0000")
    # when the retry runs (it looks the tag up first and finds the order)
    order_mapping_place_task.delay(entry.pk)
    # then the modify is applied to that order at the broker, and no second order was sent
    assert wait_for(lambda: OrderAction.objects.get().status == ActionStatus.DONE)
    assert OrderAction.objects.get().reason == "Order modified"
    assert sim.order(order["orderId"])["price"] in ("505", "505.0", "505.00", 505, 505.0)
    entry.refresh_from_db()
    assert (entry.status, entry.follower_order_id, str(entry.price)) == (
        Status.ACTIVE,
        order["orderId"],
        "505.0000",
    )
    assert len(sim.orders(follower.client_id)) == 1
    assert _entry_sends(sim, follower, entry) == []


# ------------------------------------------------------------ F7: statuses the client does not recognise
def test_exit_cancels_the_open_remainder_of_an_order_in_an_unrecognised_status(
    api, sim, worker, make_follower, monkeypatch
):
    # given a follower LIMIT order of 100 with 40 filled
    follower = make_follower()
    body = api.post(
        "/api/trades/replicate",
        {"trade": trade("M-UNREC-1", order_type="LIMIT", price="500")},
        format="json",
    ).json()
    order_id = body["results"][0]["follower_order_id"]
    sim.fill(order_id, quantity=40, price="500")
    # and the broker now reports the open order in a status the client does not know (a new NEST transient)
    monkeypatch.delitem(parsing._STATUSES, "open")
    # when the master exits
    body = api.post("/api/trades/exit", {"masterOrderId": "M-UNREC-1"}, format="json").json()
    # then the open 60 were cancelled and exactly the filled 40 squared off
    (result,) = body["results"]
    assert (result["status"], result["reason"]) == (
        "SUCCESS",
        "Exit order processed: cancelled 60 open, squaring off 40 filled",
    ), body
    entry, exit_order = sim.orders(follower.client_id)
    assert (entry["status"], entry["filledQuantity"], entry["cancelledQuantity"]) == ("CANCELLED", 40, 60)
    assert (exit_order["side"], exit_order["quantity"]) == ("SELL", 40)


def test_exit_goes_on_when_the_broker_refuses_to_cancel_an_order_in_an_unrecognised_status(
    api, sim, worker, make_follower, monkeypatch
):
    # given a filled follower MARKET order of 100 that the broker reports in a status the client does not know
    follower = make_follower()
    api.post("/api/trades/replicate", {"trade": trade("M-UNREC-2")}, format="json")
    assert _ledger(sim, follower) == [("BUY", 100, "COMPLETE")]
    monkeypatch.delitem(parsing._STATUSES, "complete")
    # when the master exits (the cancel it tries is refused: the order is not open at the broker)
    body = api.post("/api/trades/exit", {"masterOrderId": "M-UNREC-2"}, format="json").json()
    # then the exit does not wait for a change that will not come: the filled 100 are squared off, once
    (result,) = body["results"]
    assert (result["status"], result["reason"]) == (
        "SUCCESS",
        "Exit order processed: squaring off 100 filled",
    ), body
    assert [(side, qty) for side, qty, _status in _ledger(sim, follower)] == [("BUY", 100), ("SELL", 100)]
    assert len(sim.requests_log(follower.client_id, path="cancel")) == 1
