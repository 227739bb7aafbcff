"""Raw HTTP calls to the simulator's broker routes, as a client would make them (no client classes)."""

from __future__ import annotations

import hashlib
from typing import Any

import requests

OPENAPI = "/open-api/od/v1/"
LEGACY = "/rest/AliceBlueAPIService/api/"
TIMEOUT = 5.0


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class OpenApi:
    """`Authorization: Bearer <token>` calls under /open-api/od/v1/."""

    def __init__(self, base_url: str, token: str | None) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, path: str, *, timeout: float = TIMEOUT) -> requests.Response:
        return requests.get(self.base_url + OPENAPI + path, headers=self.headers, timeout=timeout)

    def post(self, path: str, body: Any, *, timeout: float = TIMEOUT) -> requests.Response:
        return requests.post(self.base_url + OPENAPI + path, json=body, headers=self.headers, timeout=timeout)

    def place(self, **fields: Any) -> requests.Response:
        return self.post("orders/placeorder", [openapi_order(**fields)])

    def place_id(self, **fields: Any) -> str:
        data = self.place(**fields).json()
        assert data["status"] == "Ok", data
        return data["result"][0]["brokerOrderId"]


class Legacy:
    """`Authorization: Bearer <USERID> <session>` calls under /rest/AliceBlueAPIService/api/."""

    def __init__(self, base_url: str, user_id: str, token: str | None) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {user_id} {token}"} if token else {}

    def get(self, path: str, *, timeout: float = TIMEOUT) -> requests.Response:
        return requests.get(self.base_url + LEGACY + path, headers=self.headers, timeout=timeout)

    def post(self, path: str, body: Any, *, timeout: float = TIMEOUT) -> requests.Response:
        return requests.post(self.base_url + LEGACY + path, json=body, headers=self.headers, timeout=timeout)

    def place(self, **fields: Any) -> requests.Response:
        return self.post("placeOrder/executePlaceOrder", [legacy_order(**fields)])

    def place_id(self, **fields: Any) -> str:
        (result,) = self.place(**fields).json()
        assert result["stat"] == "Ok", result
        return result["NOrdNo"]


def openapi_order(**overrides: Any) -> dict[str, Any]:
    """An open-api order element with every key (empty strings for unused ones), as openalgo sends it."""
    order = {
        "exchange": "NSE",
        "instrumentId": "3045",
        "transactionType": "BUY",
        "quantity": 10,
        "product": "INTRADAY",
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
        "orderTag": "",
    }
    order.update(overrides)
    return order


def legacy_order(**overrides: Any) -> dict[str, Any]:
    """A legacy order element as pya3 sends it (nulls for unused optionals)."""
    order = {
        "complexty": "regular",
        "discqty": 0,
        "exch": "NSE",
        "pCode": "MIS",
        "prctyp": "MKT",
        "price": 0.0,
        "qty": 10,
        "ret": "DAY",
        "symbol_id": "3045",
        "trading_symbol": "SBIN-EQ",
        "transtype": "BUY",
        "trigPrice": None,
        "orderTag": None,
        "stopLoss": None,
        "target": None,
        "trailing_stop_loss": None,
    }
    order.update(overrides)
    return order
