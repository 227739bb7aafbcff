"""Bad input: 400 naming the field and nothing written; 404 for unknown master orders; auth."""

from __future__ import annotations

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
        ({"trade": trade(symbol="NOSUCHSCRIP")}, "trade.symbol"),
        ({"trade": trade(), "eventType": "BOGUS"}, "eventType"),
    ],
)
def test_replicate_rejects_bad_trades_naming_the_field(api, make_follower, payload, field_text):
    # given
    make_follower()
    # when
    response = api.post("/api/trades/replicate", payload, format="json")
    # then
    body = response.json()
    assert response.status_code == 400, body
    assert body["ok"] is False
    assert field_text in body["message"]
    assert not TradeEvent.objects.exists()
    assert not OrderMapping.objects.exists()


@pytest.mark.parametrize("follower_ids", [None, [], "TEST-USER-1", [""]])
def test_copy_selected_needs_followers(api, follower_ids):
    # when
    response = api.post(
        "/api/trades/copy-selected", {"trade": trade(), "follower_ids": follower_ids}, format="json"
    )
    # then
    assert response.status_code == 400
    assert "follower" in response.json()["message"].lower()
    assert not TradeEvent.objects.exists()


@pytest.mark.parametrize("path", ["/api/trades/exit", "/api/trades/modify", "/api/trades/cancel"])
def test_unknown_master_order_is_404(api, path):
    # when
    response = api.post(path, {"masterOrderId": "NOPE", "modification": {"price": 10}}, format="json")
    # then
    assert response.status_code == 404
    assert response.json()["message"] == "Master order NOPE not found"


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
