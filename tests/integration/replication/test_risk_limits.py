"""MasterSettings applied: daily loss (follower limit and % of capital) from real simulator positions, risk
snapshots at fan-out, max concurrent trades, and auto-liquidation, end to end with a real worker.

Unrealised losses are made with `sim.set_price` on legacy-API followers: the open-api positions carry no last
price, so there only realised P&L is known (aliceblue-openapi.md 5.7).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Account, AuditEvent, MasterSettings
from replication import states
from replication.models import FollowerRiskSnapshot, OrderMapping, TradeEvent, order_tag_for
from replication.selectors import open_copied_trade_counts
from replication.services.risk_snapshot import follower_risk_snapshot_refresh
from replication.tasks import follower_risk_snapshot_refresh_task, risk_snapshot_refresh_task
from tests.integration.replication.conftest import settled, trade, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

Status = OrderMapping.Status


def _replicate(api, trade_id: str, **fields) -> dict:
    response = api.post("/api/trades/replicate", {"trade": trade(trade_id, **fields)}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def _result(body: dict, follower: Account) -> dict:
    return next(r for r in body["results"] if r["follower_id"] == follower.account_id)


def _master_settings(**values) -> MasterSettings:
    row, _ = MasterSettings.objects.update_or_create(pk=MasterSettings.SINGLETON_ID, defaults=values)
    return row


def _requests(sim, follower: Account, path: str) -> int:
    return len(sim.requests_log(follower.client_id, path=path))


@pytest.fixture
def make_legacy_follower(make_follower):
    """A follower on the legacy API: its positions carry the unrealised P&L (open-api ones have no LTP)."""

    def make(*args, **kwargs) -> Account:
        follower = make_follower(*args, **kwargs)
        Account.objects.filter(pk=follower.pk).update(api_flavor=Account.ApiFlavor.LEGACY)
        follower.refresh_from_db()
        return follower

    return make


# ---------------------------------------------------------------- daily loss from simulator positions
def test_unrealised_loss_beyond_max_daily_loss_skips_entries_and_the_exit_still_goes_through(
    api, sim, worker, make_legacy_follower
):
    # given a copied BUY of 100 SBIN filled at 800, then the price falls to 700 (-10,000 unrealised)
    sim.set_price("NSE", "SBIN", "800")
    follower = make_legacy_follower(max_daily_loss=Decimal("5000"))
    assert _result(_replicate(api, "M-LOSS-1"), follower)["status"] == "SUCCESS"
    sim.set_price("NSE", "SBIN", "700")
    # when the master places another order
    body = _replicate(api, "M-LOSS-2")
    # then it is skipped with the seed-style reason and nothing is sent
    result = _result(body, follower)
    assert result["status"] == "SKIPPED"
    assert result["reason"] == "Daily loss ₹10000 reached max: ₹5000.00"
    assert [o["orderTag"] for o in sim.orders(follower.client_id)] == [
        order_tag_for(master_order_id="M-LOSS-1", follower_pk=follower.pk, leg="ENTRY")
    ]
    # when the master exits the first order
    exit_body = api.post("/api/trades/exit", {"masterOrderId": "M-LOSS-1"}, format="json").json()
    # then the loss-limited follower still gets out: one SELL of exactly 100
    assert _result(exit_body, follower)["status"] == "SUCCESS", exit_body
    _entry, exit_order = sim.orders(follower.client_id)
    assert (exit_order["side"], exit_order["quantity"]) == ("SELL", 100)
    assert exit_order["orderTag"] == OrderMapping.objects.get(follower=follower, leg="EXIT").order_tag


def test_realised_loss_counts_towards_max_daily_loss(api, sim, worker, make_follower):
    # given the follower bought 100 at 800 and sold them at 760 on its own (-4,000 realised, flat)
    sim.set_price("NSE", "SBIN", "800")
    follower = make_follower(max_daily_loss=Decimal("3000"))
    sim.place_as_user(follower.client_id, exchange="NSE", symbol="SBIN", side="BUY", quantity=100)
    sim.set_price("NSE", "SBIN", "760")
    sim.place_as_user(follower.client_id, exchange="NSE", symbol="SBIN", side="SELL", quantity=100)
    # when
    body = _replicate(api, "M-LOSS-3")
    # then
    assert _result(body, follower)["reason"] == "Daily loss ₹4000 reached max: ₹3000.00"
    assert len(sim.orders(follower.client_id)) == 2  # only its own two


def test_loss_below_max_daily_loss_is_copied(api, sim, worker, make_legacy_follower):
    # given -1,000 against a limit of 5,000
    sim.set_price("NSE", "SBIN", "800")
    follower = make_legacy_follower(max_daily_loss=Decimal("5000"))
    sim.place_as_user(follower.client_id, exchange="NSE", symbol="SBIN", side="BUY", quantity=100)
    sim.set_price("NSE", "SBIN", "790")
    # when
    body = _replicate(api, "M-LOSS-4")
    # then
    assert _result(body, follower)["status"] == "SUCCESS"


def test_loss_beyond_the_master_settings_percentage_of_opening_cash_skips(
    api, sim, worker, make_legacy_follower
):
    # given opening cash 100,000 and -6,000 today (5% is 5,000); no follower limit
    sim.set_price("NSE", "SBIN", "800")
    follower = make_legacy_follower()
    sim.create_account(follower.client_id, cash=Decimal("100000"))
    sim.place_as_user(follower.client_id, exchange="NSE", symbol="SBIN", side="BUY", quantity=100)
    sim.set_price("NSE", "SBIN", "740")
    rich = make_legacy_follower()  # the same loss is far below 5% of its 100,000,000
    sim.place_as_user(rich.client_id, exchange="NSE", symbol="SBIN", side="BUY", quantity=100)
    # when
    body = _replicate(api, "M-PCT-1")
    # then
    assert _result(body, follower)["reason"] == "Daily loss ₹6000 reached 5.00% of capital ₹100000.00"
    assert _result(body, rich)["status"] == "SUCCESS"


def test_percentage_rule_follows_the_master_settings_row(api, sim, worker, make_legacy_follower):
    # given the same -6,000 on 100,000 but a 10% limit
    _master_settings(max_daily_loss_percentage=Decimal("10"))
    sim.set_price("NSE", "SBIN", "800")
    follower = make_legacy_follower()
    sim.create_account(follower.client_id, cash=Decimal("100000"))
    sim.place_as_user(follower.client_id, exchange="NSE", symbol="SBIN", side="BUY", quantity=100)
    sim.set_price("NSE", "SBIN", "740")
    # when
    body = _replicate(api, "M-PCT-2", quantity=10)
    # then
    assert _result(body, follower)["status"] == "SUCCESS", body


# ---------------------------------------------------------------- risk snapshots
def test_refresh_stores_realised_unrealised_and_opening_cash(sim, engine, make_legacy_follower):
    # given -4,000 realised and -500 unrealised
    sim.set_price("NSE", "SBIN", "800")
    follower = make_legacy_follower()
    sim.create_account(follower.client_id, cash=Decimal("250000"))
    user = follower.client_id
    sim.place_as_user(user, exchange="NSE", symbol="SBIN", side="BUY", quantity=100)
    sim.set_price("NSE", "SBIN", "760")
    sim.place_as_user(user, exchange="NSE", symbol="SBIN", side="SELL", quantity=100)
    sim.place_as_user(user, exchange="NSE", symbol="SBIN", side="BUY", quantity=50)
    sim.set_price("NSE", "SBIN", "750")
    # when
    snapshot = follower_risk_snapshot_refresh(follower_pk=follower.pk)
    # then
    snapshot = FollowerRiskSnapshot.objects.get(follower=follower)
    assert (snapshot.realised_pnl, snapshot.unrealised_pnl) == (Decimal("-4000.00"), Decimal("-500.00"))
    assert snapshot.opening_cash == Decimal("250000.00")
    assert snapshot.error == ""
    assert timezone.now() - snapshot.fetched_at < timedelta(seconds=10)
    # and it cost exactly the two non-order calls
    assert _requests(sim, follower, "positionBook") == 1
    assert _requests(sim, follower, "getRmsLimits") == 1


def test_beat_task_refreshes_every_active_follower_with_a_valid_session(sim, worker, make_follower):
    # given
    live = [make_follower(), make_follower()]
    no_session = make_follower(session=False)
    inactive = make_follower()
    Account.objects.filter(pk=inactive.pk).update(status=Account.Status.INACTIVE)
    # when
    risk_snapshot_refresh_task.delay()
    # then
    assert wait_for(lambda: FollowerRiskSnapshot.objects.filter(fetched_at__isnull=False).count() == 2)
    assert set(FollowerRiskSnapshot.objects.values_list("follower_id", flat=True)) == {f.pk for f in live}
    assert _requests(sim, no_session, "positions") == _requests(sim, inactive, "positions") == 0


def test_a_failed_refresh_records_the_error_and_keeps_the_last_figures(sim, engine, make_follower):
    # given a good snapshot, then the broker fails
    follower = make_follower()
    follower_risk_snapshot_refresh(follower_pk=follower.pk)
    sim.add_fault(user_id=follower.client_id, endpoint="positions", mode="http500")
    # when
    follower_risk_snapshot_refresh(follower_pk=follower.pk)
    # then
    snapshot = FollowerRiskSnapshot.objects.get(follower=follower)
    assert snapshot.error.startswith("Positions/limits unreadable")
    assert snapshot.opening_cash == Decimal("100000000.00")


def test_fan_out_uses_a_fresh_snapshot_without_a_broker_read(api, sim, worker, make_legacy_follower):
    # given a loss captured by a refresh
    sim.set_price("NSE", "SBIN", "800")
    follower = make_legacy_follower(max_daily_loss=Decimal("5000"))
    sim.place_as_user(follower.client_id, exchange="NSE", symbol="SBIN", side="BUY", quantity=100)
    sim.set_price("NSE", "SBIN", "700")
    follower_risk_snapshot_refresh(follower_pk=follower.pk)
    reads = (_requests(sim, follower, "positionBook"), _requests(sim, follower, "getRmsLimits"))
    # when
    body = _replicate(api, "M-SNAP-1")
    # then the snapshot decided: skipped, and positions/limits were not read again
    assert _result(body, follower)["reason"] == "Daily loss ₹10000 reached max: ₹5000.00"
    assert (_requests(sim, follower, "positionBook"), _requests(sim, follower, "getRmsLimits")) == reads


def test_fan_out_reads_live_when_the_snapshot_is_stale(api, sim, worker, make_legacy_follower, settings):
    # given a snapshot without loss, older than the max age, and a loss at the broker since
    settings.REPLICATION_RISK_SNAPSHOT_MAX_AGE = 60
    sim.set_price("NSE", "SBIN", "800")
    follower = make_legacy_follower(max_daily_loss=Decimal("5000"))
    follower_risk_snapshot_refresh(follower_pk=follower.pk)
    FollowerRiskSnapshot.objects.filter(follower=follower).update(
        fetched_at=timezone.now() - timedelta(seconds=61)
    )
    sim.place_as_user(follower.client_id, exchange="NSE", symbol="SBIN", side="BUY", quantity=100)
    sim.set_price("NSE", "SBIN", "700")
    # when
    body = _replicate(api, "M-SNAP-2")
    # then the live read saw the loss
    assert _result(body, follower)["reason"] == "Daily loss ₹10000 reached max: ₹5000.00"
    assert _requests(sim, follower, "positionBook") == 2


def test_fan_out_reads_live_when_the_last_refresh_failed(api, sim, worker, make_legacy_follower):
    # given a fresh-looking snapshot whose last read failed
    sim.set_price("NSE", "SBIN", "800")
    follower = make_legacy_follower(max_daily_loss=Decimal("5000"))
    FollowerRiskSnapshot.objects.create(
        follower=follower, opening_cash=Decimal("1"), fetched_at=timezone.now(), error="boom"
    )
    sim.place_as_user(follower.client_id, exchange="NSE", symbol="SBIN", side="BUY", quantity=100)
    sim.set_price("NSE", "SBIN", "700")
    # when
    body = _replicate(api, "M-SNAP-3")
    # then
    assert _result(body, follower)["reason"] == "Daily loss ₹10000 reached max: ₹5000.00"


# ---------------------------------------------------------------- max concurrent trades
def test_max_concurrent_trades_skips_until_a_trade_is_exited(api, sim, worker, make_follower):
    # given a cap of 2 open copied trades
    _master_settings(max_concurrent_trades=2)
    follower = make_follower()
    assert _result(_replicate(api, "M-CC-1"), follower)["status"] == "SUCCESS"
    assert _result(_replicate(api, "M-CC-2"), follower)["status"] == "SUCCESS"
    # when a third comes
    third = _result(_replicate(api, "M-CC-3"), follower)
    # then
    assert third == {**third, "status": "SKIPPED", "reason": "Max concurrent trades reached: 2"}
    assert len(sim.orders(follower.client_id)) == 2
    # when one is exited
    api.post("/api/trades/exit", {"masterOrderId": "M-CC-1"}, format="json")
    assert wait_for(lambda: settled("M-CC-1"))
    # then the next one is copied
    assert _result(_replicate(api, "M-CC-4"), follower)["status"] == "SUCCESS"


def _mapping(follower, master_order_id, status, *, leg="ENTRY", event=None) -> OrderMapping:
    event = event or TradeEvent.objects.create(
        master_order_id=master_order_id, symbol="SBIN", side="BUY", quantity=1
    )
    return OrderMapping.objects.create(
        trade_event=event,
        master_order_id=master_order_id,
        follower=follower,
        leg=leg,
        order_tag=order_tag_for(master_order_id=master_order_id, follower_pk=follower.pk, leg=leg),
        symbol="SBIN",
        side="BUY" if leg == "ENTRY" else "SELL",
        quantity=1,
        status=status,
    )


def test_open_copied_trades_count_entries_of_today_without_a_closing_exit(engine, make_follower):
    # given
    follower, other = make_follower(), make_follower()
    for n, status in enumerate(
        [Status.PENDING, Status.SUBMITTING, Status.UNKNOWN, Status.ACTIVE, Status.PARTIAL, Status.COMPLETED]
    ):
        _mapping(follower, f"OPEN-{n}", status)  # 6 open
    for n, status in enumerate([Status.SKIPPED, Status.FAILED, Status.REJECTED, Status.CANCELLED]):
        _mapping(follower, f"NEVER-{n}", status)  # never a position
    exited = _mapping(follower, "EXITED", Status.COMPLETED)
    _mapping(follower, "EXITED", Status.ACTIVE, leg="EXIT", event=exited.trade_event)
    exit_failed = _mapping(follower, "EXIT-FAILED", Status.COMPLETED)  # still open: the exit did not close it
    _mapping(follower, "EXIT-FAILED", Status.REJECTED, leg="EXIT", event=exit_failed.trade_event)
    yesterday = _mapping(follower, "YESTERDAY", Status.COMPLETED)
    OrderMapping.objects.filter(pk=yesterday.pk).update(created_at=timezone.now() - timedelta(days=1))
    _mapping(other, "OPEN-0", Status.ACTIVE)
    # when
    counts = open_copied_trade_counts(follower_pks=[follower.pk, other.pk])
    # then
    assert counts == {follower.pk: 7, other.pk: 1}


# ---------------------------------------------------------------- auto-liquidation
def _loss_with_two_copied_trades(api, sim, make_legacy_follower, **risk) -> Account:
    """A filled copied BUY of 100 at 800 (now 700) and an open copied LIMIT BUY at 500."""
    sim.set_price("NSE", "SBIN", "800")
    follower = make_legacy_follower(**risk)
    bystander = make_legacy_follower("BYSTANDER", allowed_instruments=["RELIANCE"])
    assert bystander
    assert _result(_replicate(api, "M-LIQ-1"), follower)["status"] == "SUCCESS"
    body = _replicate(api, "M-LIQ-2", order_type="LIMIT", price="500")
    assert _result(body, follower)["status"] == "SUCCESS"
    sim.set_price("NSE", "SBIN", "700")
    return follower


def test_auto_liquidate_exits_every_open_copied_trade_and_stops_copying(
    api, sim, worker, make_legacy_follower
):
    # given
    _master_settings(auto_liquidate_on_loss=True)
    follower = _loss_with_two_copied_trades(api, sim, make_legacy_follower, max_daily_loss=Decimal("5000"))
    # when the snapshot refresh runs on the worker
    follower_risk_snapshot_refresh_task.delay(follower.pk)
    # then the filled trade is squared off and the open order cancelled
    assert wait_for(
        lambda: (
            OrderMapping.objects.filter(follower=follower, leg="EXIT", status__in=states.PLACED).exists()
            and OrderMapping.objects.filter(master_order_id="M-LIQ-2", status=Status.CANCELLED).exists()
        ),
        timeout=15,
    )
    filled, resting, square_off = sim.orders(follower.client_id)
    assert (filled["status"], resting["status"]) == ("COMPLETE", "CANCELLED")
    assert (square_off["side"], square_off["quantity"], square_off["product"]) == (
        "SELL",
        100,
        filled["product"],
    )
    exit_leg = OrderMapping.objects.get(follower=follower, leg="EXIT")
    assert (exit_leg.master_order_id, square_off["orderTag"]) == ("M-LIQ-1", exit_leg.order_tag)
    assert TradeEvent.objects.get(dedupe_key="EXIT:M-LIQ-1").source == TradeEvent.Source.RISK
    # and copy trading is stopped, audited
    follower.refresh_from_db()
    assert (follower.copy_trading_active, follower.stopped_by) == (False, "auto-liquidate")
    audit = AuditEvent.objects.get(action="follower.auto_liquidated")
    assert audit.target == follower.account_id
    assert audit.details["reason"] == "Daily loss ₹10000 reached max: ₹5000.00"
    assert audit.details["exited_master_orders"] == ["M-LIQ-1", "M-LIQ-2"]
    # and the bystander was not touched
    assert Account.objects.get(account_id="BYSTANDER").copy_trading_active is True
    # when the refresh runs again with the loss still there
    follower_risk_snapshot_refresh(follower_pk=follower.pk)
    # then nothing new is sent or audited
    assert len(sim.orders(follower.client_id)) == 3
    assert AuditEvent.objects.filter(action="follower.auto_liquidated").count() == 1
    # and a later master exit does not exit the follower twice
    api.post("/api/trades/exit", {"masterOrderId": "M-LIQ-1"}, format="json")
    assert wait_for(lambda: settled("M-LIQ-1"))
    assert len(sim.orders(follower.client_id)) == 3


def test_auto_liquidate_on_the_percentage_rule(api, sim, worker, make_legacy_follower):
    # given a follower without its own limit whose loss passes 5% of its opening cash
    _master_settings(auto_liquidate_on_loss=True)
    follower = _loss_with_two_copied_trades(api, sim, make_legacy_follower)
    sim.create_account(follower.client_id, cash=Decimal("150000"))  # 10,000 is 6.67%
    # when
    follower_risk_snapshot_refresh(follower_pk=follower.pk)
    # then
    follower.refresh_from_db()
    assert follower.stopped_by == "auto-liquidate"
    assert wait_for(lambda: len(sim.orders(follower.client_id)) == 3)
    assert AuditEvent.objects.get(action="follower.auto_liquidated").details["reason"] == (
        "Daily loss ₹10000 reached 5.00% of capital ₹150000.00"
    )


def test_no_liquidation_when_the_setting_is_off(api, sim, worker, make_legacy_follower):
    # given auto_liquidate_on_loss is off (the default)
    follower = _loss_with_two_copied_trades(api, sim, make_legacy_follower, max_daily_loss=Decimal("5000"))
    # when
    follower_risk_snapshot_refresh(follower_pk=follower.pk)
    # then the snapshot is stored, nothing else happens
    assert FollowerRiskSnapshot.objects.get(follower=follower).day_pnl == Decimal("-10000")
    follower.refresh_from_db()
    assert follower.copy_trading_active is True
    assert len(sim.orders(follower.client_id)) == 2
    assert not AuditEvent.objects.filter(action="follower.auto_liquidated").exists()
    assert not OrderMapping.objects.filter(leg="EXIT").exists()


def test_no_liquidation_below_the_limit(api, sim, worker, make_legacy_follower):
    # given
    _master_settings(auto_liquidate_on_loss=True)
    follower = _loss_with_two_copied_trades(
        api, sim, make_legacy_follower, max_daily_loss=Decimal("10000.01")
    )
    # when
    follower_risk_snapshot_refresh(follower_pk=follower.pk)
    # then
    follower.refresh_from_db()
    assert follower.copy_trading_active is True
    assert len(sim.orders(follower.client_id)) == 2
