"""The simulator's order-notify feed over real HTTP and real websockets (raw frames, no client classes):
createWsToken on both host styles, the subscribe frame, heartbeats, a frame per order event, drops."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from broker.simulator.control_client import SimulatorError

pytestmark = pytest.mark.integration

TOKEN_PATHS = {
    "openapi": "/open-api/order-notify/ws/createWsToken",
    "legacy": "/order-notify/ws/createWsToken",
}
SOCKET_PATHS = {"openapi": "/open-api/order-notify/websocket", "legacy": "/order-notify/websocket"}
FRAME_TIMEOUT = 2.0
SBIN = {"exchange": "NSE", "symbol": "SBIN-EQ"}


def create_ws_token(sim, headers: dict[str, str], *, host_style: str = "openapi") -> requests.Response:
    return requests.get(sim.base_url + TOKEN_PATHS[host_style], headers=headers, timeout=5)


def jwt_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def legacy_headers(user: str, token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {user} {token}"}


def order_token(sim, user: str) -> str:
    answer = create_ws_token(sim, jwt_headers(sim.issue_session(user)))
    assert answer.status_code == 200, answer.text
    return answer.json()["result"][0]["orderToken"]


@contextmanager
def raw_socket(sim, *, host_style: str = "openapi"):
    url = sim.base_url.replace("http://", "ws://") + SOCKET_PATHS[host_style]
    with connect(url, open_timeout=5, close_timeout=2) as ws:
        yield ws


def subscribe(ws: ClientConnection, token: str, user: str) -> dict:
    ws.send(json.dumps({"orderToken": token, "userId": user}))
    return json.loads(ws.recv(timeout=FRAME_TIMEOUT))


@contextmanager
def subscribed(sim, user: str, *, host_style: str = "openapi"):
    with raw_socket(sim, host_style=host_style) as ws:
        assert subscribe(ws, order_token(sim, user), user) == {"status": "Ok"}
        yield ws


def next_frame(ws: ClientConnection, timeout: float = FRAME_TIMEOUT) -> dict:
    return json.loads(ws.recv(timeout=timeout))


def frames(ws: ClientConnection, count: int) -> list[dict]:
    return [next_frame(ws) for _ in range(count)]


def assert_closed_within(ws: ClientConnection, seconds: float) -> ConnectionClosed:
    deadline = time.monotonic() + seconds
    while True:
        try:
            ws.recv(timeout=max(deadline - time.monotonic(), 0.01))
        except ConnectionClosed as closed:
            return closed
        except TimeoutError:
            pytest.fail(f"socket still open after {seconds} s")


# -- createWsToken ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("host_style", ["openapi", "legacy"])
@pytest.mark.parametrize("header_form", ["jwt", "legacy"])
def test_create_ws_token_on_both_host_styles_with_either_header(sim, user, host_style, header_form):
    # given
    session = sim.issue_session(user)
    headers = jwt_headers(session) if header_form == "jwt" else legacy_headers(user, session)

    # when
    answer = create_ws_token(sim, headers, host_style=host_style)

    # then
    assert answer.status_code == 200
    body = answer.json()
    assert (body["status"], body["message"]) == ("Ok", "200")
    (row,) = body["result"]
    assert len(row["orderToken"]) == 59
    assert all(c in "0123456789abcdef" for c in row["orderToken"])
    (logged,) = sim.requests_log(path="createWsToken")
    assert logged["userId"] == user
    assert session not in json.dumps(logged)


def test_create_ws_token_switches(sim, user):
    # given
    headers = jwt_headers(sim.issue_session(user))

    # when the feed is not enabled for everyone, then HTML for this user only
    sim.set_order_notify_mode("empty")
    empty = create_ws_token(sim, headers)
    sim.set_order_notify_mode("html", user_id=user)
    html = create_ws_token(sim, headers)
    sim.set_order_notify_mode("token", user_id=user)
    token = create_ws_token(sim, headers)

    # then
    assert (empty.status_code, empty.content) == (200, b"")
    assert html.status_code == 200
    assert html.headers["Content-Type"].startswith("text/html")
    assert '<div id="root">' in html.text
    assert token.json()["result"][0]["orderToken"]
    with pytest.raises(SimulatorError, match="order-notify modes"):
        sim.set_order_notify_mode("sometimes")


def test_create_ws_token_needs_a_live_session(sim, user):
    # given
    session = sim.issue_session(user)
    sim.expire_sessions(user)

    # when
    missing = create_ws_token(sim, {})
    expired = create_ws_token(sim, jwt_headers(session))
    expired_legacy = create_ws_token(sim, legacy_headers(user, session), host_style="legacy")
    sim.configure(openapi_session_expired_mode="ec087", legacy_session_expired_mode="json")
    ec087 = create_ws_token(sim, jwt_headers(session))
    legacy_json = create_ws_token(sim, legacy_headers(user, session), host_style="legacy")

    # then
    assert (missing.status_code, expired.status_code, expired_legacy.status_code) == (401, 401, 401)
    assert ec087.json() == {"status": "Not_Ok", "message": "EC087"}
    assert legacy_json.json() == {"stat": "Not_Ok", "emsg": "Session Expired"}


def test_create_ws_token_is_a_rate_limited_read(sim, user, openapi):
    # given a limit of 3 non-order calls per window
    sim.configure(rate_limit=3)
    headers = jwt_headers(sim.issue_session(user))

    # when
    openapi.get("profile/")
    answers = [create_ws_token(sim, headers).status_code for _ in range(3)]

    # then
    assert answers == [200, 200, 429]


# -- subscribing ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("host_style", ["openapi", "legacy"])
def test_subscribe_with_a_token_on_either_host(sim, user, host_style):
    # when
    with raw_socket(sim, host_style=host_style) as ws:
        answer = subscribe(ws, order_token(sim, user), user)
        sockets = sim.streams(user)

    # then
    assert answer == {"status": "Ok"}
    (socket,) = sockets
    assert (socket["userId"], socket["subscribedAs"], socket["framesSent"]) == (user, user, 0)


def test_the_numeric_client_code_is_accepted_as_the_user_id(sim, user):
    # given
    client_id = sim.create_account(user)["clientId"]

    # when
    with raw_socket(sim) as ws:
        answer = subscribe(ws, order_token(sim, user), client_id)
        sockets = sim.streams(user)

    # then
    assert answer == {"status": "Ok"}
    assert sockets[0]["subscribedAs"] == client_id


@pytest.mark.parametrize(
    ("first_frame", "message"),
    [
        ({"heartbeat": "h", "userId": "AB1001"}, "Invalid request"),
        ({"orderToken": "0" * 59, "userId": "AB1001"}, "Invalid orderToken"),
        ("not json", "Invalid request"),
    ],
)
def test_a_socket_without_a_valid_subscribe_frame_is_refused_and_closed(sim, user, first_frame, message):
    # when
    with raw_socket(sim) as ws:
        ws.send(first_frame if isinstance(first_frame, str) else json.dumps(first_frame))
        answer = next_frame(ws)
        closed = assert_closed_within(ws, 2)

    # then
    assert answer == {"status": "Not_ok", "message": message}
    assert closed.rcvd is not None
    assert closed.rcvd.code == 1008
    assert sim.streams() == []


def test_a_token_is_single_use_and_bound_to_its_user(sim, user):
    # given
    sim.create_account("AB2002")
    token = order_token(sim, user)
    other_token = order_token(sim, user)

    # when
    with raw_socket(sim) as first:
        accepted = subscribe(first, token, user)
        with raw_socket(sim) as second:
            reused = subscribe(second, token, user)
        with raw_socket(sim) as third:
            wrong_user = subscribe(third, other_token, "AB2002")

    # then
    assert accepted == {"status": "Ok"}
    assert reused == {"status": "Not_ok", "message": "Invalid orderToken"}
    assert wrong_user == {"status": "Not_ok", "message": "Invalid userId"}


def test_no_subscribe_frame_within_the_idle_limit_closes_the_socket(sim, user):
    # given
    sim.configure(order_notify_idle_seconds=0.5)

    # when
    with raw_socket(sim) as ws:
        answer = next_frame(ws)
        assert_closed_within(ws, 2)

    # then
    assert answer == {"status": "Not_ok", "message": "No subscribe frame received"}


# -- heartbeats -------------------------------------------------------------------------------------------


def test_a_socket_without_heartbeats_is_closed_after_the_idle_limit(sim, user):
    # given
    sim.configure(order_notify_idle_seconds=1)

    # when
    with subscribed(sim, user) as ws:
        started = time.monotonic()
        closed = assert_closed_within(ws, 3)
        elapsed = time.monotonic() - started

    # then
    assert 0.8 <= elapsed <= 2.5
    assert closed.rcvd is not None
    assert (closed.rcvd.code, closed.rcvd.reason) == (1000, "No heartbeat for 1 s")
    assert sim.streams() == []


def test_heartbeats_keep_a_socket_open_past_the_idle_limit(sim, user):
    # given
    sim.configure(order_notify_idle_seconds=1)

    with subscribed(sim, user) as ws:
        # when heartbeats come every 0.3 s for 2.5 s
        for _ in range(8):
            ws.send(json.dumps({"heartbeat": "h", "userId": user}))
            time.sleep(0.3)
        order = sim.place_as_user(user, side="BUY", quantity=1, order_type="LIMIT", price="700", **SBIN)

        # then the socket still carries frames
        frame = next_frame(ws)
        sockets = sim.streams(user)

    assert frame["norenordno"] == order["orderId"]
    assert sockets[0]["heartbeats"] == 8


# -- frames -----------------------------------------------------------------------------------------------


def test_a_limit_order_placed_modified_partly_filled_and_filled(sim, user):
    with subscribed(sim, user) as ws:
        # when the user works one order in their own app
        order = sim.place_as_user(
            user, side="BUY", quantity=10, order_type="LIMIT", price="700", tag="web-1", **SBIN
        )
        order_id = order["orderId"]
        sim.modify_as_user(order_id, quantity=12, price="701.50")
        sim.fill(order_id, quantity=5, price="701.50")
        sim.fill(order_id)
        new, replaced, partial, complete = frames(ws, 4)

    # then one frame per event, every value a string
    assert new == {
        "t": "om",
        "norenordno": order_id,
        "uid": user,
        "actid": user,
        "exch": "NSE",
        "tsym": "SBIN-EQ",
        "token": "3045",
        "trantype": "B",
        "qty": "10",
        "prc": "700.00",
        "prctyp": "L",
        "pcode": "I",
        "ret": "DAY",
        "dscqty": "0",
        "remarks": "web-1",
        "status": "OPEN",
        "reporttype": "New",
        "fillshares": "0",
        "norentm": new["norentm"],
        "exchordid": new["exchordid"],
        "exch_tm": new["exch_tm"],
    }
    assert new["exchordid"].isdigit()
    assert all(isinstance(value, str) for value in (*new.values(), *complete.values()))
    assert (replaced["reporttype"], replaced["status"], replaced["qty"], replaced["prc"]) == (
        "Replaced",
        "OPEN",
        "12",
        "701.50",
    )
    assert (partial["reporttype"], partial["status"], partial["fillshares"]) == ("Fill", "OPEN", "5")
    assert (partial["flqty"], partial["flprc"], partial["avgprc"]) == ("5", "701.50", "701.50")
    assert (complete["reporttype"], complete["status"], complete["fillshares"], complete["flqty"]) == (
        "Fill",
        "COMPLETE",
        "12",
        "7",
    )
    assert partial["flid"] != complete["flid"]
    assert "rejreason" not in complete
    assert "cancelqty" not in complete


def test_market_stop_cancel_and_reject_frames(sim, user):
    with subscribed(sim, user) as ws:
        # when
        market = sim.place_as_user(user, side="SELL", quantity=2, product="CNC", **SBIN)
        stop = sim.place_as_user(
            user, side="SELL", quantity=3, order_type="SLM", trigger_price="650", product="NRML", **SBIN
        )
        resting = sim.place_as_user(user, side="BUY", quantity=4, order_type="LIMIT", price="600", **SBIN)
        sim.cancel(stop["orderId"])
        sim.reject(resting["orderId"], "RMS: Margin Exceeds")
        received = frames(ws, 6)

    # then
    by_report = [(f["norenordno"], f["reporttype"], f["status"]) for f in received]
    assert by_report == [
        (market["orderId"], "New", "OPEN"),
        (market["orderId"], "Fill", "COMPLETE"),
        (stop["orderId"], "New", "TRIGGER_PENDING"),
        (resting["orderId"], "New", "OPEN"),
        (stop["orderId"], "Canceled", "CANCELED"),
        (resting["orderId"], "Rejected", "REJECTED"),
    ]
    market_new, market_fill, stop_new, _, stop_cancel, rejected = received
    assert (market_new["trantype"], market_new["prctyp"], market_new["pcode"]) == ("S", "MKT", "C")
    assert market_fill["avgprc"] == market["averagePrice"]
    assert (stop_new["prctyp"], stop_new["pcode"], stop_new["trgprc"]) == ("SL-M", "M", "650.00")
    assert stop_cancel["cancelqty"] == "3"
    assert rejected["rejreason"] == "RMS: Margin Exceeds"


def test_a_stop_limit_order_triggers_and_fills_on_a_price_move(sim, user):
    with subscribed(sim, user) as ws:
        # when
        sim.set_price("NSE", "SBIN-EQ", "800")
        order = sim.place_as_user(
            user, side="BUY", quantity=1, order_type="SL", price="812", trigger_price="810", **SBIN
        )
        sim.set_price("NSE", "SBIN-EQ", "811")
        new, triggered, fill = frames(ws, 3)

    # then
    assert [(f["reporttype"], f["status"]) for f in (new, triggered, fill)] == [
        ("New", "TRIGGER_PENDING"),
        ("Triggered", "OPEN"),
        ("Fill", "COMPLETE"),
    ]
    assert fill["norenordno"] == order["orderId"]


def test_api_orders_give_frames_too_including_the_tick_size_rejection(sim, user, openapi, legacy):
    with subscribed(sim, user) as ws:
        # when
        api_order = openapi.place_id(
            orderType="LIMIT", price="700.05", quantity=1, orderTag="ct-1", product="LONGTERM"
        )
        openapi.post("orders/modify", {"brokerOrderId": api_order, "price": "700.10", "orderType": "LIMIT"})
        legacy_order = legacy.place_id(prctyp="L", price="700.00", qty=1)
        legacy.post("placeOrder/cancelOrder", {"nestOrderNumber": legacy_order})
        bad_tick = openapi.place_id(orderType="LIMIT", price="700.03", quantity=1)
        received = frames(ws, 6)

    # then
    assert [(f["norenordno"], f["reporttype"], f["status"]) for f in received] == [
        (api_order, "New", "OPEN"),
        (api_order, "Replaced", "OPEN"),
        (legacy_order, "New", "OPEN"),
        (legacy_order, "Canceled", "CANCELED"),
        (bad_tick, "New", "PENDING"),
        (bad_tick, "Rejected", "REJECTED"),
    ]
    assert (received[0]["remarks"], received[0]["pcode"]) == ("ct-1", "C")
    assert received[5]["rejreason"].startswith("ORA:Price 700.03 is not a multiple of tick size")


def test_every_socket_of_the_account_gets_every_frame_and_no_other_accounts(sim, user):
    # given
    sim.create_account("AB2002")
    with subscribed(sim, user) as first, subscribed(sim, user) as second, subscribed(sim, "AB2002") as other:
        # when
        order = sim.place_as_user(user, side="BUY", quantity=1, order_type="LIMIT", price="700", **SBIN)
        first_frame = next_frame(first)
        second_frame = next_frame(second)

        # then
        assert first_frame == second_frame
        assert first_frame["norenordno"] == order["orderId"]
        with pytest.raises(TimeoutError):
            other.recv(timeout=0.3)
        assert len(sim.streams(user)) == 2


def test_frames_can_be_delayed_by_a_switch(sim, user):
    # given
    sim.configure(order_notify_delay_ms=300)

    with subscribed(sim, user) as ws:
        # when
        started = time.monotonic()
        sim.place_as_user(user, side="BUY", quantity=1, **SBIN)
        new, fill = frames(ws, 2)
        elapsed = time.monotonic() - started

    # then in order, each no earlier than the delay
    assert (new["reporttype"], fill["reporttype"]) == ("New", "Fill")
    assert 0.3 <= elapsed < 1.5


# -- drops ------------------------------------------------------------------------------------------------


def test_drop_closes_the_sockets_of_one_user(sim, user):
    # given
    sim.create_account("AB2002")
    with subscribed(sim, user) as mine, subscribed(sim, "AB2002") as other:
        # when
        dropped = sim.drop_streams(user)
        closed = assert_closed_within(mine, 1)

        # then
        assert dropped == 1
        assert closed.rcvd is not None
        assert closed.rcvd.code == 1001
        assert [s["userId"] for s in sim.streams()] == ["AB2002"]
        sim.place_as_user("AB2002", side="BUY", quantity=1, order_type="LIMIT", price="700", **SBIN)
        assert next_frame(other)["uid"] == "AB2002"


def test_abort_drops_the_connection_without_a_close_frame(sim, user):
    with subscribed(sim, user) as ws:
        # when
        assert sim.drop_streams(mode="abort") == 1
        closed = assert_closed_within(ws, 1)

    # then
    assert closed.rcvd is None


def test_silent_drop_answers_nothing_not_even_pings(sim, user):
    with subscribed(sim, user) as ws:
        # given the socket answers pings
        assert ws.ping().wait(1)

        # when
        sim.drop_streams(user, mode="silent", hold_seconds=5)
        time.sleep(0.2)
        pong = ws.ping()
        sim.place_as_user(user, side="BUY", quantity=1, order_type="LIMIT", price="700", **SBIN)

        # then
        assert not pong.wait(0.5)
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.3)


def test_reset_closes_every_socket_and_forgets_tokens(sim, user):
    # given
    token = order_token(sim, user)
    with subscribed(sim, user) as ws:
        # when
        sim.reset()
        assert_closed_within(ws, 1)
    sim.create_account(user)

    # then
    with raw_socket(sim) as again:
        assert subscribe(again, token, user)["status"] == "Not_ok"


# -- the user's own modify --------------------------------------------------------------------------------


def test_modify_as_user_changes_an_own_open_order(sim, user, openapi):
    # given
    order = sim.place_as_user(
        user, side="SELL", quantity=5, order_type="SL", price="690", trigger_price="695", **SBIN
    )

    # when
    modified = sim.modify_as_user(order["orderId"], quantity=10, trigger_price="696", user_id=user)
    to_market = sim.modify_as_user(order["orderId"], order_type="MKT")

    # then
    assert (modified["quantity"], modified["triggerPrice"], modified["price"]) == (10, "696.00", "690.00")
    assert modified["status"] == "TRIGGER_PENDING"
    assert (to_market["orderType"], to_market["status"], to_market["filledQuantity"]) == (
        "MARKET",
        "COMPLETE",
        10,
    )
    (row,) = openapi.get("orders/book").json()["result"]
    assert (row["orderStatus"], row["quantity"]) == ("COMPLETE", 10)


def test_modify_as_user_refusals(sim, user):
    # given
    sim.create_account("AB2002")
    done = sim.place_as_user(user, side="BUY", quantity=1, **SBIN)
    resting = sim.place_as_user(user, side="BUY", quantity=2, order_type="LIMIT", price="700", **SBIN)

    # when / then
    with pytest.raises(SimulatorError, match=r"409.*EC993"):
        sim.modify_as_user(done["orderId"], price="701")
    with pytest.raises(SimulatorError, match="404"):
        sim.modify_as_user(resting["orderId"], price="701", user_id="AB2002")
    with pytest.raises(SimulatorError, match="404"):
        sim.modify_as_user("999999999999999", price="701")
    with pytest.raises(SimulatorError, match="nothing to modify"):
        sim.modify_as_user(resting["orderId"])
    with pytest.raises(SimulatorError, match="EC957"):
        sim.modify_as_user(resting["orderId"], price="700.03")
    assert sim.order(resting["orderId"])["price"] == "700.00"
