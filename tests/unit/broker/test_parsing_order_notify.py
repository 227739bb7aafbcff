"""Order-notify frames, webhook bodies and the createWsToken/webhook answers through the client's parsers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from broker.client import websocket_url
from broker.exceptions import BrokerAuthError, BrokerRejectedError, BrokerUnavailableError
from broker.parsing import IST
from broker.parsing_order_notify import (
    parse_order_update,
    parse_webhook_answer,
    parse_ws_token,
    subscribe_answer_ok,
)
from broker.transport import loads
from broker.types import OrderStatus, OrderType, ProductType, Side

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "aliceblue" / "order_notify"


def load(name: str):
    return loads((FIXTURES / name).read_text())


def test_the_reference_rejected_frame():
    # given the frame of shared/reference openapi 7.1, verbatim
    frame = load("om_rejected_reference.json")

    # when
    update = parse_order_update(frame)

    # then
    assert update is not None
    assert update.order_id == "24070600000744"
    assert update.status is OrderStatus.REJECTED
    assert update.report_type == "Rejected"
    assert (update.exchange, update.trading_symbol, update.token) == ("NSE", "MRF-EQ", "")
    assert update.side is Side.BUY
    assert update.quantity == 1
    assert update.price == Decimal("0.00")
    assert update.order_type is OrderType.MARKET
    assert update.product is ProductType.MIS
    assert update.validity == "DAY"
    assert update.rejection_reason.startswith("RED:Margin Shortfall:INR 28,030.64")
    assert update.user_id == "1332014"
    assert update.tag == ""
    # not reported is not zero
    assert update.filled_quantity is None
    assert update.trigger_price is None
    assert update.average_price is None
    assert update.event_time is None
    assert update.raw == frame


def test_a_new_limit_order_frame():
    # when
    update = parse_order_update(load("om_new_open.json"))

    # then
    assert update is not None
    assert (update.status, update.report_type) == (OrderStatus.OPEN, "New")
    assert (update.token, update.tag, update.exchange_order_id) == ("3045", "master-web", "1100000067912001")
    assert update.order_type is OrderType.LIMIT
    assert update.price == Decimal("700.00")
    assert update.filled_quantity == 0
    assert not update.is_fill
    # the exchange time wins over the OMS time
    assert update.event_time == datetime(2026, 12, 1, 10, 15, 32, tzinfo=IST)


def test_a_stop_market_frame_in_noren_spelling():
    # when
    update = parse_order_update(load("om_new_trigger_pending.json"))

    # then
    assert update is not None
    assert update.status is OrderStatus.TRIGGER_PENDING
    assert update.order_type is OrderType.SLM
    assert update.product is ProductType.NRML
    assert update.trigger_price == Decimal("23950.00")
    assert update.side is Side.SELL
    assert update.event_time == datetime(2026, 12, 1, 10, 16, 1, tzinfo=IST)  # from norentm


def test_partial_and_final_fills():
    # when
    partial = parse_order_update(load("om_partial_fill.json"))
    complete = parse_order_update(load("om_fill_complete.json"))

    # then
    assert partial is not None
    assert complete is not None
    assert (partial.status, partial.filled_quantity, partial.fill_quantity) == (OrderStatus.OPEN, 4, 4)
    assert (partial.fill_price, partial.average_price) == (Decimal("699.95"), Decimal("699.95"))
    assert partial.fill_id == "207745101"
    assert partial.is_fill
    assert partial.event_time == datetime(2026, 12, 1, 10, 17, 45, tzinfo=IST)  # the fill time
    assert partial.to_order().pending_quantity == 6
    assert (complete.status, complete.filled_quantity) == (OrderStatus.COMPLETE, 10)
    assert complete.fill_quantity == 6
    assert complete.to_order().pending_quantity == 0


def test_canceled_with_one_l_after_a_partial_fill():
    # when
    update = parse_order_update(load("om_canceled_after_partial.json"))

    # then
    assert update is not None
    assert update.status is OrderStatus.CANCELLED
    assert (update.filled_quantity, update.cancelled_quantity) == (3, 7)
    order = update.to_order()
    assert (order.filled_quantity, order.cancelled_quantity, order.pending_quantity) == (3, 7, 0)
    assert order.average_price == Decimal("698.00")


def test_a_replaced_frame():
    # when
    update = parse_order_update(load("om_replaced.json"))

    # then
    assert update is not None
    assert (update.status, update.report_type) == (OrderStatus.OPEN, "Replaced")
    assert (update.quantity, update.price, update.product) == (6, Decimal("3310.50"), ProductType.CNC)


def test_a_webhook_body_has_no_t_and_prd_for_the_product():
    # when
    update = parse_order_update(load("webhook_fill.json"))

    # then
    assert update is not None
    assert update.status is OrderStatus.COMPLETE
    assert update.product is ProductType.CNC
    assert (update.exchange, update.validity, update.tag) == ("BSE", "IOC", "ct-1-2")
    assert update.fill_quantity == 5


@pytest.mark.parametrize(
    ("index", "status", "order_type", "product", "side"),
    [
        (0, OrderStatus.OPEN, OrderType.LIMIT, ProductType.MIS, Side.BUY),
        (1, OrderStatus.TRIGGER_PENDING, OrderType.SLM, ProductType.CNC, Side.SELL),
        (2, OrderStatus.TRIGGER_PENDING, OrderType.SL, ProductType.NRML, Side.SELL),
        (3, OrderStatus.CANCELLED, OrderType.MARKET, ProductType.MIS, Side.BUY),
        (4, OrderStatus.COMPLETE, OrderType.MARKET, ProductType.CNC, Side.BUY),
        (5, OrderStatus.CANCELLED, OrderType.SLM, ProductType.NRML, Side.BUY),  # no status: from reporttype
        (6, OrderStatus.OPEN, OrderType.LIMIT, "CO", Side.BUY),  # empty status, a partial Fill report
        (7, OrderStatus.PENDING, OrderType.LIMIT, "BO", Side.SELL),
    ],
)
def test_documented_variants(index, status, order_type, product, side):
    # given
    frame = load("variants.json")[index]

    # when
    update = parse_order_update(frame)

    # then
    assert update is not None
    assert update.status is status
    assert update.order_type == order_type
    assert update.product == product
    assert update.side is side


def test_numbers_as_json_numbers_and_commas():
    # when
    first, *_, fifth, _, _, eighth = [parse_order_update(f) for f in load("variants.json")]

    # then
    assert (first.quantity, first.price) == (2, Decimal("100.5"))
    assert fifth.average_price == Decimal("1001.25")
    assert eighth.order_id == "1008"


@pytest.mark.parametrize("index", range(9))
def test_acks_heartbeats_and_other_frames_are_not_orders(index):
    # given
    frame = load("not_orders.json")[index]

    # when / then
    assert parse_order_update(frame) is None


@pytest.mark.parametrize("index", range(5))
def test_unreadable_order_frames_are_refused_not_guessed(index):
    # given
    frame = load("malformed_orders.json")[index]

    # when / then
    with pytest.raises(ValueError):  # noqa: PT011 - the parser's one failure type
        parse_order_update(frame)


def test_to_order_needs_side_and_quantity():
    # given an update that names only the order and its new status
    update = parse_order_update({"t": "om", "norenordno": "3001", "status": "CANCELED"})

    # when / then
    assert update is not None
    assert update.status is OrderStatus.CANCELLED
    with pytest.raises(ValueError, match="lacks side or quantity"):
        update.to_order()


def test_subscribe_answers():
    assert subscribe_answer_ok({"status": "Ok"}) is True
    assert subscribe_answer_ok({"status": "Not_ok", "message": "Invalid orderToken"}) is False
    assert subscribe_answer_ok({"stat": "Not_Ok"}) is False
    assert subscribe_answer_ok({"t": "om"}) is None
    assert subscribe_answer_ok("Ok") is None


def test_ws_token_answers():
    # the reference's answer, verbatim
    assert parse_ws_token(load("create_ws_token_ok.json")) == (
        "23e16a457b4a035af850f4cf3f8da07e15cd7d7619a13b9d4c17ae33176"
    )
    # the empty body: not enabled for the feed
    assert parse_ws_token(None) is None
    with pytest.raises(BrokerAuthError):
        parse_ws_token({"status": "Not_Ok", "message": "EC087"})
    with pytest.raises(BrokerAuthError):
        parse_ws_token({"stat": "Not_Ok", "emsg": "Session Expired"})
    with pytest.raises(BrokerUnavailableError, match="without an orderToken"):
        parse_ws_token({"status": "Ok", "message": "200", "result": []})
    with pytest.raises(BrokerUnavailableError):
        parse_ws_token(["Ok"])
    with pytest.raises(BrokerRejectedError):
        parse_ws_token({"status": "Not_Ok", "message": "Feed not available"})


def test_webhook_answers():
    answers = load("webhook_answers.json")
    parse_webhook_answer(answers["subscribed"], what="subscribe")
    parse_webhook_answer(answers["openapi_style"], what="subscribe")
    with pytest.raises(BrokerRejectedError, match="Maximum of 5"):
        parse_webhook_answer(answers["too_many"], what="subscribe")
    with pytest.raises(BrokerAuthError):
        parse_webhook_answer(answers["session_expired"], what="subscribe")
    with pytest.raises(BrokerUnavailableError):
        parse_webhook_answer({"result": "?"}, what="subscribe")


@pytest.mark.parametrize(
    ("base", "path", "url"),
    [
        ("http://127.0.0.1:9100", "/open-api/order-notify/websocket", "ws://127.0.0.1:9100/open-api/order-notify/websocket"),
        ("https://a3.aliceblueonline.com/", "/open-api/order-notify/websocket", "wss://a3.aliceblueonline.com/open-api/order-notify/websocket"),
        ("https://ant.aliceblueonline.com", "/order-notify/websocket", "wss://ant.aliceblueonline.com/order-notify/websocket"),
        ("http://sim.local:8080/prefix", "/order-notify/websocket", "ws://sim.local:8080/prefix/order-notify/websocket"),
    ],
)  # fmt: skip
def test_websocket_url(base, path, url):
    assert websocket_url(base, path) == url
