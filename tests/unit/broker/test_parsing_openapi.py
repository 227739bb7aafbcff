"""Open-api fixtures through the parsing functions `OpenApiClient` uses (no network)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from broker import parsing_openapi as wire
from broker.exceptions import (
    BrokerAuthError,
    BrokerError,
    BrokerOutcomeUnknownError,
    BrokerRejectedError,
    BrokerUnavailableError,
)
from broker.parsing import read_rows
from broker.transport import loads
from broker.types import (
    ModifyRequest,
    OrderAck,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    ProductType,
    Side,
    Validity,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "aliceblue" / "openapi"


def load(name: str):
    return loads((FIXTURES / name).read_text())


def rows(name: str, *, empty_ok: bool = True):
    return wire.unwrap(load(name), mutating=False, what=name, empty_ok=empty_ok)


def test_order_book_rows_are_typed_and_normalised():
    # given the D04 REJECTED row and derived OPEN / TRIGGER PENDING / CANCELED rows
    # when
    orders = read_rows(rows("order_book.json"), wire.parse_order, "book")

    # then
    rejected, partial, trigger, cancelled = orders
    assert rejected.order_id == "25071400112229"
    assert rejected.status is OrderStatus.REJECTED
    assert rejected.price == Decimal("1120.15")
    assert rejected.rejection_reason == "ORA:Price 1120.15 is not a multiple of tick size 0.10"
    assert rejected.product is ProductType.CNC
    assert rejected.trading_symbol == "ACC-EQ"
    assert rejected.token == "22"
    assert rejected.side is Side.BUY
    assert rejected.tag == ""
    assert partial.status is OrderStatus.OPEN
    assert (partial.filled_quantity, partial.pending_quantity) == (4, 6)
    assert partial.average_price == Decimal("812.45")
    assert partial.side is Side.SELL
    assert partial.product is ProductType.MIS
    assert partial.tag == "ct-7f3a-01"
    assert partial.exchange_order_id == "1100000067912030"
    assert trigger.status is OrderStatus.TRIGGER_PENDING
    assert trigger.product is ProductType.NRML
    assert trigger.order_type is OrderType.SL
    assert trigger.trigger_price == Decimal("24500")
    assert cancelled.status is OrderStatus.CANCELLED
    assert cancelled.order_type is OrderType.SLM
    assert cancelled.cancelled_quantity == 30
    assert cancelled.tag == ""  # "--" is a placeholder
    assert all(isinstance(o.order_id, str) for o in orders)


def test_order_history_rows_parse_with_times():
    entries = read_rows(rows("order_history.json"), wire.parse_history_entry, "history")

    statuses = [e.status for e in sorted(entries, key=lambda e: e.time)]
    assert statuses == [OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.COMPLETE]
    complete = next(e for e in entries if e.status is OrderStatus.COMPLETE)
    assert complete.average_price == Decimal("812.45")
    assert complete.filled_quantity == 10
    assert complete.time is not None
    assert complete.time.utcoffset() is not None


def test_trade_rows():
    (trade,) = read_rows(rows("trades.json"), wire.parse_trade, "trades")

    assert trade.order_id == "250526000005634"
    assert trade.trade_id == "207745115"
    assert trade.price == Decimal("6.95")
    assert trade.quantity == 1
    assert trade.trading_symbol == "IDEA"
    assert trade.tag == ""
    assert trade.product is ProductType.CNC
    assert trade.fill_time == "2025-05-26 14:27:43"


def test_position_rows():
    short, flat = read_rows(rows("positions.json"), wire.parse_position, "positions")

    assert short.net_quantity == -5
    assert short.product is ProductType.CNC
    assert short.sell_average == Decimal("2950.4")
    assert short.net_average == Decimal("2950.4")
    assert short.last_price is None
    assert short.unrealised_pnl is None
    assert short.token == "2885"
    assert flat.net_quantity == 0
    assert flat.realised_pnl == Decimal("2268.75")
    assert flat.product is ProductType.NRML


def test_limits_and_profile():
    funds = wire.parse_funds(rows("limits.json"))
    profile = wire.parse_profile(rows("profile.json"))

    assert funds.available_cash == Decimal("52926.35")
    assert funds.utilized_margin == Decimal("183.65")
    assert funds.collateral == Decimal("1250.5")
    assert profile.client_id == "912444"
    assert profile.name == "TEST USER"
    assert "NFO" in profile.exchanges
    assert "INTRADAY" in profile.products


@pytest.mark.parametrize("name", ["place_ok.json", "sqroff_ok.json"])
def test_place_and_sqroff_acks(name):
    (ack,) = wire.parse_acks(load(name), 1, what="place")

    assert ack == OrderAck(order_id="250526000002697", request_time=ack.request_time)
    assert ack.request_time


def test_per_result_error_inside_top_level_ok():
    ok, rejected = wire.parse_acks(load("place_basket_per_result_error.json"), 2, what="placeorder")

    assert isinstance(ok, OrderAck)
    assert isinstance(rejected, BrokerRejectedError)
    assert rejected.reason == "EC954: Quantity is not a multiple of lot size"
    assert rejected.code == "EC954"


def test_missing_result_is_outcome_unknown_not_rejected():
    ok, missing = wire.parse_acks(load("place_ok.json"), 2, what="placeorder")

    assert isinstance(ok, OrderAck)
    assert isinstance(missing, BrokerOutcomeUnknownError)


@pytest.mark.parametrize("name", ["modify_ok.json", "cancel_ok.json"])
def test_modify_and_cancel_acks(name):
    ack = wire.parse_ack(load(name), what="modify")

    assert ack.order_id == "250526000002881"


@pytest.mark.parametrize("name", ["error_ec916.json", "error_ec920.json", "error_ec926.json"])
def test_empty_book_codes_are_empty_lists(name):
    assert rows(name) == []


@pytest.mark.parametrize("name", ["error_ec915.json", "error_ec919.json", "error_ec927.json"])
def test_failed_to_retrieve_codes_are_unavailable(name):
    with pytest.raises(BrokerUnavailableError):
        rows(name)


def test_empty_book_code_outside_a_book_read_is_not_swallowed():
    with pytest.raises(BrokerRejectedError):
        rows("error_ec916.json", empty_ok=False)


def test_ec087_is_auth_error():
    with pytest.raises(BrokerAuthError) as info:
        rows("error_ec087.json")
    assert "Session Expired" in str(info.value)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("error_ec954.json", "EC954: Quantity is not a multiple of lot size"),
        ("error_ec993.json", "EC993: Order is not in a valid state to modify"),
        ("error_ec997.json", "EC997: Order is not in the order book and cannot be cancelled"),
        ("error_not_ok_lowercase.json", "EC912: Failed to place the order"),
    ],
)
def test_rejections_carry_readable_reasons(name, reason):
    with pytest.raises(BrokerRejectedError) as info:
        wire.unwrap(load(name), mutating=True, what="placeorder")
    assert info.value.reason == reason


def test_unknown_code_keeps_the_bare_code():
    assert wire.readable_error("EC123") == ("EC123", "EC123")
    assert wire.readable_error("Too many requests") == ("", "Too many requests")


def test_user_details_success():
    token, client_id = wire.parse_user_details(load("user_details_ok.json"))

    assert token.startswith("eyJ")
    assert client_id == "912444"


@pytest.mark.parametrize(
    ("name", "error_class"),
    [
        ("user_details_invalid_auth_code.json", BrokerRejectedError),
        ("user_details_api_key_expired.json", BrokerRejectedError),
        ("user_details_not_login.json", BrokerAuthError),
    ],
)
def test_user_details_failures(name, error_class):
    with pytest.raises(error_class) as info:
        wire.parse_user_details(load(name))
    assert type(info.value) is error_class


def test_user_details_ok_without_session_is_a_failure():
    with pytest.raises(BrokerError):
        wire.parse_user_details({"stat": "Ok", "clientId": "912444"})


def test_order_payload_has_every_key_and_string_prices():
    # given
    order = OrderRequest(
        exchange="NSE",
        token="2885.0",
        trading_symbol="RELIANCE-EQ",
        side=Side.BUY,
        quantity=3,
        product=ProductType.CNC,
        order_type=OrderType.LIMIT,
        price=Decimal("2950.50"),
        tag="ct-abc",
    )

    # when
    payload = wire.order_payload(order)

    # then
    assert payload == {
        "exchange": "NSE",
        "instrumentId": "2885",
        "transactionType": "BUY",
        "quantity": 3,
        "product": "LONGTERM",
        "orderComplexity": "REGULAR",
        "orderType": "LIMIT",
        "validity": "DAY",
        "price": "2950.5",
        "slLegPrice": "",
        "targetLegPrice": "",
        "slTriggerPrice": "",
        "disclosedQuantity": "",
        "marketProtectionPercent": "",
        "deviceId": "",
        "trailingSlAmount": "",
        "apiOrderSource": "",
        "algoId": "",
        "orderTag": "ct-abc",
    }


@pytest.mark.parametrize(
    ("product", "order_type", "price", "trigger", "expected"),
    [
        (ProductType.MIS, OrderType.MARKET, None, None, ("INTRADAY", "MARKET", "0", "")),
        (ProductType.NRML, OrderType.SL, Decimal("101.5"), Decimal("101"), ("NRML", "SL", "101.5", "101")),
        (ProductType.CNC, OrderType.SLM, None, Decimal("99.95"), ("LONGTERM", "SLM", "0", "99.95")),
    ],
)
def test_order_payload_mappings(product, order_type, price, trigger, expected):
    order = OrderRequest(
        exchange="NFO",
        token="35001",
        trading_symbol="NIFTY25MAYFUT",
        side=Side.SELL,
        quantity=75,
        product=product,
        order_type=order_type,
        price=price,
        trigger_price=trigger,
        validity=Validity.IOC,
    )
    payload = wire.order_payload(order)

    assert (payload["product"], payload["orderType"], payload["price"], payload["slTriggerPrice"]) == expected
    assert payload["validity"] == "IOC"
    assert payload["transactionType"] == "SELL"


def test_modify_payload_is_an_object_with_the_documented_keys():
    change = ModifyRequest(
        order_id="250526000002881",
        exchange="NSE",
        token="3045",
        trading_symbol="SBIN-EQ",
        side=Side.BUY,
        quantity=2,
        product=ProductType.MIS,
        order_type=OrderType.LIMIT,
        price=Decimal("810.05"),
    )
    payload = wire.modify_payload(change)

    assert payload["brokerOrderId"] == "250526000002881"
    assert payload["price"] == "810.05"
    assert payload["quantity"] == 2
    assert set(payload) >= {"trailingSLAmount", "marketProtection", "validity", "slTriggerPrice"}


@pytest.mark.parametrize(("net", "side", "qty"), [(-5, "BUY", 5), (75, "SELL", 75)])
def test_square_off_payload_opposite_side_abs_quantity(net, side, qty):
    position = Position(
        exchange="NFO",
        token="35001",
        trading_symbol="NIFTY25MAYFUT",
        product=ProductType.NRML,
        net_quantity=net,
        buy_quantity=0,
        sell_quantity=0,
        buy_average=Decimal("0"),
        sell_average=Decimal("0"),
        net_average=Decimal("0"),
        realised_pnl=Decimal("0"),
    )
    payload = wire.square_off_payload(position, tag="ct-x")

    assert (payload["transactionType"], payload["quantity"]) == (side, qty)
    assert (payload["orderType"], payload["price"], payload["product"], payload["orderTag"]) == (
        "MARKET",
        "0",
        "NRML",
        "ct-x",
    )
