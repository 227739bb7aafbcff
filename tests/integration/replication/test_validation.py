"""Bad input: 400 naming the field and nothing written; 404 for unknown master orders; auth."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from replication.models import OrderMapping, TradeEvent
from tests.integration.replication.conftest import trade

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.mark.parametrize(
    ("payload", "field_text"),
    [
        ({}, "Trade data is required"),
        ({"trade": {"id": "M1", "symbol": "SBIN", "side": "BUY"}}, "Missing required trade fields: quantity"),
        ({"trade": {"symbol": "SBIN", "side": "BUY", "quantity": 1}}, "Missing required trade fields: id"),
        ({"trade": trade(quantity=0)}, "trade.quantity"),
        ({"trade": trade(quantity=-5)}, "trade.quantity"),
        ({"trade": trade(quantity=1.5)}, "trade.quantity"),
        ({"trade": trade(side="HOLD")}, "trade.side"),
        ({"trade": trade(exchange="NYSE")}, "trade.exchange"),
        ({"trade": trade(product_type="BO")}, "trade.product_type"),
        ({"trade": trade(order_type="ICEBERG")}, "trade.order_type"),
        ({"trade": trade(order_type="LIMIT")}, "trade.price"),
        ({"trade": trade(), "eventType": "BOGUS"}, "eventType"),
        # defect 1: a price the columns cannot hold was accepted, stored, and broke every later read
        ({"trade": trade(price=10**30)}, "trade.price"),
        ({"trade": trade(price=1e308)}, "trade.price"),
        ({"trade": trade(price="1000000000000000000000000000000")}, "trade.price"),
        ({"trade": trade(price=-1)}, "trade.price"),
        ({"trade": trade(price="500.123")}, "trade.price: At most 2 decimal places are allowed."),
        ({"trade": trade(order_type="SL", price=10, trigger_price=10**9)}, "trade.trigger_price"),
        # defect 2: 10^30 was a 500, 10^12 was stored
        ({"trade": trade(quantity=10**30)}, "trade.quantity"),
        ({"trade": trade(quantity=10**12)}, "trade.quantity"),
        ({"trade": trade(quantity=10_000_001)}, "trade.quantity"),
        ({"trade": trade(quantity=True)}, "trade.quantity"),
        ({"trade": trade(quantity="100")}, "trade.quantity"),
        # defect 7: a NUL byte (or any control character) in a trade id was written to the DB and the log
        ({"trade": trade("M-\x00-1")}, "trade.id: Only printable ASCII characters without spaces."),
        ({"trade": trade("M-\x01-1")}, "trade.id"),
        ({"trade": trade("M-\n-1")}, "trade.id"),
        ({"trade": trade("x" * 65)}, "trade.id"),
        ({"trade": trade(" M-1")}, "trade.id"),
        ({"trade": trade(12345)}, "trade.id"),
        # defect 14: a lone surrogate could not be stored
        ({"trade": trade("M-\ud800")}, "trade.id: Only printable ASCII characters without spaces."),
        (
            {"trade": trade(symbol="SB\ud800IN")},
            "trade.symbol: Only printable ASCII characters without spaces.",
        ),
        ({"trade": "not an object"}, "Trade data is required"),
        ({"trade": [trade()]}, "Trade data is required"),
        ([trade()], "Invalid data"),
    ],
)
def test_replicate_rejects_bad_trades_naming_the_field(api, make_follower, payload, field_text):
    # given
    make_follower()
    # when (sent as JSON with \\u escapes, so lone surrogates travel as a real client would send them)
    response = api.generic(
        "POST", "/api/trades/replicate", json.dumps(payload), content_type="application/json"
    )
    # then
    body = response.json()
    assert response.status_code == 400, body
    assert body["ok"] is False
    assert field_text in body["message"], body
    assert not TradeEvent.objects.exists()
    assert not OrderMapping.objects.exists()
    # and every list still answers
    for path in ("/api/trades/events", "/api/trades/mappings", "/api/trade-events"):
        assert api.get(path).status_code == 200


def test_an_unknown_symbol_is_a_404_naming_it(api, make_follower):
    # given
    make_follower()
    # when
    response = api.post("/api/trades/replicate", {"trade": trade(symbol="NOSUCHSCRIP")}, format="json")
    # then
    body = response.json()
    assert response.status_code == 404, body
    assert body["code"] == "instrument_not_found"
    assert body["message"].startswith("trade.symbol: ")
    assert not TradeEvent.objects.exists()


@pytest.mark.parametrize(
    ("price", "stored"),
    [
        (500.5, "500.50"),
        ("500.50", "500.50"),
        (0.07, "0.07"),
        (57 * 0.01, "0.57"),
        (99999999.99, "99999999.99"),
    ],
)
def test_prices_with_two_decimals_are_taken_exactly(api, make_follower, price, stored):
    # given
    make_follower()
    # when
    response = api.post(
        "/api/trades/replicate?wait=0", {"trade": trade(order_type="LIMIT", price=price)}, format="json"
    )
    # then
    assert response.status_code == 200, response.json()
    assert str(TradeEvent.objects.get().price.quantize(Decimal("0.01"))) == stored


@pytest.mark.parametrize(
    ("follower_ids", "message"),
    [
        (None, "At least one follower must be selected"),
        ([], "At least one follower must be selected"),
        # defect 3: a string was answered "At least one follower must be selected"
        ("TEST-USER-1", "follower_ids: Must be a list of follower ids."),
        ([""], "follower_ids.0"),
        ([12], "follower_ids.0: Not a valid string."),
        (["TEST-USER-1", "TEST-USER-1"], "follower_ids: Follower ids must be unique."),
        # defect 3: 1,000 ids were accepted, and a 10 KB id was echoed back
        ([f"F-{n}" for n in range(501)], "follower_ids: Ensure this field has no more than 500 elements."),
        (["x" * 10_240], "follower_ids.0: Ensure this field has no more than 120 characters."),
        (["A\x00B"], "follower_ids.0: Only printable ASCII characters without spaces."),
    ],
)
def test_copy_selected_rejects_bad_follower_lists(api, make_follower, follower_ids, message):
    # given
    make_follower()
    payload = {"trade": trade()}
    if follower_ids is not None:
        payload["follower_ids"] = follower_ids
    # when
    response = api.post("/api/trades/copy-selected", payload, format="json")
    # then
    body = response.json()
    assert response.status_code == 400, body
    assert message in body["message"], body
    assert "x" * 200 not in response.content.decode()
    assert not TradeEvent.objects.exists()
    assert not OrderMapping.objects.exists()


def test_copy_selected_with_only_unknown_followers_is_404_and_writes_nothing(api, make_follower):
    # given (defect 3: this answered 200 "Trade copied successfully" and stored an empty TradeEvent)
    make_follower()
    # when
    response = api.post(
        "/api/trades/copy-selected", {"trade": trade(), "follower_ids": ["GHOST-1", "GHOST-2"]}, format="json"
    )
    # then
    body = response.json()
    assert response.status_code == 404, body
    assert (body["code"], body["message"]) == ("follower_not_found", "Unknown followers: GHOST-1, GHOST-2")
    assert not TradeEvent.objects.exists()
    assert not OrderMapping.objects.exists()


@pytest.mark.parametrize(
    "query",
    [
        "offset=99999999999999999999",
        "offset=-1",
        "limit=0",
        "limit=201",
        "limit=abc",
        "status=NOPE",
        "leg=SIDEWAYS",
        "masterOrderId=%01",
    ],
)
@pytest.mark.parametrize("path", ["/api/trades/mappings", "/api/trades/events"])
def test_bad_list_queries_are_400(api, path, query):
    # when (defect 15: a huge offset was an SQL error, 500)
    response = api.get(f"{path}?{query}")
    # then
    if path.endswith("events") and query.split("=")[0] in ("status", "leg"):
        assert response.status_code == 200  # not a filter of this list
        return
    assert response.status_code == 400, response.json()
    assert response.json()["ok"] is False


def test_an_offset_past_the_end_is_an_empty_page(api):
    # when
    body = api.get("/api/trades/mappings?offset=1000000000").json()
    # then
    assert body["mappings"] == []
    assert body["pagination"] == {"total": 0, "limit": 50, "offset": 1000000000, "hasMore": False}


@pytest.mark.parametrize("path", ["/api/trades/exit", "/api/trades/modify", "/api/trades/cancel"])
def test_unknown_master_order_is_404(api, path):
    # when
    response = api.post(path, {"masterOrderId": "NOPE", "modification": {"price": 10}}, format="json")
    # then
    assert response.status_code == 404
    assert response.json()["message"] == "Master order NOPE not found"


@pytest.mark.parametrize(
    ("path", "payload", "message"),
    [
        (
            "/api/trades/modify",
            {"masterOrderId": "M1", "modification": {"price": 10**30}},
            "modification.price",
        ),
        ("/api/trades/modify", {"masterOrderId": "M1", "modification": {"quantity": 10**12}}, "quantity"),
        ("/api/trades/modify", {"masterOrderId": "M1", "modification": {}}, "needs at least one of"),
        ("/api/trades/modify", {"masterOrderId": "M1", "modification": "x"}, "modification"),
        (
            "/api/trades/exit",
            {"masterOrderId": "M\ud800"},
            "masterOrderId: Only printable ASCII characters without spaces.",
        ),
        ("/api/trades/cancel", {"masterOrderId": "M\x01"}, "masterOrderId"),
        ("/api/trades/exit", {"masterOrderId": 123}, "masterOrderId"),
        ("/api/trades/exit", ["M1"], "masterOrderId is required"),
    ],
)
def test_action_routes_reject_bad_input(api, path, payload, message):
    # when
    response = api.generic("POST", path, json.dumps(payload), content_type="application/json")
    # then
    body = response.json()
    assert response.status_code == 400, body
    assert message in body["message"], body


@pytest.mark.parametrize("path", ["/api/trades/exit", "/api/trades/modify"])
def test_master_order_id_is_required(api, path):
    response = api.post(path, {}, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == "masterOrderId is required"


def test_get_replicate_needs_master_order_id(api):
    response = api.get("/api/trades/replicate")
    assert response.status_code == 400
    assert response.json()["message"] == "masterOrderId is required"


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/api/trades/replicate"), ("get", "/api/trades/mappings"), ("get", "/api/trade-events")],
)
def test_routes_need_the_secret(engine, method, path):
    from rest_framework.test import APIClient

    response = getattr(APIClient(), method)(path, {}, format="json")
    assert response.status_code == 401
    assert response.json()["message"] == "Unauthorized"
