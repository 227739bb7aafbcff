"""Legacy order validation, lifecycle, and the captured row shapes and mixed types."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("overrides", "emsg"),
    [
        ({"exch": "XYZ"}, "Invalid Exchange"),
        ({"transtype": "HOLD"}, "Invalid Transaction Type"),
        ({"prctyp": "LIMIT"}, "Invalid Price Type"),
        ({"pCode": "INTRADAY"}, "Invalid Product Code"),
        ({"qty": -1}, "Invalid Quantity"),
        ({"symbol_id": "999999", "trading_symbol": "NOPE-EQ"}, "Invalid Symbol"),
        ({"symbol_id": "3045", "trading_symbol": "INFY-EQ"}, "Invalid Trading Symbol"),
        (
            {"exch": "NFO", "symbol_id": "52224", "trading_symbol": "SBIN26NOVFUT", "qty": 100},
            "Quantity should be in multiples of lot size 750",
        ),
        (
            {"exch": "NFO", "symbol_id": "61412", "trading_symbol": "NIFTY26NOV26000CE", "qty": 1875},
            "Quantity 1875 exceeds the freeze quantity 1800: place it in slices",
        ),
        ({"prctyp": "L", "price": None}, "Price cannot be empty for limit orders"),
        ({"prctyp": "SL-M", "trigPrice": None}, "Trigger price cannot be empty for stop loss orders"),
        ({"orderTag": "t" * 51}, "Order tag length should not exceed 50 characters"),
    ],
)
def test_invalid_orders_answer_not_ok_per_element(sim, legacy, overrides, emsg):
    # when
    response = legacy.place(**overrides)

    # then
    assert response.json() == [{"stat": "Not_Ok", "emsg": emsg}]
    assert sim.orders() == []


def test_place_fill_and_books_have_the_captured_shapes(sim, legacy):
    # given
    order_id = legacy.place_id(prctyp="L", price=805.5, qty=7, orderTag="copy-xyz-2")

    # when
    sim.fill(order_id, quantity=3)
    partly = legacy.get("placeOrder/fetchOrderBook").json()[0]
    sim.fill(order_id)

    # then
    assert (partly["Status"], partly["Fillshares"], partly["Unfilledsize"]) == ("open", 3, 4)
    (row,) = legacy.get("placeOrder/fetchOrderBook").json()
    assert row["Nstordno"] == order_id
    assert row["remarks"] == "copy-xyz-2"
    assert row["stat"] == "Ok"
    assert (row["Status"], row["Trantype"], row["Prctype"], row["Pcode"]) == ("complete", "B", "L", "MIS")
    assert (row["Qty"], row["Fillshares"], row["Unfilledsize"], row["Cancelqty"]) == (7, 7, 0, 0)
    assert (row["Prc"], row["Avgprc"], row["Trgprc"]) == ("805.50", "805.50", "00.00")
    assert row["Trsym"] == "SBIN-EQ"
    assert row["token"] == "3045"
    assert row["Exseg"] == "nse_cm"
    assert isinstance(row["iSinceBOE"], int)
    assert row["OrderedTime"][2] == "/"
    trades = legacy.get("placeOrder/fetchTradeBook").json()
    assert [t["Filledqty"] for t in trades] == [3, 4]
    assert all(
        t["Nstordno"] == order_id and len(t["Filltime"]) == 8 and t["Filltime"][2] == ":" for t in trades
    )
    assert trades[0]["FillId"] != trades[1]["FillId"]
    assert trades[0]["Price"] == "805.50"


def test_positions_day_and_net_with_short_and_pnl(sim, legacy):
    # given
    sim.set_price("NSE", "INFY", "1500")
    legacy.place_id(symbol_id="1594", trading_symbol="INFY-EQ", transtype="SELL", qty=10)
    sim.set_price("NSE", "INFY", "1490")

    # when
    day = legacy.post("positionAndHoldings/positionBook", {"ret": "DAY"}).json()
    net = legacy.post("positionAndHoldings/positionBook", {"ret": "NET"}).json()

    # then
    (row,) = day
    assert (row["Netqty"], row["Sqty"], row["Bqty"], row["Tsym"]) == ("-10", "10", "0", "INFY-EQ")
    assert (row["unrealisedprofitloss"], row["realisedprofitloss"], row["LTP"]) == (
        "100.00",
        "00.00",
        "1490.00",
    )
    assert row["stat"] == "Ok"
    assert row["Type"] == "DAY1"
    assert isinstance(row["BLQty"], float)
    assert net[0]["Netqty"] == "-10"


def test_comma_formatted_amounts_switch(sim, legacy):
    # given
    sim.configure(legacy_comma_amounts=True)
    legacy.place_id(qty=100)

    # when
    (row,) = legacy.post("positionAndHoldings/positionBook", {"ret": "NET"}).json()

    # then
    assert row["Fillbuyamt"] == "81,240.00"


def test_cancel_and_modify(sim, legacy):
    # given
    first = legacy.place_id(prctyp="L", price="700", qty=5)
    second = legacy.place_id(prctyp="L", price="700", qty=5)

    # when
    cancelled = legacy.post("placeOrder/cancelOrder", {"nestOrderNumber": first}).json()
    modified = legacy.post(
        "placeOrder/modifyOrder",
        {
            "nestOrderNumber": second,
            "exch": "NSE",
            "trading_symbol": "SBIN-EQ",
            "transtype": "BUY",
            "prctyp": "L",
            "price": 702.5,
            "qty": 8,
            "trigPrice": None,
            "pCode": "MIS",
            "discqty": 0,
            "filledQuantity": 0,
        },
    ).json()
    cancel_again = legacy.post("placeOrder/cancelOrder", {"nestOrderNumber": first}).json()
    unknown = legacy.post("placeOrder/cancelOrder", {"nestOrderNumber": "1100000067912001"}).json()

    # then
    assert cancelled == {"stat": "Ok", "nestOrderNumber": first}
    assert modified["stat"] == "Ok"
    assert modified["Result"].split(":")[1] == second
    ledger = {o["orderId"]: o for o in sim.orders()}
    assert (ledger[first]["status"], ledger[first]["cancelledQuantity"]) == ("CANCELLED", 5)
    assert (ledger[second]["quantity"], ledger[second]["price"]) == (8, "702.50")
    assert cancel_again["stat"] == "Not_Ok"
    assert unknown == {"stat": "Not_Ok", "emsg": "Invalid Order Number"}


def test_square_off_position_uses_the_misspelt_endpoint(sim, legacy):
    # given
    legacy.place_id(exch="NFO", symbol_id="52224", trading_symbol="SBIN26NOVFUT", qty=1500, pCode="NRML")

    # when
    answer = legacy.post(
        "positionAndHoldings/sqrOofPosition",
        {
            "exchSeg": "nse_fo",
            "pCode": "NRML",
            "netQty": "1500",
            "tockenNo": "52224",
            "symbol": "SBIN26NOVFUT",
        },
    ).json()

    # then
    assert answer["stat"] == "Ok"
    closing = sim.order(answer["nestOrderNumber"])
    assert (closing["side"], closing["quantity"], closing["status"]) == ("SELL", 1500, "COMPLETE")
    (row,) = legacy.post("positionAndHoldings/positionBook", {"ret": "NET"}).json()
    assert row["Netqty"] == "0"


def test_order_history_rows(sim, legacy):
    # given
    order_id = legacy.place_id()

    # when
    rows = legacy.post("placeOrder/orderHistory", {"nestOrderNumber": order_id}).json()

    # then
    assert {r["Status"] for r in rows} == {"open pending", "open", "complete"}
    assert all(r["nestordernumber"] == order_id for r in rows)


def test_empty_books_answer_no_data_switchable(sim, legacy):
    # when
    before = legacy.get("placeOrder/fetchTradeBook").json()
    sim.configure(empty_book_mode="empty")
    after = legacy.get("placeOrder/fetchTradeBook").json()

    # then
    assert before == {"stat": "Not_Ok", "emsg": "No Data"}
    assert after == []


def test_rms_limits_and_account_details(legacy, user):
    # when
    limits = legacy.get("limits/getRmsLimits").json()
    details = legacy.get("customer/accountDetails").json()

    # then
    assert limits[0]["stat"] == "Ok"
    assert limits[0]["net"] == "1000000.00"
    assert all(isinstance(v, str) for v in limits[0].values())
    assert details["accountId"] == user
    assert "stat" not in details
