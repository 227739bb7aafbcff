"""The copy window on the NSE calendar and the price guard, end to end: the replicate API, a real worker, the
simulator over HTTP, and the clock moved with time-machine (it moves the wall clock of every thread, the
simulator's included; asyncio's monotonic clock is left alone, so the in-process simulator keeps running).
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, BrokerCredential, MasterSettings
from replication.market_calendar import IST
from replication.models import MasterTrade, OrderMapping, order_tag_for
from tests.integration.replication.conftest import settled, trade, wait_for
from tests.integration.replication.test_control_panel import _row

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

A_TUESDAY = date(2026, 12, 1)
CHRISTMAS = date(2026, 12, 25)
MASTER_USER = "CTM7001"


def at(day: date, clock: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(clock), tzinfo=IST)


def _window(on: bool) -> None:
    MasterSettings.objects.update_or_create(
        pk=MasterSettings.SINGLETON_ID, defaults={"enforce_copy_window": on}
    )


def _replicate(api, trade_id: str, **fields) -> dict:
    response = api.post("/api/trades/replicate", {"trade": trade(trade_id, **fields)}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def _result(body: dict, follower: Account) -> dict:
    return next(r for r in body["results"] if r["follower_id"] == follower.account_id)


def _tags(sim, follower: Account) -> list[str]:
    return [o["orderTag"] for o in sim.orders(follower.client_id)]


def _tag(master_order_id: str, follower: Account, leg: str) -> str:
    return order_tag_for(master_order_id=master_order_id, follower_pk=follower.pk, leg=leg)


def _exit(api, master_order_id: str) -> None:
    response = api.post("/api/trades/exit", {"masterOrderId": master_order_id}, format="json")
    assert response.status_code == 200, response.content


def _master(sim) -> Account:
    """The active master with a live session (the price guard reads the last price with it)."""
    sim.create_account(MASTER_USER, cash=Decimal("100000000"))
    account = Account.objects.create(
        account_id="MASTER-W", role=Account.Role.MASTER, client_id=MASTER_USER, api_flavor="openapi"
    )
    BrokerCredential.objects.create(
        account=account,
        access_token=sim.issue_session(MASTER_USER),
        session_status=BrokerCredential.SessionStatus.VALID,
        session_obtained_at=timezone.now(),
        last_verified_at=timezone.now(),
    )
    return account


@pytest.fixture
def master(sim, engine) -> Account:
    return _master(sim)


# ---------------------------------------------------------------- copy window
def test_out_of_window_entry_is_skipped_but_the_exit_of_an_earlier_copy_reaches_the_simulator(
    api, sim, worker, make_follower
):
    with time_machine.travel(at(A_TUESDAY, "15:20:00"), tick=True) as clock:
        # given the rule on and an entry copied at the window's last second
        _window(True)
        follower = make_follower()
        first = _replicate(api, "M-WIN-1")
        assert _result(first, follower)["status"] == "SUCCESS"
        # when the master enters again after the window, then exits the first trade
        clock.move_to(at(A_TUESDAY, "15:20:01"))
        late = _replicate(api, "M-WIN-2")
        _exit(api, "M-WIN-1")
        assert wait_for(lambda: settled("M-WIN-1"), timeout=15)
        # then the late entry is skipped with the window, and only the first entry and its exit were sent
        result = _result(late, follower)
        assert (result["status"], result["reason"]) == ("SKIPPED", "Outside the copy window 09:15–15:20 IST")
        assert wait_for(lambda: len(_tags(sim, follower)) == 2)
        assert _tags(sim, follower) == [_tag("M-WIN-1", follower, "ENTRY"), _tag("M-WIN-1", follower, "EXIT")]
        assert [o["side"] for o in sim.orders(follower.client_id)] == ["BUY", "SELL"]


def test_window_is_per_follower(api, sim, worker, make_follower):
    with time_machine.travel(at(A_TUESDAY, "09:30"), tick=True):
        # given a follower with the default window and one that copies only from 10:00
        _window(True)
        early = make_follower()
        late = make_follower(window_start=time(10, 0))
        # when
        body = _replicate(api, "M-WIN-3")
        # then
        assert _result(body, early)["status"] == "SUCCESS"
        assert _result(body, late)["reason"] == "Outside the copy window 10:00–15:20 IST"
        assert sim.orders(late.client_id) == []


def test_on_an_nse_holiday_entries_are_skipped_and_exits_still_flow(api, sim, worker, make_follower):
    with time_machine.travel(at(CHRISTMAS, "11:00"), tick=True):
        # given a trade copied while the rule was off, then the operator switches it on
        follower = make_follower()
        assert _result(_replicate(api, "M-HOL-1"), follower)["status"] == "SUCCESS"
        _window(True)
        # when the master enters again and exits the first trade
        body = _replicate(api, "M-HOL-2")
        _exit(api, "M-HOL-1")
        assert wait_for(lambda: settled("M-HOL-1"), timeout=15)
        # then the entry is skipped naming the holiday; the exit reached the simulator
        assert _result(body, follower)["reason"] == "Not an NSE trading day: Christmas Day"
        assert wait_for(lambda: len(_tags(sim, follower)) == 2)
        assert _tags(sim, follower) == [_tag("M-HOL-1", follower, "ENTRY"), _tag("M-HOL-1", follower, "EXIT")]


def test_rule_off_copies_on_a_holiday_at_night(api, sim, worker, make_follower):
    with time_machine.travel(at(CHRISTMAS, "23:00"), tick=True):
        # given the rule off (the tests' and make run's default)
        follower = make_follower()
        # when / then
        assert _result(_replicate(api, "M-OFF-1"), follower)["status"] == "SUCCESS"


def test_operator_extra_trading_day_opens_a_weekend_session(api, sim, worker, make_follower):
    muhurat = date(2026, 11, 8)  # a Sunday
    with time_machine.travel(at(muhurat, "18:30"), tick=True):
        # given a Muhurat session the operator added, and a follower whose window covers it
        MasterSettings.objects.update_or_create(
            pk=MasterSettings.SINGLETON_ID,
            defaults={"enforce_copy_window": True, "extra_trading_days": ["2026-11-08"]},
        )
        follower = make_follower(window_start=time(18, 0), window_end=time(19, 15))
        closed = make_follower()
        # when
        body = _replicate(api, "M-MUH-1")
        # then
        assert _result(body, follower)["status"] == "SUCCESS"
        assert _result(body, closed)["reason"] == "Outside the copy window 09:15–15:20 IST"


def test_preview_shows_the_window_reason(api, sim, engine, make_follower):
    with time_machine.travel(at(A_TUESDAY, "08:00"), tick=True):
        # given
        _window(True)
        follower = make_follower()
        # when
        from replication.services.fanout import TradeInput, trade_fan_out_preview

        rows = trade_fan_out_preview(trade=TradeInput(id="M-PRE-1", symbol="SBIN", side="BUY", quantity=10))
        # then
        (row,) = [r for r in rows if r.follower == follower]
        assert row.reason == "Outside the copy window 09:15–15:20 IST"
        assert OrderMapping.objects.count() == 0


def test_control_panel_preview_shows_both_rules(
    client, django_user_model, otp_login, sim, engine, make_follower
):
    with time_machine.travel(at(A_TUESDAY, "10:00"), tick=True):
        # given a follower outside its window and one whose price guard turns a stale LIMIT into MARKET
        _window(True)
        _master(sim)
        sim.set_price("NSE", "SBIN", "800")
        make_follower("F-LATE", window_start=time(11, 0))
        make_follower("F-GUARD", price_guard_percent=Decimal("1"), price_guard_action="MARKET")
        otp_login(client, django_user_model.objects.create_superuser(username="boss", password="pw-boss-123"))
        fields = {"symbol": "SBIN", "exchange": "NSE", "side": "BUY", "quantity": "7", "product_type": "MIS"}
        fields.update(order_type="LIMIT", price="700", preview="1")
        # when
        html = client.post(reverse("admin:control-manual-copy"), fields).content.decode()
        # then
        assert "Outside the copy window 11:00–15:20 IST" in _row(html, "F-LATE")
        assert "Sent as MARKET: LIMIT price ₹700 is 12.50% from the last price ₹800" in _row(html, "F-GUARD")
        assert not OrderMapping.objects.exists()


def test_capture_queues_a_new_master_order_while_the_market_is_closed(api, sim, worker, make_follower):
    with time_machine.travel(at(A_TUESDAY, "16:05"), tick=True):
        # given the rule on after the close (the master's session is issued on that day)
        _window(True)
        _master(sim)
        follower = make_follower()
        placed = sim.place_as_user(MASTER_USER, exchange="NSE", symbol="SBIN", side="BUY", quantity=5)
        order_id = placed["orderId"]
        # when the poll sees it
        assert api.post("/api/alice/poll").json()["newTrades"] == 1
        # then it waits for the operator, saying why, and nothing was sent
        queued = MasterTrade.objects.get(broker_order_id=order_id)
        assert queued.state == MasterTrade.State.NEW
        assert queued.note == "Queued: Outside NSE market hours 09:15–15:30 IST"
        assert sim.orders(follower.client_id) == []


def test_capture_closes_copies_while_the_market_is_closed(api, sim, worker, make_follower):
    with time_machine.travel(at(A_TUESDAY, "16:05"), tick=True):
        # given a master entry copied while the rule was off, then the rule switched on
        _master(sim)
        follower = make_follower()
        sim.place_as_user(MASTER_USER, exchange="NSE", symbol="SBIN", side="BUY", quantity=5)
        assert api.post("/api/alice/poll").json()["newTrades"] == 1
        assert wait_for(lambda: len(sim.orders(follower.client_id)) == 1)
        _window(True)
        # when the master sells its position after the close
        sim.place_as_user(MASTER_USER, exchange="NSE", symbol="SBIN", side="SELL", quantity=5)
        assert api.post("/api/alice/poll").json()["newTrades"] == 1
        # then the follower's copy is closed all the same
        assert wait_for(lambda: len(sim.orders(follower.client_id)) == 2, timeout=15)
        assert [(o["side"], o["quantity"]) for o in sim.orders(follower.client_id)] == [
            ("BUY", 5),
            ("SELL", 5),
        ]


# ---------------------------------------------------------------- after-market orders
def _amo(on: bool) -> None:
    MasterSettings.objects.update_or_create(
        pk=MasterSettings.SINGLETON_ID, defaults={"enforce_copy_window": True, "allow_amo": on}
    )


def test_amo_allowed_sends_an_after_market_order_while_the_market_is_closed(api, sim, worker, make_follower):
    with time_machine.travel(at(A_TUESDAY, "20:00"), tick=True):
        # given AMO allowed, after the close
        _amo(True)
        follower = make_follower()
        # when
        body = _replicate(api, "M-AMO-1")
        assert wait_for(lambda: settled("M-AMO-1"), timeout=15)
        # then the simulator holds an AMO order, pending for the next session
        result = _result(body, follower)
        assert result["note"] == "Sent as AMO (after-market order): Outside NSE market hours 09:15–15:30 IST"
        (order,) = sim.orders(follower.client_id)
        assert (order["complexity"], order["status"], order["filledQuantity"]) == ("AMO", "OPEN", 0)
        assert OrderMapping.objects.get(master_order_id="M-AMO-1").amo is True


def test_amo_allowed_capture_copies_instead_of_queueing(api, sim, worker, make_follower):
    with time_machine.travel(at(A_TUESDAY, "16:05"), tick=True):
        # given
        _amo(True)
        _master(sim)
        follower = make_follower()
        placed = sim.place_as_user(MASTER_USER, exchange="NSE", symbol="SBIN", side="BUY", quantity=5)
        # when
        assert api.post("/api/alice/poll").json()["newTrades"] == 1
        # then
        assert MasterTrade.objects.get(broker_order_id=placed["orderId"]).state == MasterTrade.State.COPIED
        assert wait_for(lambda: len(sim.orders(follower.client_id)) == 1)
        assert sim.orders(follower.client_id)[0]["complexity"] == "AMO"


def test_amo_off_skips_and_regular_orders_stay_regular(api, sim, worker, make_follower):
    with time_machine.travel(at(A_TUESDAY, "10:00"), tick=True) as clock:
        # given the rule on, AMO off
        _amo(False)
        follower = make_follower()
        # when one entry inside the window and one after the close
        _replicate(api, "M-AMO-2")
        clock.move_to(at(A_TUESDAY, "20:00"))
        late = _replicate(api, "M-AMO-3")
        # then
        assert _result(late, follower)["reason"] == "Outside the copy window 09:15–15:20 IST"
        (order,) = sim.orders(follower.client_id)
        assert order["complexity"] == "REGULAR"


# ---------------------------------------------------------------- price guard
def test_stale_limit_is_skipped_for_a_skip_follower_and_sent_as_market_for_a_market_follower(
    api, sim, worker, master, make_follower
):
    # given the last price 800 and a master LIMIT at 700 (12.5% away)
    sim.set_price("NSE", "SBIN", "800")
    skipper = make_follower(price_guard_percent=Decimal("5"))
    marketer = make_follower(price_guard_percent=Decimal("5"), price_guard_action="MARKET")
    unguarded = make_follower()
    # when
    body = _replicate(api, "M-PG-1", order_type="LIMIT", price="700")
    assert wait_for(lambda: settled("M-PG-1"), timeout=15)
    # then
    assert _result(body, skipper)["reason"] == (
        "Price guard: LIMIT price ₹700 is 12.50% from the last price ₹800 (price guard 5%)"
    )
    assert sim.orders(skipper.client_id) == []
    (sent,) = sim.orders(marketer.client_id)
    assert (sent["orderType"], sent["quantity"], sent["status"]) == ("MARKET", 100, "COMPLETE")
    assert _result(body, marketer)["note"].startswith("Sent as MARKET: LIMIT price ₹700 is 12.50%")
    (plain,) = sim.orders(unguarded.client_id)
    assert (plain["orderType"], plain["price"]) == ("LIMIT", "700.00")
    # and the last price was read once, with the master's session
    assert len(sim.requests_log(MASTER_USER, path="/open-api/od/ChartAPIService/api/chart/history")) == 1


def test_limit_near_the_last_price_passes_the_guard(api, sim, worker, master, make_follower):
    # given
    sim.set_price("NSE", "SBIN", "800")
    follower = make_follower(price_guard_percent=Decimal("5"))
    # when
    body = _replicate(api, "M-PG-2", order_type="LIMIT", price="790")
    # then
    assert _result(body, follower)["status"] == "SUCCESS"
    (sent,) = sim.orders(follower.client_id)
    assert (sent["orderType"], sent["price"]) == ("LIMIT", "790.00")


def test_guard_without_a_last_price_skips(api, sim, worker, make_follower):
    # given no master (no session to read the last price with)
    follower = make_follower(price_guard_percent=Decimal("5"))
    # when
    body = _replicate(api, "M-PG-3", order_type="LIMIT", price="790")
    # then
    assert _result(body, follower)["reason"] == "Price guard could not be checked: no last price"
    assert sim.orders(follower.client_id) == []


def test_captured_stale_limit_goes_through_the_guard(api, sim, worker, master, make_follower):
    # given a master LIMIT resting far below the market, first seen by the poll (as after a capture gap)
    sim.set_price("NSE", "SBIN", "800")
    follower = make_follower(price_guard_percent=Decimal("2"))
    order_id = sim.place_as_user(
        MASTER_USER, exchange="NSE", symbol="SBIN", side="BUY", quantity=5, order_type="LIMIT", price="700"
    )["orderId"]
    # when
    assert api.post("/api/alice/poll").json()["newTrades"] == 1
    # then
    mapping = OrderMapping.objects.get(master_order_id=order_id)
    assert (mapping.status, mapping.reason) == (
        OrderMapping.Status.SKIPPED,
        "Price guard: LIMIT price ₹700 is 12.50% from the last price ₹800 (price guard 2%)",
    )
    assert sim.orders(follower.client_id) == []
