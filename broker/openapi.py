"""The Alice Blue open-api client (`<root>/open-api/od/v1/`), the default flavour.

Auth: vendor checksum exchange for a JWT, then `Authorization: Bearer <JWT>`. Envelope
`{"status","message","result":[...]}`, failures as bare `EC...` codes. No call is ever retried here.
"""

from __future__ import annotations

import hashlib
import time
from decimal import Decimal
from typing import Any

from broker import parsing_openapi as wire
from broker import parsing_order_notify as notify_wire
from broker.budget import CallBudget
from broker.client import DEFAULT_TIMEOUT, WEBHOOK_PREFIX, AliceBlueClient, websocket_url
from broker.exceptions import (
    BrokerAuthError,
    BrokerError,
    BrokerRejectedError,
)
from broker.parsing import read_ack, read_acks, read_one, read_rows
from broker.transport import DEFAULT_POOL_SIZE, Transport
from broker.types import (
    ApiFlavor,
    Funds,
    ModifyRequest,
    Order,
    OrderAck,
    OrderHistoryEntry,
    OrderRequest,
    Position,
    Profile,
    Session,
    Trade,
)

API_PREFIX = "/open-api/od/v1"
ORDER_NOTIFY_PREFIX = "/open-api/order-notify"
CHART_HISTORY_PATH = "/open-api/od/ChartAPIService/api/chart/history"


def checksum(user_id: str, auth_code: str, api_secret: str) -> str:
    """sha256_hex(USERID + authCode + apiSecret), lower-case hex; the user id upper-cased as the SDK does."""
    return hashlib.sha256(f"{user_id.strip().upper()}{auth_code}{api_secret}".encode()).hexdigest()


class OpenApiClient(AliceBlueClient):
    """One account on the open-api. Raises only `broker.exceptions` classes."""

    flavor = ApiFlavor.OPENAPI
    place_order_path = "orders/placeorder"
    place_order_what = "placeorder"

    def __init__(
        self,
        *,
        base_url: str,
        session: Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        pool_size: int = DEFAULT_POOL_SIZE,
        budget: CallBudget | None = None,
    ) -> None:
        root = base_url.rstrip("/")
        if root.endswith(API_PREFIX):
            root = root[: -len(API_PREFIX)]
        super().__init__(base_url=root, session=session, timeout=timeout)
        self.pool_size = pool_size
        self.budget = budget
        self._transport = Transport(
            f"{root}{API_PREFIX}", timeout=timeout, pool_size=pool_size, budget=budget
        )
        # Order-notify and webhooks live outside /od/v1, on the same host.
        self._root_transport = Transport(root, timeout=timeout, pool_size=pool_size, budget=budget)

    def with_session(self, session: Session) -> OpenApiClient:
        return OpenApiClient(
            base_url=self.base_url,
            session=session,
            timeout=self.timeout,
            pool_size=self.pool_size,
            budget=self.budget,
        )

    # -- plumbing ---------------------------------------------------------------------------------------
    def _auth_headers(self) -> dict[str, str]:
        if self.session is None or not self.session.token:
            raise BrokerAuthError("no session for this client", code="no_session")
        return {"Authorization": f"Bearer {self.session.token}"}

    def _call(self, method: str, path: str, *, body: Any = None, mutating: bool = False) -> Any:
        headers = self._auth_headers()
        user_id = self.session.user_id if self.session else ""
        response = self._transport.request(
            method, path, json_body=body, headers=headers, mutating=mutating, user_id=user_id
        )
        return response.body

    def _rows(
        self, method: str, path: str, *, body: Any = None, empty_ok: bool = False
    ) -> list[dict[str, Any]]:
        what = path.rstrip("/").rsplit("/", 1)[-1]
        return wire.unwrap(self._call(method, path, body=body), mutating=False, what=what, empty_ok=empty_ok)

    # -- sessions ---------------------------------------------------------------------------------------
    def session_from_auth_code(self, *, user_id: str, auth_code: str, api_secret: str) -> Session:
        """POST vendor/getUserDetails with the checksum (no Authorization) -> Session with the JWT.

        Raises BrokerRejectedError for a bad authCode/checksum ("Invalid auth code"), BrokerAuthError when the
        user has not logged in today, BrokerUnavailableError/BrokerRateLimitedError for transport failures.
        """
        response = self._transport.request(
            "POST",
            "vendor/getUserDetails",
            json_body={"checkSum": checksum(user_id, auth_code, api_secret)},
            mutating=False,
            user_id=user_id,
            client_errors_as_body=True,
        )
        token, client_id = wire.parse_user_details(response.body)
        return Session(
            user_id=user_id.strip().upper(), token=token, flavor=ApiFlavor.OPENAPI, client_id=client_id
        )

    # -- orders -----------------------------------------------------------------------------------------
    def _order_payload(self, order: OrderRequest) -> dict[str, Any]:
        return wire.order_payload(order)

    def _parse_acks(self, answer: Any, count: int) -> list[OrderAck | BrokerError]:
        return wire.parse_acks(answer, count, what="placeorder")

    def modify_order(self, change: ModifyRequest) -> OrderAck:
        """POST orders/modify (object). Raises BrokerRejectedError (e.g. EC993), BrokerTimeoutError..."""
        change = self.resolve_modify(change)
        answer = self._call("POST", "orders/modify", body=wire.modify_payload(change), mutating=True)
        return read_ack(
            answer, lambda a: wire.parse_ack(a, what="modify", fallback_id=change.order_id), "modify"
        )

    def cancel_order(self, order_id: str, *, exchange: str = "", trading_symbol: str = "") -> OrderAck:
        """POST orders/cancel {brokerOrderId}. Raises BrokerRejectedError (EC997...), BrokerTimeoutError..."""
        answer = self._call("POST", "orders/cancel", body={"brokerOrderId": order_id}, mutating=True)
        return read_ack(answer, lambda a: wire.parse_ack(a, what="cancel", fallback_id=order_id), "cancel")

    def square_off(self, position: Position, *, tag: str = "") -> OrderAck:
        """POST orders/positions/sqroff: the opposite side for abs(net quantity) at market, tagged."""
        try:
            body = [wire.square_off_payload(position, tag=tag)]
        except ValueError as exc:
            raise BrokerRejectedError(f"sqroff: {exc}", code="invalid_request") from None
        answer = self._call("POST", "orders/positions/sqroff", body=body, mutating=True)
        (result,) = read_acks(lambda: wire.parse_acks(answer, 1, what="sqroff"), 1, "sqroff")
        if isinstance(result, BrokerError):
            raise result
        return result

    # -- books ------------------------------------------------------------------------------------------
    def order_book(self) -> list[Order]:
        """GET orders/book; EC916 (no orders) is [], EC915 raises BrokerUnavailableError."""
        return read_rows(self._rows("GET", "orders/book", empty_ok=True), wire.parse_order, "book")

    def order_history(self, order_id: str) -> list[OrderHistoryEntry]:
        """POST orders/history; sorted by time where the broker gives one (it sends them unordered)."""
        rows = self._rows("POST", "orders/history", body={"brokerOrderId": order_id}, empty_ok=True)
        entries = read_rows(rows, wire.parse_history_entry, "history")
        return sorted(entries, key=lambda e: (e.time is None, e.time.timestamp() if e.time else 0))

    def trade_book(self) -> list[Trade]:
        return read_rows(self._rows("GET", "orders/trades", empty_ok=True), wire.parse_trade, "trades")

    def positions(self) -> list[Position]:
        return read_rows(self._rows("GET", "positions", empty_ok=True), wire.parse_position, "positions")

    def limits(self) -> Funds:
        rows = self._rows("GET", "limits/")
        return read_one(rows, wire.parse_funds, "limits")

    def profile(self) -> Profile:
        rows = self._rows("GET", "profile/")
        return read_one(rows, wire.parse_profile, "profile")

    def last_price(self, *, exchange: str, token: str) -> Decimal | None:
        """The close of the latest 1-minute candle of the last 30 minutes: the open-api documents no quote
        endpoint, only POST /open-api/od/ChartAPIService/api/chart/history; None when there is no candle."""
        now_ms = int(time.time() * 1000)
        body = {
            "token": token,
            "exchange": exchange,
            "from": str(now_ms - 30 * 60 * 1000),
            "to": str(now_ms),
            "resolution": "1",
        }
        return wire.parse_chart_close(self._root_call("POST", CHART_HISTORY_PATH, body=body))

    # -- order updates -------------------------------------------------------------------------------------
    def _root_call(self, method: str, path: str, *, body: Any = None, empty_ok: bool = False) -> Any:
        response = self._root_transport.request(
            method,
            path,
            json_body=body,
            headers=self._auth_headers(),
            mutating=False,
            user_id=self.session.user_id if self.session else "",
            empty_ok=empty_ok,
        )
        return response.body

    def order_notify_token(self) -> str | None:
        """GET /open-api/order-notify/ws/createWsToken with `Bearer <JWT>`; None when not enabled."""
        body = self._root_call("GET", f"{ORDER_NOTIFY_PREFIX}/ws/createWsToken", empty_ok=True)
        return notify_wire.parse_ws_token(body)

    def order_notify_url(self) -> str:
        """ws(s)://<host>/open-api/order-notify/websocket."""
        return websocket_url(self.base_url, f"{ORDER_NOTIFY_PREFIX}/websocket")

    def webhook_subscribe(self, url: str) -> None:
        """POST <legacy gateway>/webhook/subscribe {callbackUrl} with this session's `Bearer <JWT>`."""
        body = self._root_call("POST", f"{WEBHOOK_PREFIX}/subscribe", body={"callbackUrl": url})
        notify_wire.parse_webhook_answer(body, what="webhook/subscribe")

    def webhook_unsubscribe(self, url: str) -> None:
        """POST <legacy gateway>/webhook/unsubscribe {callbackUrl} with `Bearer <JWT>`."""
        body = self._root_call("POST", f"{WEBHOOK_PREFIX}/unsubscribe", body={"callbackUrl": url})
        notify_wire.parse_webhook_answer(body, what="webhook/unsubscribe")
