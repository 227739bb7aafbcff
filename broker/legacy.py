"""The Alice Blue legacy client (`<root>/rest/AliceBlueAPIService/api/`).

Auth: API-key session (getAPIEncpkey + getUserSID) or the vendor SSO exchange, then
`Authorization: Bearer <USERID> <sessionID>`. Envelope `stat`/`emsg`; books are bare lists. No call is
ever retried here.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from broker import parsing_legacy as wire
from broker import parsing_order_notify as notify_wire
from broker.budget import CallBudget
from broker.client import DEFAULT_TIMEOUT, AliceBlueClient, websocket_url
from broker.exceptions import BrokerAuthError, BrokerError, BrokerRejectedError
from broker.parsing import read_ack, read_one, read_rows
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

SERVICE_PREFIX = "/rest/AliceBlueAPIService"
# The ant-host style the legacy SDK (pya3) uses; the open-api style lives under /open-api/order-notify.
ORDER_NOTIFY_PREFIX = "/order-notify"


def sha256_hex(*parts: str) -> str:
    return hashlib.sha256("".join(parts).encode()).hexdigest()


class LegacyClient(AliceBlueClient):
    """One account on the legacy API. Raises only `broker.exceptions` classes."""

    flavor = ApiFlavor.LEGACY
    place_order_path = "api/placeOrder/executePlaceOrder"
    place_order_what = "place"

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
        for suffix in (f"{SERVICE_PREFIX}/api", SERVICE_PREFIX):
            if root.endswith(suffix):
                root = root[: -len(suffix)]
                break
        super().__init__(base_url=root, session=session, timeout=timeout)
        self.pool_size = pool_size
        self.budget = budget
        self._transport = Transport(
            f"{root}{SERVICE_PREFIX}", timeout=timeout, pool_size=pool_size, budget=budget
        )
        # Order-notify lives outside the REST service, on the same host.
        self._root_transport = Transport(root, timeout=timeout, pool_size=pool_size, budget=budget)

    def with_session(self, session: Session) -> LegacyClient:
        return LegacyClient(
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
        return {"Authorization": f"Bearer {self.session.user_id.upper()} {self.session.token}"}

    def _call(self, method: str, path: str, *, body: Any = None, mutating: bool = False) -> Any:
        response = self._transport.request(
            method,
            f"api/{path}",
            json_body=body,
            headers=self._auth_headers(),
            mutating=mutating,
            user_id=self.session.user_id if self.session else "",
        )
        return response.body

    def _unauthenticated(self, path: str, body: dict[str, Any], user_id: str) -> Any:
        response = self._transport.request(
            "POST", path, json_body=body, mutating=False, user_id=user_id, client_errors_as_body=True
        )
        return response.body

    # -- sessions ---------------------------------------------------------------------------------------
    def session_from_api_key(self, *, user_id: str, api_key: str) -> Session:
        """getAPIEncpkey {userId} -> encKey; getUserSID {userId, userData=sha256(userId+apiKey+encKey)}.

        Raises BrokerAuthError when the user has not logged in today ("User does not login"),
        BrokerRejectedError for a wrong API key ("Invalid Input"), transport errors as classified.
        """
        user = user_id.strip().upper()
        enc_key = wire.parse_enc_key(
            self._unauthenticated("api/customer/getAPIEncpkey", {"userId": user}, user)
        )
        body = {"userId": user, "userData": sha256_hex(user, api_key, enc_key)}
        session_id = wire.parse_session_id(self._unauthenticated("api/customer/getUserSID", body, user))
        return Session(user_id=user, token=session_id, flavor=ApiFlavor.LEGACY, client_id=user)

    def session_from_auth_code(self, *, user_id: str, auth_code: str, api_secret: str) -> Session:
        """POST sso/getUserDetails {checkSum=sha256(userId+authCode+apiSecret)} -> userSession.

        `stat:"Ok"` without a userSession is a failure (BrokerAuthError for session/TOTP texts, else
        BrokerRejectedError with the broker's emsg).
        """
        user = user_id.strip().upper()
        body = {"checkSum": sha256_hex(user, auth_code, api_secret)}
        session = wire.parse_sso_session(self._unauthenticated("sso/getUserDetails", body, user))
        return Session(user_id=user, token=session, flavor=ApiFlavor.LEGACY, client_id=user)

    # -- orders -----------------------------------------------------------------------------------------
    def _order_payload(self, order: OrderRequest) -> dict[str, Any]:
        return wire.order_payload(order)

    def _parse_acks(self, answer: Any, count: int) -> list[OrderAck | BrokerError]:
        return wire.parse_acks(answer, count, what="executePlaceOrder")

    def modify_order(self, change: ModifyRequest) -> OrderAck:
        """POST placeOrder/modifyOrder (full replacement; None price/trigger filled from the book)."""
        change = self.resolve_modify(change)
        answer = self._call("POST", "placeOrder/modifyOrder", body=wire.modify_payload(change), mutating=True)
        return read_ack(
            answer, lambda a: wire.parse_ack(a, what="modifyOrder", fallback_id=change.order_id), "modify"
        )

    def cancel_order(self, order_id: str, *, exchange: str = "", trading_symbol: str = "") -> OrderAck:
        """POST placeOrder/cancelOrder {nestOrderNumber[, exch, trading_symbol]}."""
        body = wire.cancel_payload(order_id, exchange=exchange, trading_symbol=trading_symbol)
        answer = self._call("POST", "placeOrder/cancelOrder", body=body, mutating=True)
        return read_one(
            answer, lambda a: wire.parse_ack(a, what="cancelOrder", fallback_id=order_id), "cancel"
        )

    def square_off(self, position: Position, *, tag: str = "") -> OrderAck:
        """POST positionAndHoldings/sqrOofPosition; the legacy call takes no orderTag: `tag` is not sent."""
        try:
            body = wire.square_off_payload(position)
        except ValueError as exc:
            raise BrokerRejectedError(f"sqrOofPosition: {exc}", code="invalid_request") from None
        answer = self._call("POST", "positionAndHoldings/sqrOofPosition", body=body, mutating=True)
        return read_ack(answer, lambda a: wire.parse_ack(a, what="sqrOofPosition", fallback_id=""), "sqroff")

    # -- books ------------------------------------------------------------------------------------------
    def order_book(self) -> list[Order]:
        """GET placeOrder/fetchOrderBook; every "No Data" shape is []."""
        rows = wire.book_rows(self._call("GET", "placeOrder/fetchOrderBook"), what="fetchOrderBook")
        return read_rows(rows, wire.parse_order, "fetchOrderBook")

    def order_history(self, order_id: str) -> list[OrderHistoryEntry]:
        body = {"nestOrderNumber": order_id}
        rows = wire.book_rows(self._call("POST", "placeOrder/orderHistory", body=body), what="orderHistory")
        entries = read_rows(rows, wire.parse_history_entry, "orderHistory")
        return sorted(entries, key=lambda e: (e.time is None, e.time.timestamp() if e.time else 0))

    def trade_book(self) -> list[Trade]:
        rows = wire.book_rows(self._call("GET", "placeOrder/fetchTradeBook"), what="fetchTradeBook")
        return read_rows(rows, wire.parse_trade, "fetchTradeBook")

    def positions(self) -> list[Position]:
        """POST positionAndHoldings/positionBook {"ret":"NET"}."""
        body = {"ret": "NET"}
        rows = wire.book_rows(
            self._call("POST", "positionAndHoldings/positionBook", body=body), what="positionBook"
        )
        return read_rows(rows, wire.parse_position, "positionBook")

    def limits(self) -> Funds:
        rows = wire.book_rows(self._call("GET", "limits/getRmsLimits"), what="getRmsLimits")
        return read_one(rows, wire.parse_funds, "getRmsLimits")

    def profile(self) -> Profile:
        return read_one(self._call("GET", "customer/accountDetails"), wire.parse_profile, "accountDetails")

    def last_price(self, *, exchange: str, token: str) -> Decimal | None:
        """POST api/ScripDetails/getScripQuoteDetails {"exch","symbol":<token>} -> its `LTP`."""
        body = self._call(
            "POST", "ScripDetails/getScripQuoteDetails", body={"exch": exchange, "symbol": token}
        )
        return wire.parse_quote_ltp(body)

    # -- order updates -------------------------------------------------------------------------------------
    def order_notify_token(self) -> str | None:
        """GET /order-notify/ws/createWsToken with `Bearer <USERID> <session>`; None when not enabled.

        (pya3 sends the odd `Bearer Token <session>`; we send the documented legacy header.)
        """
        response = self._root_transport.request(
            "GET",
            f"{ORDER_NOTIFY_PREFIX}/ws/createWsToken",
            headers=self._auth_headers(),
            mutating=False,
            user_id=self.session.user_id if self.session else "",
            empty_ok=True,
        )
        return notify_wire.parse_ws_token(response.body)

    def order_notify_url(self) -> str:
        """ws(s)://<host>/order-notify/websocket."""
        return websocket_url(self.base_url, f"{ORDER_NOTIFY_PREFIX}/websocket")

    def webhook_subscribe(self, url: str) -> None:
        """POST api/webhook/subscribe {callbackUrl} with `Bearer <USERID> <session>`."""
        body = self._call("POST", "webhook/subscribe", body={"callbackUrl": url})
        notify_wire.parse_webhook_answer(body, what="webhook/subscribe")

    def webhook_unsubscribe(self, url: str) -> None:
        """POST api/webhook/unsubscribe {callbackUrl}."""
        body = self._call("POST", "webhook/unsubscribe", body={"callbackUrl": url})
        notify_wire.parse_webhook_answer(body, what="webhook/unsubscribe")
