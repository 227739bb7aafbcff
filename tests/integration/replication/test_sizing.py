"""Capital sizing and per-symbol multipliers end to end: capitals read from the simulator's limits once per
trading day, the quantities the simulator receives, modify re-scaling, the morning refresh, and the copy
preview showing how a quantity was computed."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import Account, BrokerCredential, MasterSettings
from accounts.selectors import market_today
from replication import risk
from replication.models import MasterTrade, OrderMapping
from replication.services.capital import capitals_refresh
from replication.services.risk_snapshot import follower_risk_snapshot_refresh
from tests.integration.replication.conftest import trade

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

MASTER_CASH = Decimal("1000000")
FOLLOWER_CASH = Decimal("200000")


@pytest.fixture
def master(engine, sim) -> Account:
    """The active master, with a simulator account holding 10,00,000 of opening cash and a live session."""
    sim.create_account("MASTER9", cash=MASTER_CASH)
    account = Account.objects.create(
        account_id="THE-MASTER", role=Account.Role.MASTER, client_id="MASTER9", api_flavor="openapi"
    )
    BrokerCredential.objects.create(
        account=account,
        access_token=sim.issue_session("MASTER9"),
        session_status=BrokerCredential.SessionStatus.VALID,
    )
    return account


@pytest.fixture
def capital_follower(sim, make_follower):
    """A follower in capital sizing whose simulator account holds 2,00,000 of opening cash."""

    def make(account_id: str = "F-CAPITAL", **risk_config) -> Account:
        follower = make_follower(account_id, sizing_mode="CAPITAL", max_quantity=10_000, **risk_config)
        sim.create_account(follower.client_id, cash=FOLLOWER_CASH)
        return follower

    return make


def _replicate(api, trade_id: str, **fields) -> dict:
    response = api.post("/api/trades/replicate", {"trade": trade(trade_id, **fields)}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def _result(body: dict, follower: Account) -> dict:
    return next(r for r in body["results"] if r["follower_id"] == follower.account_id)


def _limits_reads(sim, account: Account) -> int:
    return len(sim.requests_log(account.client_id, path="limits"))


# ---------------------------------------------------------------- capital sizing
def test_capital_follower_gets_its_share_and_capitals_are_read_once_a_day(
    api, sim, worker, master, capital_follower
):
    # given a follower with 2,00,000 against the master's 10,00,000, neither read today
    follower = capital_follower()
    # when the master buys 100 SBIN, then 55
    first = _replicate(api, "M-CAP-1", quantity=100)
    second = _replicate(api, "M-CAP-2", quantity=55)
    # then the simulator received 20 and 11 (0.2 of each)
    assert _result(first, follower)["status"] == "SUCCESS", first
    assert _result(second, follower)["status"] == "SUCCESS", second
    assert [o["quantity"] for o in sim.orders(follower.client_id)] == [20, 11]
    # and the result says how: master and follower limits were each read once for both trades (the loss rule's
    # opening cash included)
    assert _result(first, follower)["note"] == "Capital 2,00,000 / 10,00,000 × 1 = 0.2× of 100 (lot 1) -> 20"
    assert _limits_reads(sim, follower) == 1
    assert _limits_reads(sim, master) == 1
    follower.refresh_from_db()
    assert (follower.broker_capital, follower.broker_capital_day) == (FOLLOWER_CASH, market_today())


def test_capital_sizing_rounds_down_to_the_lot_of_an_nfo_contract(api, sim, worker, master, capital_follower):
    # given 3,00,000 against 10,00,000: 0.3 of 750 NIFTY options is 225 (3 lots of 75); of 600, 180 -> 150
    follower = capital_follower()
    sim.create_account(follower.client_id, cash=Decimal("300000"))
    nifty = {"symbol": "NIFTY26DEC26500CE", "exchange": "NFO", "product_type": "NRML"}
    # when
    exact = _replicate(api, "M-CAP-NFO-1", quantity=750, **nifty)
    rounded = _replicate(api, "M-CAP-NFO-2", quantity=600, **nifty)
    # then
    assert _result(exact, follower)["status"] == "SUCCESS", exact
    assert _result(rounded, follower)["status"] == "SUCCESS", rounded
    assert [o["quantity"] for o in sim.orders(follower.client_id)] == [225, 150]
    assert _result(rounded, follower)["note"].endswith("0.3× of 600 (lot 75) -> 150")


def test_fixed_capitals_need_no_broker_read(api, sim, worker, master, capital_follower):
    # given both capitals fixed by the operator
    follower = capital_follower()
    Account.objects.filter(pk=master.pk).update(capital_source="FIXED", fixed_capital=Decimal("500000"))
    Account.objects.filter(pk=follower.pk).update(capital_source="FIXED", fixed_capital=Decimal("250000"))
    # when
    body = _replicate(api, "M-CAP-FIX", quantity=10)
    # then half of 10, and limits() only for the loss rule's opening cash (the follower's, not the master's)
    assert _result(body, follower)["status"] == "SUCCESS", body
    assert [o["quantity"] for o in sim.orders(follower.client_id)] == [5]
    assert _limits_reads(sim, master) == 0


def test_unknown_master_capital_skips_with_the_reason_and_sends_nothing(api, sim, worker, capital_follower):
    # given no master account at all
    follower = capital_follower()
    # when
    body = _replicate(api, "M-CAP-NOMASTER", quantity=100)
    # then
    result = _result(body, follower)
    assert (result["status"], result["reason"]) == ("SKIPPED", risk.REASON_MASTER_CAPITAL_UNKNOWN)
    assert sim.orders(follower.client_id) == []


def test_master_capital_of_zero_skips(api, sim, worker, master, capital_follower):
    # given the master holds no cash
    follower = capital_follower()
    sim.create_account(master.client_id, cash=Decimal("0"))
    # when
    body = _replicate(api, "M-CAP-ZERO", quantity=100)
    # then
    assert _result(body, follower)["reason"] == risk.REASON_MASTER_CAPITAL_ZERO
    assert sim.orders(follower.client_id) == []


def test_unreadable_follower_capital_skips_and_the_next_trade_reads_again(
    api, sim, worker, master, capital_follower
):
    # given the broker answers this follower's limits() with a 500, once
    follower = capital_follower()
    sim.add_fault(user_id=follower.client_id, endpoint="limits", mode="http500", count=1)
    # when
    unread = _replicate(api, "M-CAP-UNREAD-1", quantity=100)
    read = _replicate(api, "M-CAP-UNREAD-2", quantity=100)
    # then no guess with real money: skipped, and sized once the read succeeds
    assert _result(unread, follower)["reason"] == risk.REASON_FOLLOWER_CAPITAL_UNKNOWN
    assert _result(read, follower)["status"] == "SUCCESS", read
    assert [o["quantity"] for o in sim.orders(follower.client_id)] == [20]


def test_a_session_refused_at_the_capital_read_skips_as_expired(api, sim, worker, master, capital_follower):
    # given the broker refuses this follower's session when its limits are read
    follower = capital_follower()
    sim.add_fault(user_id=follower.client_id, endpoint="limits", mode="session_expired")
    # when
    body = _replicate(api, "M-CAP-EXPIRED", quantity=100)
    # then
    assert _result(body, follower)["reason"] == risk.REASON_SESSION_EXPIRED
    assert BrokerCredential.objects.get(account=follower).session_status == "EXPIRED"
    assert sim.orders(follower.client_id) == []


def test_modify_rescales_a_capital_follower_with_todays_capitals(api, sim, worker, master, capital_follower):
    # given a capital follower (0.2) with an open LIMIT order of 20
    follower = capital_follower()
    body = _replicate(api, "M-CAP-MOD", quantity=100, order_type="LIMIT", price="500")
    order_id = _result(body, follower)["follower_order_id"]
    # when the master modifies to 300
    response = api.post(
        "/api/trades/modify", {"masterOrderId": "M-CAP-MOD", "modification": {"quantity": 300}}, format="json"
    )
    # then 0.2 of 300, and no second limits read
    assert response.status_code == 200, response.content
    assert sim.order(order_id)["quantity"] == 60
    assert OrderMapping.objects.get(follower=follower).quantity == 60
    assert _limits_reads(sim, follower) == _limits_reads(sim, master) == 1


def test_morning_refresh_reads_each_capital_once_a_day(sim, engine, master, capital_follower, make_follower):
    # given a capital follower and a multiplier follower (whose capital nothing needs)
    follower = capital_follower()
    other = make_follower("F-MULT")
    # when the beat refreshes twice
    first, second = capitals_refresh(), capitals_refresh()
    # then the master and the capital follower were read, once
    assert (first, second) == (2, 0)
    assert _limits_reads(sim, master) == _limits_reads(sim, follower) == 1
    assert _limits_reads(sim, other) == 0
    master.refresh_from_db()
    assert master.broker_capital == MASTER_CASH


def test_risk_snapshot_refresh_records_todays_capital_without_another_call(sim, engine, capital_follower):
    # given
    follower = capital_follower()
    # when the risk snapshot reads positions and limits
    follower_risk_snapshot_refresh(follower_pk=follower.pk)
    # then today's capital is kept from that read
    follower.refresh_from_db()
    assert (follower.broker_capital, follower.broker_capital_day) == (FOLLOWER_CASH, market_today())
    assert _limits_reads(sim, follower) == 1


# ---------------------------------------------------------------- per-symbol multipliers
def test_a_per_symbol_multiplier_changes_that_symbol_only(api, sim, worker, make_follower):
    # given NIFTY (any NIFTY contract, by underlying) at 2x and SBIN-EQ at 0.5x, the rest at 1x
    follower = make_follower(max_quantity=10_000, symbol_multipliers={"NIFTY": "2", "SBIN-EQ": "0.5"})
    # when
    nifty = _replicate(
        api, "M-SYM-1", symbol="NIFTY26DEC26500CE", exchange="NFO", product_type="NRML", quantity=75
    )
    sbin = _replicate(api, "M-SYM-2", symbol="SBIN", quantity=10)
    infy = _replicate(api, "M-SYM-3", symbol="INFY", quantity=10)
    # then
    for body in (nifty, sbin, infy):
        assert _result(body, follower)["status"] == "SUCCESS", body
    assert [(o["tradingSymbol"], o["quantity"]) for o in sim.orders(follower.client_id)] == [
        ("NIFTY26DEC26500CE", 150),
        ("SBIN-EQ", 5),
        ("INFY-EQ", 10),
    ]
    assert _result(nifty, follower)["note"] == "Multiplier for NIFTY: 2"


# ---------------------------------------------------------------- copy preview
def test_copy_preview_shows_the_capital_computation(
    client, django_user_model, otp_login, sim, master, capital_follower
):
    # given a queued master trade of 100 SBIN and a capital follower
    user = django_user_model.objects.create_superuser(username="boss", password="pw-boss-123")
    otp_login(client, user)
    capital_follower()
    MasterTrade.objects.create(
        account=master,
        broker_order_id="90001",
        symbol="SBIN",
        trading_symbol="SBIN-EQ",
        exchange="NSE",
        side="BUY",
        quantity=100,
        entry_quantity=100,
        order_type="MARKET",
        product_type="MIS",
        state=MasterTrade.State.NEW,
    )
    # when
    html = client.get(reverse("admin:control-copy", args=["90001"])).content.decode()
    # then
    assert "capital × 1" in html
    assert "Capital 2,00,000 / 10,00,000 × 1 = 0.2× of 100 (lot 1) -&gt; 20" in html
    assert not sim.orders()


def test_positions_expect_the_capital_share_once_capitals_are_known(
    client, django_user_model, otp_login, sim, engine, master, capital_follower
):
    # given the master holds 100 SBIN; one capital follower (0.2) has today's capitals, nothing copied yet
    user = django_user_model.objects.create_superuser(username="boss", password="pw-boss-123")
    otp_login(client, user)
    sim.place_as_user(master.client_id, exchange="NSE", symbol="SBIN", side="BUY", quantity=100)
    capital_follower()
    # when the panel is read before and after today's capitals are known
    before = client.get(reverse("admin:control-positions")).content.decode()
    capitals_refresh()
    after = client.get(reverse("admin:control-positions")).content.decode()
    # then unknown capitals show "?" (no drift claimed), known ones the expected 20 (drift: nothing copied)
    cell = r'<td>{}</td><td>0</td>\s*<td class="{}" data-follower="F-CAPITAL">'
    assert re.search(cell.format(r"\?", ""), before), before
    assert re.search(cell.format("20", "drift"), after), after


def test_a_capital_share_above_the_freeze_quantity_is_sent_as_slices(
    api, sim, worker, master, capital_follower
):
    # given 30,00,000 against 10,00,000: 3 x 750 NIFTY options = 2,250, above NIFTY's freeze of 1,800
    MasterSettings.objects.update_or_create(
        pk=MasterSettings.SINGLETON_ID, defaults={"max_quantity_per_trade": 5000}
    )
    follower = capital_follower()
    sim.create_account(follower.client_id, cash=Decimal("3000000"))
    # when
    body = _replicate(
        api, "M-CAP-SLICE", symbol="NIFTY26DEC26500CE", exchange="NFO", product_type="NRML", quantity=750
    )
    # then two slices, each once
    assert _result(body, follower)["status"] == "SUCCESS", body
    assert sorted(o["quantity"] for o in sim.orders(follower.client_id)) == [450, 1800]
