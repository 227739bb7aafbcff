"""The /sim/ control API, the contract master, new-day and reset."""

from __future__ import annotations

import csv
import io

import requests

from tests.integration.simulator.broker_calls import Legacy, OpenApi


def test_create_account_defaults_and_update(sim):
    # when
    created = sim.create_account("ab3003")
    updated = sim.create_account("AB3003", cash=25000, name="Trader Three", app_code="MYAPP", api_secret="s3")

    # then
    assert created["userId"] == "AB3003"
    assert created["apiKey"]
    assert created["clientId"].isdigit()
    assert (updated["cash"], updated["name"], updated["appCode"]) == ("25000.00", "Trader Three", "MYAPP")
    assert updated["apiKey"] == created["apiKey"]


def test_one_session_serves_both_flavours(sim, user):
    # given
    token = sim.issue_session(user)

    # when
    new_api = OpenApi(sim.base_url, token).get("profile/")
    old_api = Legacy(sim.base_url, user, token).get("customer/accountDetails")

    # then
    assert new_api.status_code == 200
    assert old_api.status_code == 200


def test_place_as_user_is_in_the_ledger_and_the_users_books(sim, user, openapi):
    # given
    sim.set_price("NSE", "RELIANCE", "1450.00")

    # when
    master_order = sim.place_as_user(
        user, exchange="NSE", symbol="RELIANCE-EQ", side="BUY", quantity=4, tag="web"
    )
    resting = sim.place_as_user(
        user,
        exchange="NSE",
        symbol="TCS",
        side="SELL",
        quantity=2,
        order_type="LIMIT",
        price="3300",
        product="CNC",
    )

    # then
    assert (master_order["status"], master_order["averagePrice"], master_order["flavor"]) == (
        "COMPLETE",
        "1450.00",
        "web",
    )
    assert (resting["status"], resting["token"], resting["pendingQuantity"]) == ("OPEN", "11536", 2)
    book = openapi.get("orders/book").json()["result"]
    assert {r["brokerOrderId"] for r in book} == {master_order["orderId"], resting["orderId"]}
    ledger = sim.orders(user)
    assert set(ledger[0]) >= {
        "orderId",
        "userId",
        "exchange",
        "token",
        "tradingSymbol",
        "side",
        "quantity",
        "filledQuantity",
        "pendingQuantity",
        "price",
        "averagePrice",
        "orderType",
        "product",
        "status",
        "orderTag",
        "flavor",
        "placedAt",
    }


def test_positions_control_view_has_pnl(sim, user):
    # given
    sim.set_price("NSE", "SBIN", "800")
    sim.place_as_user(user, exchange="NSE", symbol="SBIN", side="BUY", quantity=10)
    sim.set_price("NSE", "SBIN", "810")
    sim.place_as_user(user, exchange="NSE", symbol="SBIN", side="SELL", quantity=4)
    sim.set_price("NSE", "SBIN", "805")

    # when
    (position,) = sim.positions(user)

    # then
    assert (position["netQuantity"], position["netAverage"]) == (6, "800.00")
    assert (position["realisedPnl"], position["unrealisedPnl"], position["lastPrice"]) == (
        "40.00",
        "30.00",
        "805.00",
    )


def test_control_errors_are_json(sim, user):
    # when
    unknown_order = requests.post(sim.base_url + "/sim/orders/123/fill", json={}, timeout=5)
    ambiguous = requests.post(
        sim.base_url + "/sim/prices", json={"exchange": "NFO", "symbol": "NIFTY", "price": "1"}, timeout=5
    )
    bad_switch = requests.post(sim.base_url + "/sim/config", json={"noSuchSwitch": 1}, timeout=5)
    bad_mode = requests.post(sim.base_url + "/sim/faults", json={"mode": "explode"}, timeout=5)

    # then
    assert unknown_order.status_code == 404
    assert unknown_order.json()["ok"] is False
    assert ambiguous.status_code == 400
    assert bad_switch.status_code == 400
    assert "noSuchSwitch" in bad_switch.json()["error"]
    assert bad_mode.status_code == 400


def test_fill_of_a_finished_order_is_a_conflict(sim, user):
    # given
    order = sim.place_as_user(user, exchange="NSE", symbol="SBIN", side="BUY", quantity=1)

    # when
    response = requests.post(sim.base_url + f"/sim/orders/{order['orderId']}/fill", json={}, timeout=5)

    # then
    assert response.status_code == 409


def test_new_day_invalidates_sessions_clears_books_and_carries_positions(sim, user):
    # given
    token = sim.issue_session(user)
    sim.place_as_user(user, exchange="NFO", symbol="NIFTY26NOVFUT", side="BUY", quantity=75, product="NRML")
    sim.place_as_user(user, exchange="NSE", symbol="SBIN", side="BUY", quantity=5, product="MIS")
    resting = sim.place_as_user(
        user, exchange="NSE", symbol="SBIN", side="BUY", quantity=5, order_type="LIMIT", price="1"
    )
    old_day = sim.health()["tradingDay"]

    # when
    new_day = sim.new_day()

    # then
    assert new_day > old_day
    assert OpenApi(sim.base_url, token).get("profile/").status_code == 401
    fresh = OpenApi(sim.base_url, sim.issue_session(user))
    assert fresh.get("orders/book").json()["message"] == "EC916"
    (position,) = fresh.get("positions").json()["result"]
    assert (position["tradingSymbol"], position["netQuantity"], position["overnightQuantity"]) == (
        "NIFTY26NOVFUT",
        75,
        75,
    )
    assert sim.order(resting["orderId"])["status"] == "CANCELLED"
    order_id = fresh.place_id()
    assert order_id[:6] == new_day.replace("-", "")[2:]
    assert len(sim.orders(user)) == 4


def test_reset_drops_everything(sim, user):
    # given
    sim.place_as_user(user, exchange="NSE", symbol="SBIN", side="BUY", quantity=1)
    sim.add_fault(mode="http500")

    # when
    sim.reset()

    # then
    assert sim.orders() == []
    assert sim.faults() == []
    assert sim.health()["accounts"] == 0


def test_contract_master_csvs_have_v2_headers_in_different_orders(sim):
    # when
    nse = requests.get(sim.base_url + "/restpy/static/contract_master/V2/NSE.csv", timeout=5)
    nfo = requests.get(sim.base_url + "/restpy/static/contract_master/V2/NFO.csv", timeout=5)

    # then
    nse_rows = list(csv.DictReader(io.StringIO(nse.text)))
    nfo_rows = list(csv.DictReader(io.StringIO(nfo.text)))
    assert nse.status_code == 200
    assert nfo.status_code == 200
    assert nse.text.splitlines()[0].split(",")[:3] == ["Exch", "Exchange Segment", "Group Name"]
    assert nfo.text.splitlines()[0].split(",")[:3] == ["Exch", "Exchange Segment", "Symbol"]
    tokens = {r["Trading Symbol"]: r["Token"] for r in nse_rows}
    assert tokens["SBIN-EQ"] == "3045"
    assert tokens["RELIANCE-EQ"] == "2885.0"
    assert "" in tokens.values()
    lots = {r["Trading Symbol"]: r["Lot Size"] for r in nfo_rows}
    assert lots["NIFTY26NOVFUT"] == "75"
    assert lots["BANKNIFTY26NOVFUT"] == "35"
    assert lots["SBIN26NOVFUT"] == "750"
    assert all(r["Expiry Date"][:2] == "20" and r["Expiry Date"][4] == "-" for r in nfo_rows)
