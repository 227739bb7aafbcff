"""The simulator's webhooks: subscribe/unsubscribe on the legacy gateway (either header form, at most 5 URLs),
a POST of the Noren payload (without `t`) to every subscribed URL on every order event, fire and forget."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import pytest
import requests

pytestmark = pytest.mark.integration

WEBHOOK = "/rest/AliceBlueAPIService/api/webhook/"
SBIN = {"exchange": "NSE", "symbol": "SBIN-EQ"}


def post(sim, action: str, url: str, headers: dict[str, str]) -> requests.Response:
    return requests.post(
        sim.base_url + WEBHOOK + action, json={"callbackUrl": url}, headers=headers, timeout=5
    )


@pytest.fixture
def jwt(sim, user) -> dict[str, str]:
    return {"Authorization": f"Bearer {sim.issue_session(user)}"}


@pytest.fixture
def legacy_header(sim, user) -> dict[str, str]:
    return {"Authorization": f"Bearer {user} {sim.issue_session(user)}"}


def test_subscribe_with_either_header_form_at_most_five(sim, user, jwt, legacy_header):
    # when
    answers = [post(sim, "subscribe", f"https://hooks.example/{n}", jwt).json() for n in range(3)]
    answers += [post(sim, "subscribe", f"https://hooks.example/{n}", legacy_header).json() for n in (3, 4)]
    again = post(sim, "subscribe", "https://hooks.example/0", jwt).json()
    sixth = post(sim, "subscribe", "https://hooks.example/5", jwt).json()

    # then
    assert all(a["stat"] == "Ok" for a in answers)
    assert again["stat"] == "Ok"  # the same URL twice is one subscription
    assert sixth == {"stat": "Not_Ok", "emsg": "Maximum of 5 callback URLs reached"}
    subscriptions = sim.webhooks(user)["subscriptions"]
    assert [s["callbackUrl"] for s in subscriptions] == [f"https://hooks.example/{n}" for n in range(5)]


def test_bad_requests_are_refused(sim, user, jwt):
    # when
    bad_url = post(sim, "subscribe", "ftp://hooks.example/x", jwt).json()
    not_subscribed = post(sim, "unsubscribe", "https://hooks.example/x", jwt).json()
    sim.expire_sessions(user)
    expired = post(sim, "subscribe", "https://hooks.example/x", jwt)

    # then
    assert bad_url == {"stat": "Not_Ok", "emsg": "Invalid callbackUrl"}
    assert not_subscribed == {"stat": "Not_Ok", "emsg": "Callback URL is not subscribed"}
    assert expired.status_code == 401
    assert sim.webhooks(user)["subscriptions"] == []


def test_every_order_event_is_posted_to_every_url_without_t(sim, user, jwt, webhook_receiver):
    # given
    for path in ("/a", "/b"):
        assert post(sim, "subscribe", webhook_receiver.url(path), jwt).json()["stat"] == "Ok"

    # when
    order = sim.place_as_user(user, side="BUY", quantity=2, order_type="LIMIT", price="700", tag="w", **SBIN)
    sim.fill(order["orderId"], quantity=1)
    sim.cancel(order["orderId"])

    # then
    for path in ("/a", "/b"):
        bodies = webhook_receiver.wait_for(3, path=path)
        assert sorted(b["reporttype"] for b in bodies) == ["Canceled", "Fill", "New"]
        assert all("t" not in b and b["norenordno"] == order["orderId"] for b in bodies)
        assert all(isinstance(v, str) for b in bodies for v in b.values())
    (received, *_) = webhook_receiver.received
    assert received["headers"]["Content-Type"] == "application/json"
    deliveries = _wait_deliveries(sim, user, 6)
    assert {(d["statusCode"], d["norenordno"], d["error"]) for d in deliveries} == {
        (200, order["orderId"], "")
    }


def test_unsubscribe_stops_the_posts(sim, user, jwt, webhook_receiver):
    # given
    post(sim, "subscribe", webhook_receiver.url(), jwt)
    sim.place_as_user(user, side="BUY", quantity=1, order_type="LIMIT", price="700", **SBIN)
    webhook_receiver.wait_for(1)

    # when
    assert post(sim, "unsubscribe", webhook_receiver.url(), jwt).json()["stat"] == "Ok"
    sim.place_as_user(user, side="BUY", quantity=1, order_type="LIMIT", price="700", **SBIN)
    time.sleep(0.3)

    # then
    assert len(webhook_receiver.bodies()) == 1
    assert sim.webhooks(user)["subscriptions"] == []


def test_a_failing_receiver_never_slows_the_engine(sim, user, jwt, webhook_receiver, free_tcp_port):
    # given a receiver answering 500, a port nobody listens on, and one that never answers
    webhook_receiver.status = 500
    sim.configure(webhook_timeout_seconds=0.3)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        silent_port = silent.getsockname()[1]
        for url in (
            webhook_receiver.url(),
            f"http://127.0.0.1:{free_tcp_port}/hook",
            f"http://127.0.0.1:{silent_port}/hook",
        ):
            post(sim, "subscribe", url, jwt)

        # when
        started = time.monotonic()
        order = sim.place_as_user(user, side="BUY", quantity=1, **SBIN)
        elapsed = time.monotonic() - started
        deliveries = _wait_deliveries(sim, user, 6, timeout=3)

    # then the order went through at once and each failure is only recorded
    assert order["status"] == "COMPLETE"
    assert elapsed < 0.25
    outcomes = {(urlsplit(d["url"]).port, d["statusCode"] or d["error"]) for d in deliveries}
    assert outcomes == {
        (urlsplit(webhook_receiver.url()).port, 500),
        (free_tcp_port, "ClientConnectorError"),
        (silent_port, "TimeoutError"),
    }


def _wait_deliveries(sim, user: str, count: int, *, timeout: float = 3.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        deliveries = sim.webhooks(user)["deliveries"]
        if len(deliveries) >= count or time.monotonic() > deadline:
            assert len(deliveries) >= count, deliveries
            return deliveries
        time.sleep(0.02)
