"""Injected faults and latency, the rate limit, and the request log."""

from __future__ import annotations

import time

import pytest
import requests

from tests.integration.simulator.broker_calls import LEGACY, OPENAPI, openapi_order


def test_http500(sim, openapi):
    # given
    sim.add_fault(endpoint="orders/book", mode="http500")

    # when
    response = openapi.get("orders/book")

    # then
    assert response.status_code == 500


def test_html502_and_html200(sim, openapi):
    # given
    sim.add_fault(endpoint="orders/book", mode="html502")
    sim.add_fault(endpoint="positions", mode="html200")

    # when
    bad_gateway = openapi.get("orders/book")
    spa = openapi.get("positions")

    # then
    assert bad_gateway.status_code == 502
    assert "text/html" in bad_gateway.headers["Content-Type"]
    assert spa.status_code == 200
    assert spa.text.lstrip().startswith("<!doctype html>")


def test_timeout_before_does_not_accept_the_order(sim, user, openapi):
    # given
    sim.add_fault(userId=user, endpoint="placeorder", mode="timeout_before", hold_seconds=1)

    # when
    with pytest.raises(requests.ReadTimeout):
        openapi.post("orders/placeorder", [openapi_order()], timeout=0.3)

    # then
    assert sim.orders() == []


def test_timeout_after_accept_keeps_the_order(sim, user, openapi):
    # given
    sim.add_fault(userId=user, endpoint="placeorder", mode="timeout_after_accept", hold_seconds=1)
    body = [openapi_order(quantity=1, orderTag="tag-timeout")]

    # when
    with pytest.raises(requests.ReadTimeout):
        openapi.post("orders/placeorder", body, timeout=0.3)

    # then
    (order,) = sim.orders(user)
    assert (order["orderTag"], order["status"]) == ("tag-timeout", "COMPLETE")


def test_drop_after_accept_closes_the_connection_after_placing(sim, user, legacy):
    # given
    sim.add_fault(endpoint="executePlaceOrder", mode="drop_after_accept", count=1)

    # when
    with pytest.raises(requests.ConnectionError):
        legacy.place(orderTag="tag-drop")
    second = legacy.place(orderTag="tag-after")

    # then
    assert second.json()[0]["stat"] == "Ok"
    assert [o["orderTag"] for o in sim.orders(user)] == ["tag-drop", "tag-after"]


def test_session_expired_and_rate_limited_modes(sim, openapi, legacy):
    # given
    sim.add_fault(endpoint="orders/trades", mode="session_expired")
    sim.add_fault(endpoint="fetchTradeBook", mode="rate_limited")

    # when
    expired = openapi.get("orders/trades")
    limited = legacy.get("placeOrder/fetchTradeBook")

    # then
    assert expired.status_code == 401
    assert limited.status_code == 429
    assert limited.json()["stat"] == "Not_Ok"
    assert limited.headers["Retry-After"]


def test_fault_scoped_to_another_user_or_exhausted_does_not_apply(sim, openapi):
    # given
    sim.add_fault(userId="SOMEONE", mode="http500")
    sim.add_fault(endpoint="profile", mode="http500", count=1)

    # when
    first = openapi.get("profile/")
    second = openapi.get("profile/")

    # then
    assert (first.status_code, second.status_code) == (500, 200)
    sim.clear_faults()
    assert sim.faults() == []


def test_latency_is_added(sim, openapi):
    # given
    sim.add_fault(endpoint="profile", latency_ms=200)

    # when
    started = time.monotonic()
    response = openapi.get("profile/")
    elapsed = time.monotonic() - started

    # then
    assert response.status_code == 200
    assert elapsed >= 0.2


def test_rate_limit_applies_to_reads_not_orders(sim, openapi):
    # given
    sim.configure(rate_limit=3, rate_window_seconds=60)

    # when
    reads = [openapi.get("profile/").status_code for _ in range(4)]
    orders = [openapi.place().json()["status"] for _ in range(5)]

    # then
    assert reads == [200, 200, 200, 429]
    assert orders == ["Ok"] * 5


def test_rate_limit_answers_a_json_envelope_with_retry_after(sim, openapi):
    # given
    sim.configure(rate_limit=0)

    # when
    response = openapi.get("orders/book")

    # then
    assert response.status_code == 429
    assert response.json()["status"] == "Not_Ok"
    assert int(response.headers["Retry-After"]) > 0


def test_request_log_masks_secrets(sim, user, legacy):
    # given
    sim.login(user)
    requests.post(sim.base_url + LEGACY + "customer/getAPIEncpkey", json={"userId": user}, timeout=5)
    requests.post(
        sim.base_url + LEGACY + "customer/getUserSID", json={"userId": user, "userData": "ab"}, timeout=5
    )
    requests.post(sim.base_url + OPENAPI + "vendor/getUserDetails", json={"checkSum": "cd"}, timeout=5)
    legacy.place(orderTag="logged")

    # when
    log = sim.requests_log(user_id=user)
    placed = sim.requests_log(path="executePlaceOrder")

    # then
    assert [e["path"].rsplit("/", 1)[1] for e in log] == ["getAPIEncpkey", "getUserSID", "executePlaceOrder"]
    assert log[1]["body"] == {"userId": user, "userData": "***"}
    (entry,) = placed
    assert entry["method"] == "POST"
    assert entry["status"] == 200
    assert entry["userId"] == user
    assert entry["headers"]["Authorization"] == f"Bearer {user} ***"
    assert entry["body"][0]["orderTag"] == "logged"
    vendor = sim.requests_log(path="vendor/getUserDetails")[0]
    assert vendor["body"] == {"checkSum": "***"}
