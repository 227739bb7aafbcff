"""The wire for the copy rules: the last price (legacy quote `LTP`, open-api chart candle) and AMO orders."""

from __future__ import annotations

from decimal import Decimal

import pytest

from broker import parsing_legacy, parsing_openapi
from broker.exceptions import BrokerError
from broker.types import OrderRequest, Side


@pytest.mark.parametrize(
    ("body", "price"),
    [
        ({"stat": "Ok", "LTP": "812.35"}, Decimal("812.35")),
        ({"stat": "Ok", "LTP": "1,234.50"}, Decimal("1234.50")),
        ({"stat": "Ok", "LTP": "0.00"}, None),
        ({"stat": "Ok"}, None),
    ],
)
def test_legacy_quote_ltp(body, price):
    assert parsing_legacy.parse_quote_ltp(body) == price


@pytest.mark.parametrize("body", [{"stat": "Not_Ok", "emsg": "Invalid symbol"}, [], {"LTP": "abc"}])
def test_legacy_quote_failures_raise(body):
    with pytest.raises(BrokerError):
        parsing_legacy.parse_quote_ltp(body)


def test_chart_close_takes_the_latest_candle_whatever_the_order():
    # given candles out of order
    body = {
        "stat": "Ok",
        "result": [
            {"time": 1764600060000, "close": 801.5},
            {"time": 1764600120000, "close": 802.25},
            {"time": 1764600000000, "close": 799},
        ],
    }
    # then
    assert parsing_openapi.parse_chart_close(body) == Decimal("802.25")


@pytest.mark.parametrize("body", [{"stat": "Ok", "result": []}, {"stat": "Ok", "result": None}])
def test_chart_without_candles_has_no_price(body):
    assert parsing_openapi.parse_chart_close(body) is None


@pytest.mark.parametrize(
    "body",
    [
        {"stat": "Not_Ok", "emsg": "No data"},
        "html",
        {"stat": "Ok", "result": ["x"]},
        {"stat": "Ok", "result": [{"close": "x"}]},
    ],
)
def test_chart_failures_raise(body):
    with pytest.raises(BrokerError):
        parsing_openapi.parse_chart_close(body)


def test_amo_orders_carry_the_amo_complexity_in_both_generations():
    # given
    regular = OrderRequest(exchange="NSE", token="3045", trading_symbol="SBIN-EQ", side=Side.BUY, quantity=1)
    amo = OrderRequest(
        exchange="NSE", token="3045", trading_symbol="SBIN-EQ", side=Side.BUY, quantity=1, amo=True
    )
    # then
    assert parsing_openapi.order_payload(regular)["orderComplexity"] == "REGULAR"
    assert parsing_openapi.order_payload(amo)["orderComplexity"] == "AMO"
    assert parsing_legacy.order_payload(regular)["complexty"] == "regular"
    assert parsing_legacy.order_payload(amo)["complexty"] == "amo"
