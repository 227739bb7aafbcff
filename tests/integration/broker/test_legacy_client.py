"""LegacyClient against the simulator over real HTTP: sessions, the order lifecycle, every failure class."""

from __future__ import annotations

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
from broker.legacy import LegacyClient
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
API_KEY = "ak-test-0123456789abcdef0123456789abcdef"
TIMEOUT = (1.0, 2.0)
PLACE = "placeOrder/executePlaceOrder"


def sbin(side: Side = Side.BUY, *, quantity: int = 1, tag: str = "ct-lg-1", **kw) -> OrderRequest:
    return OrderRequest(
        exchange="NSE", token="3045", trading_symbol="SBIN-EQ", side=side, quantity=quantity, tag=tag, **kw
    )


def limit_sbin(price: str = "700.00", **kw) -> OrderRequest:
    return sbin(order_type=OrderType.LIMIT, price=Decimal(price), **kw)


@pytest.fixture
def client(sim, account) -> LegacyClient:
    """A client with a live session from the API-key flow (after the user's daily login)."""
    sim.login(account)
    anonymous = LegacyClient(base_url=sim.base_url, timeout=TIMEOUT)
    return anonymous.with_session(anonymous.session_from_api_key(user_id=account.lower(), api_key=API_KEY))


# -- sessions --------------------------------------------------------------------------------------


def test_session_from_api_key(sim, account, assert_no_secret_logged):
    # given
    sim.login(account)
    anonymous = LegacyClient(base_url=sim.base_url, timeout=TIMEOUT)

    # when
    session = anonymous.session_from_api_key(user_id=account.lower(), api_key=API_KEY)

    # then
    assert session.flavor is ApiFlavor.LEGACY
    assert session.user_id == account
    assert session.token not in repr(session)
    (enc,) = sim.requests_log(path="getAPIEncpkey")
    (sid,) = sim.requests_log(path="getUserSID")
    assert enc["body"] == {"userId": account}
    assert sorted(sid["body"]) == ["userData", "userId"]  # exactly the two fields the DTO accepts
    assert sid["body"]["userId"] == account
    assert "Authorization" not in sid["headers"]
    profile = anonymous.with_session(session).profile()
    (details,) = sim.requests_log(path="accountDetails")
    assert details["headers"]["Authorization"] == f"Bearer {account} ***"
    assert profile.client_id
    assert_no_secret_logged(session.token, API_KEY)


def test_wrong_api_key_is_rejected(sim, account):
    sim.login(account)
    anonymous = LegacyClient(base_url=sim.base_url, timeout=TIMEOUT)

    with pytest.raises(BrokerRejectedError) as info:
        anonymous.session_from_api_key(user_id=account, api_key="not-the-key")

    assert info.value.reason == "Invalid Input"


def test_not_logged_in_today_is_auth_error(sim, account):
    anonymous = LegacyClient(base_url=sim.base_url, timeout=TIMEOUT)

    with pytest.raises(BrokerAuthError, match="not login"):
        anonymous.session_from_api_key(user_id=account, api_key=API_KEY)


def test_session_from_auth_code_and_bad_checksum(sim, account):
    anonymous = LegacyClient(base_url=sim.base_url, timeout=TIMEOUT)

    session = anonymous.session_from_auth_code(
        user_id=account, auth_code=sim.login(account), api_secret=APP_SECRET
    )
    with pytest.raises(BrokerRejectedError, match="Invalid auth code"):
        anonymous.session_from_auth_code(user_id=account, auth_code="WRONG", api_secret=APP_SECRET)

    assert session.token
    assert anonymous.with_session(session).order_book() == []
    (sso, _bad) = sim.requests_log(path="sso/getUserDetails")
    assert list(sso["body"]) == ["checkSum"]


# -- lifecycle --------------------------------------------------------------------------------------


@pytest.mark.parametrize("empty_book_mode", ["error", "list", "empty"])
def test_empty_books_in_every_shape(sim, client, empty_book_mode):
    sim.configure(empty_book_mode=empty_book_mode)

    assert (client.order_book(), client.trade_book(), client.positions()) == ([], [], [])


def test_place_fill_trades_positions_square_off(sim, client):
    # when
    ack = client.place_order(limit_sbin("700.00", quantity=2, tag="ct-lg-life"))
    placed = client.find_order_by_tag("ct-lg-life")
    sim.fill(ack.order_id, price="699.95")
    filled = client.find_order_by_tag("ct-lg-life")
    trades = client.trade_book()
    (position,) = client.positions()
    exit_ack = client.square_off(position)

    # then
    assert isinstance(ack.order_id, str)
    assert placed.order_id == ack.order_id
    assert placed.status is OrderStatus.OPEN
    assert placed.price == Decimal("700.00")
    assert filled.status is OrderStatus.COMPLETE
    assert filled.average_price == Decimal("699.95")
    assert [(t.order_id, t.quantity, t.price, t.tag) for t in trades] == [
        (ack.order_id, 2, Decimal("699.95"), "ct-lg-life")
    ]
    assert (position.token, position.net_quantity, position.product) == ("3045", 2, ProductType.MIS)
    exit_order = next(o for o in client.order_book() if o.order_id == exit_ack.order_id)
    assert (exit_order.side, exit_order.quantity, exit_order.order_type) == (Side.SELL, 2, OrderType.MARKET)
    (sent,) = sim.requests_log(path="sqrOofPosition")
    assert sent["body"] == {
        "exchSeg": "nse_cm",
        "pCode": "MIS",
        "netQty": "2",
        "tockenNo": "3045",
        "symbol": "SBIN-EQ",
    }


def test_place_sends_the_exact_list_body_and_bearer_header(sim, client):
    client.place_order(limit_sbin("701.05", tag="ct-lg-body", product=ProductType.CNC))

    (sent,) = sim.requests_log(path=PLACE)
    assert sent["headers"]["Authorization"] == f"Bearer {client.session.user_id} ***"
    assert sent["body"] == [
        {
            "complexty": "regular",
            "discqty": 0,
            "exch": "NSE",
            "pCode": "CNC",
            "prctyp": "L",
            "price": 701.05,
            "qty": 1,
            "ret": "DAY",
            "symbol_id": "3045",
            "trading_symbol": "SBIN-EQ",
            "transtype": "BUY",
            "trigPrice": None,
            "orderTag": "ct-lg-body",
            "stopLoss": None,
            "target": None,
            "trailing_stop_loss": None,
            "deviceNumber": None,
        }
    ]


def test_modify_then_cancel_an_open_limit_order(sim, client):
    ack = client.place_order(limit_sbin("700.00", tag="ct-lg-mod"))
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
    after_modify = client.find_order_by_tag("ct-lg-mod")
    cancelled = client.cancel_order(ack.order_id, exchange="NSE", trading_symbol="SBIN-EQ")
    after_cancel = client.find_order_by_tag("ct-lg-mod")
    history = client.order_history(ack.order_id)

    assert modified.order_id == ack.order_id
    assert after_modify.price == Decimal("701.50")
    assert cancelled.order_id == ack.order_id
    assert after_cancel.status is OrderStatus.CANCELLED
    assert OrderStatus.CANCELLED in {entry.status for entry in history}
    with pytest.raises(BrokerRejectedError, match="Cannot cancel"):
        client.cancel_order(ack.order_id)


def test_limits_and_profile(client):
    funds = client.limits()
    profile = client.profile()

    assert funds.available_cash == Decimal("1000000.00")
    assert "NSE" in profile.exchanges


# -- failures --------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["http401", "json"])
def test_expired_session_is_auth_error(sim, client, mode):
    sim.configure(legacy_session_expired_mode=mode)
    sim.expire_sessions(client.session.user_id)

    with pytest.raises(BrokerAuthError):
        client.order_book()
    with pytest.raises(BrokerAuthError):
        client.place_order(sbin())


def test_lot_size_reject_carries_the_reason(client):
    future = OrderRequest(
        exchange="NFO",
        token="52168",
        trading_symbol="NIFTY26NOVFUT",
        side=Side.BUY,
        quantity=10,
        product=ProductType.NRML,
        tag="ct-lg-lot",
    )

    with pytest.raises(BrokerRejectedError) as info:
        client.place_order(future)

    assert "lot" in info.value.reason.lower()
    assert not info.value.retryable


def test_basket_returns_one_result_per_order(client):
    future = OrderRequest(
        exchange="NFO",
        token="52168",
        trading_symbol="NIFTY26NOVFUT",
        side=Side.BUY,
        quantity=10,
        tag="ct-lb2",
    )

    ok, rejected = client.place_orders([sbin(tag="ct-lb1"), future])

    assert isinstance(ok, OrderAck)
    assert isinstance(rejected, BrokerRejectedError)


@pytest.mark.parametrize("mode", ["http500", "html502"])
def test_server_errors_are_unavailable(sim, client, mode):
    sim.add_fault(endpoint="fetchOrderBook", mode=mode, count=1)
    sim.add_fault(endpoint=PLACE, mode=mode, count=1)

    with pytest.raises(BrokerUnavailableError):
        client.order_book()
    with pytest.raises(BrokerUnavailableError):
        client.place_order(sbin(tag="ct-lg-5xx"))

    assert sim.orders(client.session.user_id) == []


def test_html_200(sim, client):
    sim.add_fault(endpoint="positionBook", mode="html200", count=1)
    sim.add_fault(endpoint=PLACE, mode="html200", count=1)

    with pytest.raises(BrokerUnavailableError):
        client.positions()
    with pytest.raises(BrokerOutcomeUnknownError):
        client.place_order(sbin(tag="ct-lg-html"))


def test_timeout_after_accept_is_outcome_unknown_and_not_retried(sim, account):
    sim.login(account)
    anonymous = LegacyClient(base_url=sim.base_url, timeout=(1.0, 0.5))
    client = anonymous.with_session(anonymous.session_from_api_key(user_id=account, api_key=API_KEY))
    sim.add_fault(endpoint=PLACE, mode="timeout_after_accept", hold_seconds=3, count=1)

    started = time.monotonic()
    with pytest.raises(BrokerTimeoutError):
        client.place_order(sbin(tag="ct-lg-timeout"))

    assert time.monotonic() - started < 2.0
    assert [o["orderTag"] for o in sim.orders(account)] == ["ct-lg-timeout"]
    assert len(sim.requests_log(path=PLACE)) == 1


def test_drop_after_accept_is_outcome_unknown(sim, client):
    sim.add_fault(endpoint="cancelOrder", mode="drop_after_accept", count=1)
    ack = client.place_order(limit_sbin(tag="ct-lg-drop"))

    with pytest.raises(BrokerTimeoutError):
        client.cancel_order(ack.order_id)

    assert client.find_order_by_tag("ct-lg-drop").status is OrderStatus.CANCELLED
    assert len(sim.requests_log(path="cancelOrder")) == 1


def test_connection_refused_is_unavailable(client, closed_port):
    dead = LegacyClient(base_url=f"http://127.0.0.1:{closed_port}", session=client.session, timeout=TIMEOUT)

    with pytest.raises(BrokerUnavailableError):
        dead.place_order(sbin())


def test_rate_limited(sim, client):
    sim.add_fault(endpoint="fetchTradeBook", mode="rate_limited", count=1)

    with pytest.raises(BrokerRateLimitedError) as info:
        client.trade_book()

    assert info.value.retry_after == 60.0


def test_no_secret_in_logs_or_errors(sim, client, assert_no_secret_logged):
    token = client.session.token
    sim.add_fault(endpoint="getRmsLimits", mode="http500", count=1)

    with pytest.raises(BrokerUnavailableError) as info:
        client.limits()
    sim.expire_sessions()
    with pytest.raises(BrokerAuthError) as auth:
        client.profile()

    assert token not in str(info.value) + str(auth.value) + repr(client)
    assert_no_secret_logged(token, API_KEY)
