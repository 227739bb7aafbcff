"""A client of a running simulator's /sim/ control API over HTTP (tests, benchmarks, `make run`'s demo)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import requests

CONTROL_TIMEOUT = 10.0


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class SimulatorError(RuntimeError):
    """A control call answered with an error."""


class SimulatorClient:
    """Thin helpers over the /sim/ control API of a running simulator at `base_url`."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()

    def _call(
        self, method: str, route: str, body: dict[str, Any] | None = None, query: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        params = {k: v for k, v in (query or {}).items() if v is not None}
        response = self.http.request(
            method, self.base_url + route, json=body, params=params or None, timeout=CONTROL_TIMEOUT
        )
        data = response.json()
        if response.status_code >= 400 or not data.get("ok", False):
            raise SimulatorError(f"{method} {route} -> {response.status_code}: {data.get('error', data)}")
        return data

    def reset(self) -> None:
        """Drop all state except the contract master and the start-up options."""
        self._call("POST", "/sim/reset")

    def health(self) -> dict[str, Any]:
        """Liveness, trading day and counts."""
        return self._call("GET", "/sim/health")

    def create_account(self, user_id: str, **fields: Any) -> dict[str, Any]:
        """Create or update an account (fields: api_key, api_secret, app_code, cash, redirect_url, ...)."""
        body = {"userId": user_id, **{_camel(k): v for k, v in fields.items()}}
        if isinstance(body.get("cash"), Decimal):
            body["cash"] = str(body["cash"])
        return self._call("POST", "/sim/accounts", body)

    def login(self, user_id: str, *, app_code: str | None = None) -> str:
        """The user's daily login; returns the one-time authCode."""
        body = {"userId": user_id, **({"appCode": app_code} if app_code else {})}
        return self._call("POST", "/sim/login", body)["authCode"]

    def issue_session(self, user_id: str) -> str:
        """A session token valid for both flavours (open-api `Bearer <t>`, legacy `Bearer <USER> <t>`)."""
        return self._call("POST", "/sim/sessions", {"userId": user_id})["sessionId"]

    def set_price(self, exchange: str, symbol: str, price: Decimal | str | float) -> list[dict[str, Any]]:
        """Set the last price; returns the ledger entries of the orders it triggered or filled."""
        body = {"exchange": exchange, "symbol": symbol, "price": str(price)}
        return self._call("POST", "/sim/prices", body)["orders"]

    def fill(
        self, order_id: str, quantity: int | None = None, price: Decimal | str | float | None = None
    ) -> dict[str, Any]:
        """Fill an order fully or partly; returns its ledger entry."""
        body: dict[str, Any] = {}
        if quantity is not None:
            body["quantity"] = quantity
        if price is not None:
            body["price"] = str(price)
        return self._call("POST", f"/sim/orders/{order_id}/fill", body)

    def reject(self, order_id: str, reason: str) -> dict[str, Any]:
        """Reject an open order after acceptance; returns its ledger entry."""
        return self._call("POST", f"/sim/orders/{order_id}/reject", {"reason": reason})

    def cancel(self, order_id: str) -> dict[str, Any]:
        """Cancel an open order from the simulator side; returns its ledger entry."""
        return self._call("POST", f"/sim/orders/{order_id}/cancel", {})

    def place_as_user(
        self,
        user_id: str,
        *,
        exchange: str,
        symbol: str,
        side: str,
        quantity: int,
        order_type: str = "MARKET",
        price: Decimal | str | float | None = None,
        trigger_price: Decimal | str | float | None = None,
        product: str = "MIS",
        tag: str = "",
    ) -> dict[str, Any]:
        """Place an order as the user with no session (e.g. the master in the web UI); its ledger entry."""
        body: dict[str, Any] = {
            "userId": user_id,
            "exchange": exchange,
            "symbol": symbol,
            "side": side,
            "quantity": quantity,
            "orderType": order_type,
            "product": product,
            "tag": tag,
        }
        if price is not None:
            body["price"] = str(price)
        if trigger_price is not None:
            body["triggerPrice"] = str(trigger_price)
        return self._call("POST", "/sim/orders", body)

    def modify_as_user(
        self,
        order_id: str,
        *,
        quantity: int | None = None,
        price: Decimal | str | float | None = None,
        trigger_price: Decimal | str | float | None = None,
        order_type: str | None = None,
        user_id: str | None = None,
    ) -> dict[str, Any]:
        """Modify an account's own open order as the user would in Alice Blue's app; its ledger entry."""
        body: dict[str, Any] = {}
        if user_id is not None:
            body["userId"] = user_id
        if quantity is not None:
            body["quantity"] = quantity
        if price is not None:
            body["price"] = str(price)
        if trigger_price is not None:
            body["triggerPrice"] = str(trigger_price)
        if order_type is not None:
            body["orderType"] = order_type
        return self._call("POST", f"/sim/orders/{order_id}/modify", body)

    # -- order updates ---------------------------------------------------------------------------------
    def set_order_notify_mode(self, mode: str, *, user_id: str | None = None) -> dict[str, Any]:
        """createWsToken's answer: `token`, `empty` (feed not enabled) or `html`; for one user or for all."""
        if user_id is None:
            return self.configure(order_notify_mode=mode)
        modes = dict(self._call("GET", "/sim/config")["config"]["orderNotifyUserModes"])
        modes[user_id.upper()] = mode
        return self.configure(order_notify_user_modes=modes)

    def streams(self, user_id: str | None = None) -> list[dict[str, Any]]:
        """The authenticated order-notify sockets (userId, subscribedAs, heartbeats, framesSent...)."""
        return self._call("GET", "/sim/stream", query={"userId": user_id})["sockets"]

    def drop_streams(
        self, user_id: str | None = None, *, mode: str = "close", hold_seconds: float | None = None
    ) -> int:
        """End order-notify sockets (of one user): close frame, abort (TCP reset) or silent; how many."""
        body: dict[str, Any] = {"mode": mode}
        if user_id is not None:
            body["userId"] = user_id
        if hold_seconds is not None:
            body["holdSeconds"] = hold_seconds
        return self._call("POST", "/sim/stream/drop", body)["dropped"]

    def webhooks(self, user_id: str | None = None) -> dict[str, Any]:
        """`{"subscriptions": [{userId, callbackUrl}], "deliveries": [{url, statusCode, norenordno...}]}`."""
        data = self._call("GET", "/sim/webhooks", query={"userId": user_id})
        return {"subscriptions": data["subscriptions"], "deliveries": data["deliveries"]}

    def add_fault(self, **fields: Any) -> str:
        """Add a fault/latency rule (user_id, endpoint, latency_ms, mode, rate, count, hold_seconds)."""
        body = {_camel(k): v for k, v in fields.items()}
        return self._call("POST", "/sim/faults", body)["faultId"]

    def faults(self) -> list[dict[str, Any]]:
        """The fault rules with their remaining counts."""
        return self._call("GET", "/sim/faults")["faults"]

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self._call("DELETE", "/sim/faults")

    def expire_sessions(self, user_id: str | None = None) -> int:
        """Expire one user's sessions (or all); returns how many were live."""
        return self._call("POST", "/sim/expire-sessions", {"userId": user_id} if user_id else {})["expired"]

    def new_day(self) -> str:
        """Roll the trading day; returns the new ISO date."""
        return self._call("POST", "/sim/new-day")["tradingDay"]

    def configure(self, **switches: Any) -> dict[str, Any]:
        """Set behaviour switches (snake_case or camelCase names); returns the whole config."""
        return self._call("POST", "/sim/config", {_camel(k): v for k, v in switches.items()})["config"]

    def requests_log(self, user_id: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        """Every broker request received, oldest first (secrets masked), filtered by user and path."""
        return self._call("GET", "/sim/requests", query={"userId": user_id, "path": path})["requests"]

    def orders(self, user_id: str | None = None) -> list[dict[str, Any]]:
        """The ledger of every accepted order, oldest first."""
        return self._call("GET", "/sim/orders", query={"userId": user_id})["orders"]

    def order(self, order_id: str) -> dict[str, Any]:
        """One ledger entry."""
        return self._call("GET", f"/sim/orders/{order_id}")

    def positions(self, user_id: str | None = None) -> list[dict[str, Any]]:
        """Positions with realised and unrealised P&L."""
        return self._call("GET", "/sim/positions", query={"userId": user_id})["positions"]
