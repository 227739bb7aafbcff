"""Legacy fixtures through the parsing functions `LegacyClient` uses (no network)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from broker import parsing_legacy as wire
from broker.exceptions import BrokerAuthError, BrokerRejectedError, BrokerUnavailableError
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
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "aliceblue" / "legacy"


def load(name: str):
    return loads((FIXTURES / name).read_text())


def test_captured_order_book_row():
    # given the real captured row of reference 6.4 (first row) and derived rows
    # when
    orders = read_rows(wire.book_rows(load("order_book.json"), what="book"), wire.parse_order, "book")

    # then
    captured, partial, trigger, transient = orders
    assert captured.order_id == "220811000223142"
    assert captured.exchange == "NSE"
    assert captured.token == "212"
    assert captured.trading_symbol == "ASHOKLEY-EQ"
    assert captured.side is Side.BUY
    assert captured.quantity == 2
    assert captured.price == Decimal("3550.00")
    assert captured.average_price == Decimal("0")
    assert captured.trigger_price == Decimal("0")
    assert captured.order_type is OrderType.LIMIT
    assert captured.product is ProductType.MIS
    assert captured.status is OrderStatus.REJECTED
    assert captured.rejection_reason == "RMS: Auto Square Off Block"
    assert captured.tag == "order1"
    assert captured.exchange_order_id == ""
    assert captured.order_time == "11/08/2022 20:58:07"
    assert partial.status is OrderStatus.OPEN
    assert (partial.filled_quantity, partial.pending_quantity) == (4, 6)
    assert partial.price == Decimal("1512.35")
    assert partial.average_price == Decimal("1512.30")
    assert partial.side is Side.SELL
    assert partial.rejection_reason == ""
    assert trigger.status is OrderStatus.TRIGGER_PENDING
    assert trigger.order_type is OrderType.SL
    assert trigger.product is ProductType.CNC
    assert transient.status is OrderStatus.PENDING
    assert transient.order_type is OrderType.MARKET
    assert transient.exchange == "NFO"  # from Exseg nse_fo when Exchange is empty
    assert transient.tag == ""


def test_position_rows():
    long_option, short, closed = read_rows(
        wire.book_rows(load("position_book.json"), what="positions"), wire.parse_position, "positions"
    )

    assert long_option.net_quantity == 250
    assert long_option.buy_quantity == 250
    assert long_option.buy_average == Decimal("0.75")
    assert long_option.net_average == Decimal("0.75")
    assert long_option.exchange == "NFO"
    assert long_option.token == "150858"
    assert long_option.trading_symbol == "RELIANCE23MAY2000PE"
    assert long_option.last_price == Decimal("0.75")
    assert short.net_quantity == -1200
    assert short.sell_quantity == 1200
    assert short.net_average == Decimal("2950.40")
    assert short.realised_pnl == Decimal("-1234.50")
    assert short.unrealised_pnl is None
    assert short.last_price is None
    assert short.product is ProductType.CNC
    assert closed.net_quantity == 0


def test_trade_rows():
    first, second = read_rows(
        wire.book_rows(load("trade_book.json"), what="trades"), wire.parse_trade, "trades"
    )

    assert first.order_id == second.order_id == "220811000223143"
    assert (first.trade_id, second.trade_id) == ("207745115", "207745116")
    assert (first.quantity, second.quantity) == (4, 2)
    assert first.price == Decimal("1512.30")
    assert second.price == Decimal("1512.35")
    assert first.side is Side.SELL
    assert first.token == "1594"
    assert first.tag == "ct-7f3a-01"
    assert first.fill_time == "09:27:59"


def test_rms_limits():
    funds = wire.parse_funds(wire.book_rows(load("rms_limits.json"), what="limits"))

    assert funds.available_cash == Decimal("100250.75")
    assert funds.utilized_margin == Decimal("1250.25")
    assert funds.collateral == Decimal("5000.00")


def test_profile_without_stat():
    profile = wire.parse_profile(load("profile.json"))

    assert profile.client_id == "AB072690"
    assert profile.name == "TEST USER"
    assert profile.exchanges == ("NSE", "BSE", "NFO", "MCX", "CDS")
    assert "NRML" in profile.products


def test_profile_with_not_ok_stat_raises():
    with pytest.raises(BrokerAuthError):
        wire.parse_profile(load("session_expired.json"))


def test_order_history_rows():
    entries = read_rows(wire.book_rows(load("order_history.json"), what="h"), wire.parse_history_entry, "h")

    ordered = sorted(entries, key=lambda e: e.time)
    assert [e.status for e in ordered] == [OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.OPEN]
    assert ordered[-1].filled_quantity == 4
    assert ordered[-1].average_price == Decimal("1512.30")
    assert ordered[0].rejection_reason == ""


@pytest.mark.parametrize("name", ["no_data_dict.json", "no_data_list.json", "empty_list.json"])
def test_every_empty_book_shape_is_an_empty_list(name):
    assert wire.book_rows(load(name), what="fetchOrderBook") == []


def test_session_expired_on_a_book_is_auth_error():
    with pytest.raises(BrokerAuthError):
        wire.book_rows(load("session_expired.json"), what="fetchOrderBook")


def test_every_not_ok_spelling_is_a_failure():
    for row in load("not_ok_spellings.json"):
        assert wire.is_failure(row)
        with pytest.raises(BrokerRejectedError) as info:
            wire.book_rows(row, what="getUserSID")
        assert info.value.reason == "Invalid Input"


def test_place_acks():
    (ack,) = wire.parse_acks(load("place_ok.json"), 1, what="place")
    ok, rejected = wire.parse_acks(load("place_basket_mixed.json"), 2, what="place")

    assert ack == OrderAck(order_id="220811000223142")
    assert isinstance(ok, OrderAck)
    assert isinstance(rejected, BrokerRejectedError)
    assert rejected.reason == "Quantity should be multiple of lot size 75"


def test_whole_place_failure_rejects_every_order():
    results = wire.parse_acks(load("no_data_dict.json") | {"emsg": "Invalid exchange"}, 2, what="place")

    assert all(isinstance(r, BrokerRejectedError) for r in results)


@pytest.mark.parametrize(
    ("name", "order_id"),
    [
        ("modify_ok.json", "220811000223142"),
        ("cancel_ok.json", "220811000223142"),
        ("sqroff_ok.json", "220811000223150"),
    ],
)
def test_modify_cancel_sqroff_acks(name, order_id):
    assert wire.parse_ack(load(name), what=name, fallback_id="x").order_id == order_id


def test_session_bodies():
    assert wire.parse_enc_key(load("enc_key_ok.json")) == "9UYDGGDMFOMQAKIDNZTQGULIJJLVDHUV"
    assert wire.parse_session_id(load("user_sid_ok.json")) == "TmF1Z2h0eVNlc3Npb25JZEZvclRlc3RzT25seQ"
    assert wire.parse_sso_session(load("sso_ok.json")) == "VGhpc0lzQVNzb1Nlc3Npb25Gb3JUZXN0cw"


def test_session_failures():
    with pytest.raises(BrokerAuthError):
        wire.parse_enc_key(load("enc_key_not_login.json"))
    with pytest.raises(BrokerRejectedError) as info:
        wire.parse_session_id(load("user_sid_invalid_input.json"))
    assert info.value.reason == "Invalid Input"
    with pytest.raises(BrokerAuthError) as totp:
        wire.parse_sso_session(load("sso_totp_not_enabled.json"))  # stat "Ok" but no userSession
    assert "TOTP" in str(totp.value)


def test_order_payload_every_key_nulls_for_unused():
    order = OrderRequest(
        exchange="NSE",
        token="3045",
        trading_symbol="SBIN-EQ",
        side=Side.SELL,
        quantity=5,
        product=ProductType.MIS,
        order_type=OrderType.MARKET,
        tag="ct-1",
    )

    assert wire.order_payload(order) == {
        "complexty": "regular",
        "discqty": 0,
        "exch": "NSE",
        "pCode": "MIS",
        "prctyp": "MKT",
        "price": 0.0,
        "qty": 5,
        "ret": "DAY",
        "symbol_id": "3045",
        "trading_symbol": "SBIN-EQ",
        "transtype": "SELL",
        "trigPrice": None,
        "orderTag": "ct-1",
        "stopLoss": None,
        "target": None,
        "trailing_stop_loss": None,
        "deviceNumber": None,
    }


@pytest.mark.parametrize(
    ("order_type", "prctyp"), [(OrderType.LIMIT, "L"), (OrderType.SL, "SL"), (OrderType.SLM, "SL-M")]
)
def test_order_payload_price_types(order_type, prctyp):
    order = OrderRequest(
        exchange="NFO",
        token="35001",
        trading_symbol="NIFTY25MAYFUT",
        side=Side.BUY,
        quantity=75,
        product=ProductType.NRML,
        order_type=order_type,
        price=Decimal("24510.55"),
        trigger_price=Decimal("24500.05"),
    )
    payload = wire.order_payload(order)

    assert payload["prctyp"] == prctyp
    assert payload["pCode"] == "NRML"
    assert payload["trigPrice"] == (None if order_type is OrderType.LIMIT else 24500.05)
    assert payload["price"] == (0.0 if order_type is OrderType.SLM else 24510.55)


def test_modify_and_square_off_payloads():
    change = ModifyRequest(
        order_id="220811000223143",
        exchange="NSE",
        token="1594",
        trading_symbol="INFY-EQ",
        side=Side.SELL,
        quantity=10,
        product=ProductType.MIS,
        order_type=OrderType.LIMIT,
        price=Decimal("1510"),
    )
    position = Position(
        exchange="NSE",
        token="2885",
        trading_symbol="RELIANCE-EQ",
        product=ProductType.CNC,
        net_quantity=-1200,
        buy_quantity=0,
        sell_quantity=1200,
        buy_average=Decimal("0"),
        sell_average=Decimal("0"),
        net_average=Decimal("0"),
        realised_pnl=Decimal("0"),
    )

    modify = wire.modify_payload(change)
    sqroff = wire.square_off_payload(position)

    assert modify["nestOrderNumber"] == "220811000223143"
    assert (modify["prctyp"], modify["price"], modify["qty"], modify["transtype"]) == (
        "L",
        1510.0,
        10,
        "SELL",
    )
    assert sqroff == {
        "exchSeg": "nse_cm",
        "pCode": "CNC",
        "netQty": "-1200",
        "tockenNo": "2885",
        "symbol": "RELIANCE-EQ",
    }


def test_unreadable_row_makes_the_book_unavailable():
    with pytest.raises(BrokerUnavailableError):
        read_rows([{"Nstordno": "1", "Trantype": "X"}], wire.parse_order, "book")
