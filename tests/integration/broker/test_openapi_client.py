"""OpenApiClient against the simulator over real HTTP: sessions, the order lifecycle, every failure class."""

from __future__ import annotations

import dataclasses
import time
from decimal import Decimal

import pytest

from broker.exceptions import (
    BrokerAuthError,
    BrokerOutcomeUnknownError,
    BrokerRateLimitedError,
    BrokerRejectedError,
    BrokerTimeoutError,
    BrokerUnavailableError,
)
from broker.openapi import OpenApiClient
from broker.types import (
    ApiFlavor,
    ModifyRequest,
    OrderAck,
    OrderRequest,
    OrderStatus,
    OrderType,
    ProductType,
    Side,
)

pytestmark = pytest.mark.integration

APP_SECRET = "sim-app-secret"
TIMEOUT = (1.0, 2.0)
PLACE = "/open-api/od/v1/orders/placeorder"


def sbin(side: Side = Side.BUY, *, quantity: int = 1, tag: str = "ct-oa-1", **kw) -> OrderRequest:
    return OrderRequest(
        exchange="NSE", token="3045", trading_symbol="SBIN-EQ", side=side, quantity=quantity, tag=tag, **kw
    )


def limit_sbin(price: str = "700.00", **kw) -> OrderRequest:
    return sbin(order_type=OrderType.LIMIT, price=Decimal(price), **kw)


@pytest.fixture
def client(sim, account) -> OpenApiClient:
    """A client with a live session obtained through the vendor checksum flow."""
    anonymous = OpenApiClient(base_url=sim.base_url, timeout=TIMEOUT)
    session = anonymous.session_from_auth_code(
        user_id=account, auth_code=sim.login(account), api_secret=APP_SECRET
    )
    return anonymous.with_session(session)


# -- sessions --------------------------------------------------------------------------------------


def test_session_from_auth_code(sim, account, assert_no_secret_logged):
    # given
    auth_code = sim.login(account)
    anonymous = OpenApiClient(base_url=sim.base_url, timeout=TIMEOUT)

    # when
    session = anonymous.session_from_auth_code(user_id=account, auth_code=auth_code, api_secret=APP_SECRET)

    # then
    assert session.flavor is ApiFlavor.OPENAPI
    assert session.user_id == account
    assert session.token.count(".") == 2  # the JWT
    assert session.client_id
    assert session.token not in repr(session)
    (logged,) = sim.requests_log(path="vendor/getUserDetails")
    assert logged["method"] == "POST"
    assert "Authorization" not in logged["headers"]
    assert list(logged["body"]) == ["checkSum"]
    profile = anonymous.with_session(session).profile()
    assert profile.client_id == session.client_id
    assert_no_secret_logged(session.token, auth_code, APP_SECRET)


def test_bad_checksum_is_rejected(sim, account):
    sim.login(account)
    anonymous = OpenApiClient(base_url=sim.base_url, timeout=TIMEOUT)

    with pytest.raises(BrokerRejectedError) as info:
        anonymous.session_from_auth_code(user_id=account, auth_code="WRONGCODE", api_secret=APP_SECRET)

    assert info.value.reason == "Invalid auth code"
    assert "WRONGCODE" not in str(info.value)


def test_user_not_logged_in_today_is_auth_error(sim, account):
    # given an authCode from yesterday's login
    auth_code = sim.login(account)
    sim.new_day()
    anonymous = OpenApiClient(base_url=sim.base_url, timeout=TIMEOUT)

    # when / then
    with pytest.raises(BrokerAuthError, match="does not login"):
        anonymous.session_from_auth_code(user_id=account, auth_code=auth_code, api_secret=APP_SECRET)


# -- lifecycle --------------------------------------------------------------------------------------


def test_place_fill_trades_positions_square_off(sim, client):
    # given
    empty = (client.order_book(), client.trade_book(), client.positions())

    # when
    ack = client.place_order(limit_sbin("700.00", quantity=2, tag="ct-oa-life"))
    placed = client.find_order_by_tag("ct-oa-life")
    sim.fill(ack.order_id, price="699.95")
    filled = client.find_order_by_tag("ct-oa-life")
    trades = client.trade_book()
    (position,) = client.positions()
    exit_ack = client.square_off(position, tag="ct-oa-exit")

    # then
    assert empty == ([], [], [])
    assert isinstance(ack.order_id, str)
    assert ack.order_id.isdigit()
    assert placed.order_id == ack.order_id
    assert placed.status is OrderStatus.OPEN
    assert placed.price == Decimal("700.00")
    assert placed.product is ProductType.MIS
    assert filled.status is OrderStatus.COMPLETE
    assert filled.filled_quantity == 2
    assert filled.average_price == Decimal("699.95")
    assert [(t.order_id, t.quantity, t.price, t.tag) for t in trades] == [
        (ack.order_id, 2, Decimal("699.95"), "ct-oa-life")
    ]
    assert (position.token, position.net_quantity, position.exchange) == ("3045", 2, "NSE")
    exit_order = client.find_order_by_tag("ct-oa-exit")
    assert exit_order.order_id == exit_ack.order_id
    assert (exit_order.side, exit_order.quantity, exit_order.order_type) == (Side.SELL, 2, OrderType.MARKET)
    (sent,) = sim.requests_log(path="sqroff")
    assert sent["body"][0]["transactionType"] == "SELL"
    assert sent["body"][0]["orderTag"] == "ct-oa-exit"


def test_place_sends_the_exact_array_body_and_bearer_header(sim, client):
    client.place_order(sbin(Side.SELL, quantity=3, tag="ct-oa-body", product=ProductType.CNC))

    (sent,) = sim.requests_log(path=PLACE)
    assert sent["headers"]["Authorization"] == "Bearer ***"
    assert sent["headers"]["Content-Type"] == "application/json"
    assert sent["body"] == [
        {
            "exchange": "NSE",
            "instrumentId": "3045",
            "transactionType": "SELL",
            "quantity": 3,
            "product": "LONGTERM",
            "orderComplexity": "REGULAR",
            "orderType": "MARKET",
            "validity": "DAY",
            "price": "0",
            "slLegPrice": "",
            "targetLegPrice": "",
            "slTriggerPrice": "",
            "disclosedQuantity": "",
            "marketProtectionPercent": "",
            "deviceId": "",
            "trailingSlAmount": "",
            "apiOrderSource": "",
            "algoId": "",
            "orderTag": "ct-oa-body",
        }
    ]


def test_modify_then_cancel_an_open_limit_order(sim, client):
    ack = client.place_order(limit_sbin("700.00", tag="ct-oa-mod"))
    change = ModifyRequest(
        order_id=ack.order_id,
        exchange="NSE",
        token="3045",
        trading_symbol="SBIN-EQ",
        side=Side.BUY,
        quantity=1,
        product=ProductType.MIS,
        order_type=OrderType.LIMIT,
        price=Decimal("701.50"),
    )

    modified = client.modify_order(change)
    after_modify = client.find_order_by_tag("ct-oa-mod")
    client.modify_order(dataclasses.replace(change, quantity=3, price=None))  # None keeps the current price
    after_quantity = client.find_order_by_tag("ct-oa-mod")
    cancelled = client.cancel_order(ack.order_id)
    after_cancel = client.find_order_by_tag("ct-oa-mod")
    history = client.order_history(ack.order_id)

    assert modified.order_id == ack.order_id
    assert after_modify.price == Decimal("701.50")
    assert (after_quantity.quantity, after_quantity.price) == (3, Decimal("701.50"))
    assert cancelled.order_id == ack.order_id
    assert after_cancel.status is OrderStatus.CANCELLED
    assert OrderStatus.CANCELLED in {entry.status for entry in history}
    with pytest.raises(BrokerRejectedError):
        client.cancel_order(ack.order_id)  # no longer open


def test_limits_and_profile(client):
    funds = client.limits()
    profile = client.profile()

    assert funds.available_cash > 0
    assert isinstance(funds.available_cash, Decimal)
    assert profile.client_id


# -- failures --------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["http401", "ec087"])
def test_expired_session_is_auth_error(sim, client, mode):
    sim.configure(openapi_session_expired_mode=mode)
    sim.expire_sessions(client.session.user_id)

    with pytest.raises(BrokerAuthError):
        client.order_book()
    with pytest.raises(BrokerAuthError):
        client.place_order(sbin())


def test_session_expired_fault(sim, client):
    sim.add_fault(user_id=client.session.user_id, endpoint="positions", mode="session_expired", count=1)

    with pytest.raises(BrokerAuthError):
        client.positions()


def test_lot_size_reject_carries_the_reason(client):
    future = OrderRequest(
        exchange="NFO",
        token="52168",
        trading_symbol="NIFTY26NOVFUT",
        side=Side.BUY,
        quantity=10,
        product=ProductType.NRML,
        tag="ct-oa-lot",
    )

    with pytest.raises(BrokerRejectedError) as info:
        client.place_order(future)

    assert info.value.reason == "EC954: Quantity is not a multiple of lot size"
    assert info.value.code == "EC954"
    assert info.value.retryable is False


def test_basket_returns_one_result_per_order(sim, client):
    sim.configure(place_error_mode="per_element")
    future = OrderRequest(
        exchange="NFO", token="52168", trading_symbol="NIFTY26NOVFUT", side=Side.BUY, quantity=10, tag="ct-b2"
    )

    ok, rejected = client.place_orders([sbin(tag="ct-b1"), future])

    assert isinstance(ok, OrderAck)
    assert isinstance(rejected, BrokerRejectedError)
    assert rejected.reason.startswith("EC954")


@pytest.mark.parametrize("mode", ["http500", "html502"])
def test_server_errors_are_unavailable(sim, client, mode):
    sim.add_fault(endpoint="orders/book", mode=mode, count=1)
    sim.add_fault(endpoint="placeorder", mode=mode, count=1)

    with pytest.raises(BrokerUnavailableError) as read_error:
        client.order_book()
    with pytest.raises(BrokerUnavailableError) as place_error:
        client.place_order(sbin(tag="ct-oa-5xx"))

    assert read_error.value.retryable
    assert place_error.value.retryable
    assert "<" not in str(place_error.value)
    assert sim.orders(client.session.user_id) == []


def test_html_200(sim, client):
    sim.add_fault(endpoint="orders/trades", mode="html200", count=1)
    sim.add_fault(endpoint="placeorder", mode="html200", count=1)

    with pytest.raises(BrokerUnavailableError):
        client.trade_book()
    with pytest.raises(BrokerOutcomeUnknownError) as info:
        client.place_order(sbin(tag="ct-oa-html"))

    assert not info.value.retryable


def test_timeout_after_accept_is_outcome_unknown_and_not_retried(sim, account):
    # given a client with a short read timeout and a broker that accepts, then holds the answer
    anonymous = OpenApiClient(base_url=sim.base_url, timeout=(1.0, 0.5))
    session = anonymous.session_from_auth_code(
        user_id=account, auth_code=sim.login(account), api_secret=APP_SECRET
    )
    client = anonymous.with_session(session)
    sim.add_fault(endpoint="placeorder", mode="timeout_after_accept", hold_seconds=3, count=1)

    # when
    started = time.monotonic()
    with pytest.raises(BrokerTimeoutError) as info:
        client.place_order(sbin(tag="ct-oa-timeout"))
    elapsed = time.monotonic() - started

    # then
    assert elapsed < 2.0
    assert not info.value.retryable
    assert [o["orderTag"] for o in sim.orders(account)] == ["ct-oa-timeout"]
    assert len(sim.requests_log(path=PLACE)) == 1


def test_drop_after_accept_is_outcome_unknown(sim, client):
    sim.add_fault(endpoint="placeorder", mode="drop_after_accept", count=1)

    with pytest.raises(BrokerTimeoutError):  # an OutcomeUnknown: reconcile by tag, never resend
        client.place_order(sbin(tag="ct-oa-drop"))

    assert [o["orderTag"] for o in sim.orders(client.session.user_id)] == ["ct-oa-drop"]
    assert len(sim.requests_log(path=PLACE)) == 1
    assert client.find_order_by_tag("ct-oa-drop") is not None  # how the caller reconciles


def test_connection_refused_is_unavailable(client, closed_port):
    dead = OpenApiClient(base_url=f"http://127.0.0.1:{closed_port}", session=client.session, timeout=TIMEOUT)

    with pytest.raises(BrokerUnavailableError):
        dead.order_book()
    with pytest.raises(BrokerUnavailableError) as info:
        dead.place_order(sbin())
    assert info.value.retryable


def test_rate_limited(sim, client):
    sim.add_fault(endpoint="orders/book", mode="rate_limited", count=1)

    with pytest.raises(BrokerRateLimitedError) as info:
        client.order_book()

    assert info.value.retry_after == 60.0


def test_no_secret_in_logs_or_errors(sim, client, assert_no_secret_logged):
    sim.add_fault(endpoint="orders/book", mode="html502", count=1)
    token = client.session.token

    client.place_order(sbin(tag="ct-oa-log"))
    with pytest.raises(BrokerUnavailableError) as info:
        client.order_book()
    sim.expire_sessions()
    with pytest.raises(BrokerAuthError) as auth:
        client.trade_book()

    assert token not in str(info.value) + str(auth.value) + repr(client) + repr(client.session)
    assert_no_secret_logged(token, APP_SECRET)


@pytest.mark.parametrize("token", ["tökén€", "line\nbreak"])
def test_a_session_http_cannot_carry_is_an_auth_error_and_nothing_is_sent(sim, account, client, token):
    # given a stored token that cannot be written into the Authorization header
    broken = client.with_session(dataclasses.replace(client.session, token=token))
    before = len(sim.requests_log())
    # when / then: reads and order calls alike, classified "session unusable", not "outcome unknown"
    for call in (broken.profile, lambda: broken.place_order(sbin(tag="ct-oa-bad"))):
        with pytest.raises(BrokerAuthError) as caught:
            call()
        assert caught.value.code == "unusable_session"
    assert len(sim.requests_log()) == before
    assert sim.orders(account) == []
