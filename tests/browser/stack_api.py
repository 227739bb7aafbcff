"""What browser tests read and arrange outside the browser: copytrade's REST API (x-qa-secret) and the
simulator's control API (the master trading in Alice Blue's app, the orders each account received)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests

MASTER_CLIENT_ID = "MASTER1"
# The demo followers (accounts/services/demo.py): account id -> simulator userId.
FOLLOWER_CLIENT_IDS = {
    "DEMO-FOLLOWER-1": "FOLLOW1",
    "DEMO-FOLLOWER-2": "FOLLOW2",
    "DEMO-FOLLOWER-3": "FOLLOW3",
}
TIMEOUT = 10


def wait_until(check: Callable[[], Any], *, seconds: float, what: str, interval: float = 0.5) -> Any:
    """Call `check` until it returns something truthy; that value. Fails with `what` and the last value."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not within {seconds:g} s; last: {value!r}")
        time.sleep(interval)


class StackApi:
    def __init__(self, *, web: str, sim: str, secret: str) -> None:
        self.web = web
        self.sim = sim
        self._api = requests.Session()
        self._api.headers.update({"x-qa-secret": secret})

    # ------------------------------------------------------------------ copytrade's REST API
    def get(self, path: str, **params: Any) -> dict:
        answer = self._api.get(f"{self.web}{path}", params=params, timeout=TIMEOUT)
        assert answer.status_code == 200, (path, answer.status_code, answer.text)
        return answer.json()

    def post(self, path: str, body: dict) -> dict:
        answer = self._api.post(f"{self.web}{path}", json=body, timeout=TIMEOUT)
        assert answer.status_code in (200, 201), (path, answer.status_code, answer.text)
        return answer.json()

    def auto_replicate(self, *, on: bool) -> None:
        """Master settings: copy each captured master trade at once (on), or wait for the operator (off)."""
        self.post("/api/admin/settings", {"autoReplicateNewTrades": on})
        assert self.get("/api/admin/settings")["settings"]["auto_replicate_new_trades"] is on

    def risk_config(self, follower_id: str) -> dict:
        config = self.get("/api/followers/risk-config", followerId=follower_id)["config"]
        return {key: value for key, value in config.items() if key != "follower_id"}

    def risk_config_replace(self, follower_id: str, config: dict) -> None:
        self.post("/api/followers/risk-config", {"followerId": follower_id, **config})

    def wait_captured(self, master_order_id: str, seconds: float = 15) -> dict:
        """The master trade once copytrade captured the order (the stack's order-update stream or poll)."""

        def captured() -> dict | None:
            trades = self.get("/api/alice/incoming")["trades"]
            return next((t for t in trades if t["id"] == master_order_id), None)

        return wait_until(captured, seconds=seconds, what=f"master order {master_order_id} captured")

    def mappings(self, master_order_id: str) -> list[dict]:
        return self.get("/api/trades/mappings", masterOrderId=master_order_id, limit=200)["mappings"]

    # ------------------------------------------------------------------ the simulator's control API
    def master_order(self, *, symbol: str, quantity: int, side: str = "BUY", exchange: str = "NSE") -> str:
        """A MARKET order the master placed in the broker's app (not sent by copytrade); its order id."""
        answer = requests.post(
            f"{self.sim}/sim/orders",
            json={
                "userId": MASTER_CLIENT_ID,
                "exchange": exchange,
                "symbol": symbol,
                "side": side,
                "quantity": quantity,
                "orderType": "MARKET",
            },
            timeout=TIMEOUT,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["orderId"]

    def ledger(self, client_id: str) -> list[dict]:
        """Every order the account received at the simulator."""
        answer = requests.get(f"{self.sim}/sim/orders", params={"userId": client_id}, timeout=TIMEOUT)
        assert answer.status_code == 200, answer.text
        return answer.json()["orders"]

    def follower_orders(self, follower_id: str, master_order_id: str) -> list[dict]:
        """The orders a follower received at the simulator for one master order (any leg, by orderTag)."""
        tags = {m["order_tag"] for m in self.mappings(master_order_id) if m["follower_id"] == follower_id}
        return [o for o in self.ledger(FOLLOWER_CLIENT_IDS[follower_id]) if o["orderTag"] in tags]

    def symbol_orders(self, client_id: str, symbol: str) -> list[dict]:
        """The account's orders at the simulator in one NSE equity (its trading symbol is "<symbol>-EQ")."""
        return [o for o in self.ledger(client_id) if o["tradingSymbol"] in (symbol, f"{symbol}-EQ")]
