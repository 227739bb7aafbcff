"""Open-api order validation, lifecycle, books and their JSON types."""

from __future__ import annotations

import pytest

from tests.integration.simulator.broker_calls import openapi_order


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"exchange": ""}, "EC900"),
        ({"instrumentId": None}, "EC941"),
        ({"transactionType": ""}, "EC907"),
        ({"orderType": ""}, "EC934"),
        ({"exchange": "NYSE"}, "EC901"),
        ({"transactionType": "HOLD"}, "EC929"),
        ({"product": "MIS"}, "EC092"),
        ({"orderComplexity": "FANCY"}, "EC091"),
        ({"orderType": "STOP"}, "EC930"),
        ({"validity": "GTC"}, "EC932"),
        ({"orderComplexity": "AMO", "validity": "IOC"}, "EC996"),
        ({"quantity": 0}, "EC904"),
        ({"quantity": "ten"}, "EC904"),
        ({"quantity": 60_000_000}, "EC948"),
        ({"instrumentId": "SBIN"}, "EC946"),
        ({"instrumentId": "999999"}, "EC947"),
        ({"exchange": "NFO", "instrumentId": "52168", "quantity": 50}, "EC954"),
        # above the NIFTY freeze quantity (1,800), as the exchange refuses it
        ({"exchange": "NFO", "instrumentId": "61412", "quantity": 1875, "product": "NRML"}, "EC088"),
        ({"orderType": "LIMIT", "price": ""}, "EC950"),
        ({"orderType": "LIMIT", "price": "abc"}, "EC957"),
        ({"orderType": "LIMIT", "price": "-5"}, "EC958"),
        ({"orderType": "SLM", "slTriggerPrice": ""}, "EC951"),
        ({"orderType": "SL", "price": "800", "slTriggerPrice": "805"}, "EC973"),
        ({"orderType": "SL", "transactionType": "SELL", "price": "800", "slTriggerPrice": "795"}, "EC974"),
        ({"orderTag": "x" * 51}, "EC971"),
        ({"algoId": "A" * 13}, "EC972"),
    ],
)
def test_invalid_orders_answer_the_documented_code(sim, openapi, overrides, code):
    # when
    response = openapi.place(**overrides)

    # then
    assert response.status_code == 200
    assert response.json() == {"status": "Not_Ok", "message": code}
    assert sim.orders() == []


def test_non_array_place_body_is_ec914(openapi):
    # when
    response = openapi.post("orders/placeorder", openapi_order())

    # then
    assert response.json() == {"status": "Not_Ok", "message": "EC914"}


def test_strings_numbers_and_unknown_keys_are_accepted(sim, openapi):
    # when
    response = openapi.place(quantity="5", price=0, extraKey="ignored", orderTag="x" * 50, product="longterm")

    # then
    data = response.json()
    assert data["status"] == "Ok"
    assert data["message"] == "Success"
    (result,) = data["result"]
    assert result["brokerOrderId"].isdigit()
    assert len(result["brokerOrderId"]) == 15
    assert result["brokerOrderId"][:6] == sim.health()["tradingDay"].replace("-", "")[2:]
    assert sim.orders()[0]["product"] == "LONGTERM"


def test_basket_with_one_bad_element_answers_per_element(openapi):
    # when
    data = openapi.post("orders/placeorder", [openapi_order(), openapi_order(instrumentId="999999")]).json()

    # then
    assert data["status"] == "Ok"
    assert data["result"][0]["brokerOrderId"]
    assert data["result"][1]["status"] == "Not_Ok"
    assert data["result"][1]["message"] == "EC947"


def test_market_order_fills_at_last_price_and_shows_in_books(sim, openapi):
    # given
    sim.set_price("NSE", "SBIN", "800.00")

    # when
    order_id = openapi.place_id(quantity=10, orderTag="copy-abc-1")

    # then
    (row,) = openapi.get("orders/book").json()["result"]
    assert row["brokerOrderId"] == order_id
    assert row["orderTag"] == "copy-abc-1"
    assert (row["orderStatus"], row["filledQuantity"], row["pendingQuantity"]) == ("COMPLETE", 10, 0)
    assert row["averageTradedPrice"] == 800.0
    assert isinstance(row["quantity"], int)
    assert row["instrumentId"] == "3045"
    assert row["formattedInstrumentName"] == "SBIN-EQ"
    (trade,) = openapi.get("orders/trades").json()["result"]
    assert (trade["brokerOrderId"], trade["filledQuantity"], trade["tradedPrice"]) == (order_id, 10, 800.0)
    assert trade["tradingSymbol"] == "SBIN-EQ"
    assert trade["orderTag"] == "copy-abc-1"
    assert len(trade["fillTimestamp"]) == 19
    assert trade["fillTimestamp"][4] == "-"
    (position,) = openapi.get("positions").json()["result"]
    assert (position["netQuantity"], position["netAveragePrice"], position["product"]) == (
        10,
        800.0,
        "INTRADAY",
    )
    assert "ltp" not in {k.lower() for k in position}
    assert position["previousDayClose"] is None


def test_limit_order_rests_then_partial_fills_then_completes(sim, openapi):
    # given
    order_id = openapi.place_id(orderType="LIMIT", price="805.50", quantity=30)

    # when
    sim.fill(order_id, quantity=10)
    partly = openapi.get("orders/book").json()["result"][0]
    sim.fill(order_id, quantity=20, price="805.00")

    # then
    assert (partly["orderStatus"], partly["filledQuantity"], partly["pendingQuantity"]) == ("OPEN", 10, 20)
    done = openapi.get("orders/book").json()["result"][0]
    assert (done["orderStatus"], done["filledQuantity"], done["pendingQuantity"]) == ("COMPLETE", 30, 0)
    assert done["averageTradedPrice"] == 805.17
    trades = openapi.get("orders/trades").json()["result"]
    assert [t["filledQuantity"] for t in trades] == [10, 20]
    assert len({t["exchangeTradeId"] for t in trades}) == 2
    statuses = {
        h["orderStatus"] for h in openapi.post("orders/history", {"brokerOrderId": order_id}).json()["result"]
    }
    assert statuses == {"PENDING", "OPEN", "COMPLETE"}


def test_limit_order_fills_when_the_price_crosses(sim, openapi):
    # given
    buy = openapi.place_id(orderType="LIMIT", price="790", quantity=5)
    sell = openapi.place_id(orderType="LIMIT", price="830", quantity=5, transactionType="SELL")

    # when
    sim.set_price("NSE", "SBIN-EQ", "789.95")

    # then
    ledger = {o["orderId"]: o for o in sim.orders()}
    assert (ledger[buy]["status"], ledger[buy]["averagePrice"]) == ("COMPLETE", "790.00")
    assert ledger[sell]["status"] == "OPEN"


def test_stop_loss_orders_wait_for_their_trigger(sim, openapi):
    # given
    slm = openapi.place_id(orderType="SLM", slTriggerPrice="820", quantity=4)
    sl = openapi.place_id(orderType="SL", price="825", slTriggerPrice="821", quantity=4)
    pending = {r["brokerOrderId"]: r["orderStatus"] for r in openapi.get("orders/book").json()["result"]}

    # when
    sim.set_price("NSE", "SBIN", "822")

    # then
    assert pending == {slm: "TRIGGER PENDING", sl: "TRIGGER PENDING"}
    ledger = {o["orderId"]: o for o in sim.orders()}
    assert (ledger[slm]["status"], ledger[slm]["averagePrice"]) == ("COMPLETE", "822.00")
    assert (ledger[sl]["status"], ledger[sl]["averagePrice"]) == ("COMPLETE", "825.00")


def test_accepted_order_can_be_rejected_later(sim, openapi):
    # given
    order_id = openapi.place_id(orderType="LIMIT", price="700", quantity=3)

    # when
    sim.reject(order_id, "RMS:Margin Exceeds,Required:2400.00, Available:10.00")

    # then
    row = openapi.get("orders/book").json()["result"][0]
    assert row["orderStatus"] == "REJECTED"
    assert row["rejectionReason"] == "RMS:Margin Exceeds,Required:2400.00, Available:10.00"


def test_limit_price_off_the_tick_is_accepted_then_rejected(openapi):
    # when
    response = openapi.place(
        instrumentId="22", orderType="LIMIT", price="1120.15", quantity=30, product="LONGTERM"
    )

    # then
    assert response.json()["status"] == "Ok"
    row = openapi.get("orders/book").json()["result"][0]
    assert row["orderStatus"] == "REJECTED"
    assert row["rejectionReason"] == "ORA:Price 1120.15 is not a multiple of tick size 0.10 "


def test_cancel_open_order(sim, openapi):
    # given
    order_id = openapi.place_id(orderType="LIMIT", price="700", quantity=9)
    sim.fill(order_id, quantity=4)

    # when
    data = openapi.post("orders/cancel", {"brokerOrderId": order_id}).json()

    # then
    assert data["status"] == "Ok"
    assert data["result"][0]["brokerOrderId"] == order_id
    row = openapi.get("orders/book").json()["result"][0]
    assert (row["orderStatus"], row["cancelledQuantity"], row["filledQuantity"]) == ("CANCELLED", 5, 4)
    again = openapi.post("orders/cancel", {"brokerOrderId": order_id}).json()
    assert again == {"status": "Not_Ok", "message": "EC993"}


def test_modify_open_order_and_refuse_completed_ones(sim, openapi):
    # given
    open_id = openapi.place_id(orderType="LIMIT", price="700", quantity=9)
    done_id = openapi.place_id()

    # when
    modified = openapi.post(
        "orders/modify", {"brokerOrderId": open_id, "quantity": 12, "price": "701.05", "orderType": "LIMIT"}
    ).json()
    refused = openapi.post("orders/modify", {"brokerOrderId": done_id, "price": "1"}).json()

    # then
    assert modified["status"] == "Ok"
    assert modified["result"][0]["brokerOrderId"] == open_id
    ledger = {o["orderId"]: o for o in sim.orders()}
    assert (ledger[open_id]["quantity"], ledger[open_id]["price"]) == (12, "701.05")
    assert refused == {"status": "Not_Ok", "message": "EC993"}


def test_a_modify_above_the_freeze_quantity_is_refused_and_one_at_it_accepted(sim, openapi):
    # given an open NIFTY option order of 900 (freeze quantity 1,800)
    nifty = {"exchange": "NFO", "instrumentId": "61412", "product": "NRML", "orderType": "LIMIT"}
    order_id = openapi.place_id(**nifty, price="100", quantity=900)

    # when
    refused = openapi.post(
        "orders/modify", {"brokerOrderId": order_id, "quantity": 1875, "price": "100", "orderType": "LIMIT"}
    ).json()
    accepted = openapi.post(
        "orders/modify", {"brokerOrderId": order_id, "quantity": 1800, "price": "100", "orderType": "LIMIT"}
    ).json()

    # then
    assert refused == {"status": "Not_Ok", "message": "EC088"}
    assert accepted["status"] == "Ok"
    (order,) = sim.orders()
    assert order["quantity"] == 1800


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("orders/modify", {"brokerOrderId": "261121999999999", "price": "1"}, "EC999"),
        ("orders/cancel", {"brokerOrderId": "261121999999999"}, "EC997"),
        ("orders/history", {"brokerOrderId": "261121999999999"}, "EC998"),
        ("orders/cancel", {"brokerOrderId": ""}, "EC945"),
        ("orders/cancel", {"brokerOrderId": "abc"}, "EC992"),
    ],
)
def test_unknown_order_ids(openapi, path, body, code):
    # when
    data = openapi.post(path, body).json()

    # then
    assert data == {"status": "Not_Ok", "message": code}


def test_square_off_places_the_opposite_order_and_realises_pnl(sim, openapi):
    # given
    sim.set_price("NFO", "NIFTY26NOVFUT", "26000")
    openapi.place_id(exchange="NFO", instrumentId="52168", quantity=150, product="NRML")
    sim.set_price("NFO", "NIFTY26NOVFUT", "26100")

    # when
    data = openapi.post(
        "orders/positions/sqroff",
        [
            openapi_order(
                exchange="NFO", instrumentId="52168", quantity=150, product="NRML", transactionType="SELL"
            )
        ],
    ).json()

    # then
    assert data["status"] == "Ok"
    assert data["result"][0]["requestTime"][2] == ":"
    (position,) = openapi.get("positions").json()["result"]
    assert (position["netQuantity"], position["realizedPnl"], position["product"]) == (0, 15000.0, "NRML")
    assert (position["dayBuyQuantity"], position["daySellQuantity"], position["lotsize"]) == (150, 150, 75)


def test_empty_books_are_failures_unless_switched(sim, openapi):
    # when
    before = [openapi.get(path).json() for path in ("orders/book", "orders/trades", "positions")]
    sim.configure(empty_book_mode="empty")
    after = [openapi.get(path).json() for path in ("orders/book", "orders/trades", "positions")]

    # then
    assert [b["message"] for b in before] == ["EC916", "EC926", "EC920"]
    assert all(a == {"status": "Ok", "message": "Success", "result": []} for a in after)


def test_read_only_user_cannot_place(sim, user, openapi):
    # given
    sim.configure(read_only_users=[user])

    # when
    data = openapi.place().json()

    # then
    assert data == {"status": "Not_Ok", "message": "EC086"}


def test_limits_and_profile_are_one_element_lists(openapi):
    # when
    limits = openapi.get("limits/").json()
    profile = openapi.get("profile/").json()

    # then
    assert limits["result"][0]["openingCashLimit"] == 1_000_000.0
    assert isinstance(limits["result"][0]["tradingLimit"], float)
    assert profile["result"][0]["accountStatus"] == "Activated"
