"""The Alice Blue client interface; `openapi.py` and `legacy.py` implement it.

Pure Python (no Django). Every method raises only `broker.exceptions` classes. No order-changing call is
ever retried here: the caller decides, by exception class, whether to retry or reconcile.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from broker.exceptions import BrokerError, BrokerRejectedError
from broker.parsing import read_acks
from broker.transport import Transport, WireRequest, send
from broker.types import (
    ApiFlavor,
    Funds,
    ModifyRequest,
    Order,
    OrderAck,
    OrderHistoryEntry,
    OrderRequest,
    OrderType,
    Position,
    Profile,
    Session,
    Trade,
)

DEFAULT_TIMEOUT: tuple[float, float] = (3.05, 10.0)
# Alice Blue's webhook registration lives on the legacy gateway for both API generations (reference 7.2).
WEBHOOK_PREFIX = "/rest/AliceBlueAPIService/api/webhook"


@dataclasses.dataclass(frozen=True)
class PlaceCall:
    """A place-order request ready to send and how to read its answer: one result per order, in order.

    `place_orders` sends it at once; the replication engine sends many accounts' calls together
    (`broker.async_transport.send_all`) and reads each answer with `read`.
    """

    request: WireRequest
    read: Callable[[Any], list[OrderAck | BrokerError]]


def websocket_url(base_url: str, path: str) -> str:
    """`path` on the host of `base_url`, with the scheme switched to ws (http) or wss (https)."""
    parts = urlsplit(base_url.rstrip("/"))
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme.lower(), parts.scheme.lower())
    return urlunsplit((scheme, parts.netloc, parts.path + path, "", ""))


class AliceBlueClient(ABC):
    """One account's view of Alice Blue. Construct with a Session for trading calls."""

    flavor: ApiFlavor
    place_order_path: str  # relative to the transport's root
    place_order_what: str  # how errors name the call
    _transport: Transport

    @abstractmethod
    def _auth_headers(self) -> dict[str, str]: ...

    @abstractmethod
    def _order_payload(self, order: OrderRequest) -> dict[str, Any]: ...

    @abstractmethod
    def _parse_acks(self, answer: Any, count: int) -> list[OrderAck | BrokerError]: ...

    def __init__(
        self,
        *,
        base_url: str,
        session: Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.timeout = timeout

    def __repr__(self) -> str:
        user = self.session.user_id if self.session else None
        return f"<{type(self).__name__} {self.base_url} user={user}>"

    @abstractmethod
    def with_session(self, session: Session) -> AliceBlueClient:
        """A client for the same server acting with `session`."""

    # -- sessions ---------------------------------------------------------------------------------------
    @abstractmethod
    def session_from_auth_code(self, *, user_id: str, auth_code: str, api_secret: str) -> Session:
        """Vendor login: exchange the browser login's authCode (checksum sha256(userId+authCode+secret))."""

    def session_from_api_key(self, *, user_id: str, api_key: str) -> Session:
        """Legacy API-key login (getAPIEncpkey + getUserSID); the open-api has no such flow."""
        raise BrokerError(f"{self.flavor} API has no API-key session flow", code="unsupported")

    # -- orders -----------------------------------------------------------------------------------------
    def place_orders_call(self, orders: Sequence[OrderRequest]) -> PlaceCall:
        """The place-order request for a non-empty basket (BrokerAuthError without a session): a POST of the
        flavour's order payloads to its place-order path; per-order rejects come back in the answer."""
        count, what = len(orders), self.place_order_what
        request = self._transport.prepare(
            "POST",
            self.place_order_path,
            json_body=[self._order_payload(order) for order in orders],
            headers=self._auth_headers(),
            mutating=True,
            user_id=self.session.user_id if self.session else "",
        )
        return PlaceCall(
            request=request,
            read=lambda answer: read_acks(lambda: self._parse_acks(answer, count), count, what),
        )

    def place_orders(self, orders: Sequence[OrderRequest]) -> list[OrderAck | BrokerError]:
        """Place a basket in one request; one result per order, in order (per-order rejects as errors)."""
        if not orders:
            return []
        call = self.place_orders_call(orders)
        return call.read(send(call.request).body)

    def place_order(self, order: OrderRequest) -> OrderAck:
        """Place one order; raises the per-order error when the broker refused it."""
        (result,) = self.place_orders([order])
        if isinstance(result, BrokerError):
            raise result
        return result

    @abstractmethod
    def modify_order(self, change: ModifyRequest) -> OrderAck: ...

    @abstractmethod
    def cancel_order(self, order_id: str, *, exchange: str = "", trading_symbol: str = "") -> OrderAck: ...

    @abstractmethod
    def square_off(self, position: Position, *, tag: str = "") -> OrderAck:
        """Close `position` at market through the broker's square-off endpoint."""

    # -- books ------------------------------------------------------------------------------------------
    @abstractmethod
    def order_book(self) -> list[Order]:
        """Today's orders; an empty book is [] (never an error)."""

    @abstractmethod
    def order_history(self, order_id: str) -> list[OrderHistoryEntry]: ...

    @abstractmethod
    def trade_book(self) -> list[Trade]: ...

    @abstractmethod
    def positions(self) -> list[Position]: ...

    @abstractmethod
    def limits(self) -> Funds: ...

    @abstractmethod
    def profile(self) -> Profile:
        """The account profile; the cheapest "is this session alive" probe."""

    @abstractmethod
    def last_price(self, *, exchange: str, token: str) -> Decimal | None:
        """The instrument's last traded price (None when the broker has none); a non-order call."""

    # -- order updates (order-notify websocket, webhooks) ---------------------------------------------------
    @abstractmethod
    def order_notify_token(self) -> str | None:
        """A fresh single-use orderToken for the order-notify websocket (GET .../ws/createWsToken).

        None when the account is not enabled for the feed (HTTP 200 with an empty body). A non-order call:
        counted by the call budget. Raises BrokerAuthError (session), BrokerUnavailableError (an HTML page,
        5xx, no answer), BrokerRateLimitedError, BrokerRejectedError (other refusals).
        """

    @abstractmethod
    def order_notify_url(self) -> str:
        """The order-notify websocket URL for this client's base URL (http -> ws, https -> wss)."""

    @abstractmethod
    def webhook_subscribe(self, url: str) -> None:
        """Ask Alice Blue to POST every order event of this account to `url` (at most 5 URLs per user)."""

    @abstractmethod
    def webhook_unsubscribe(self, url: str) -> None:
        """Stop the webhook POSTs to `url`."""

    def resolve_modify(self, change: ModifyRequest) -> ModifyRequest:
        """`change` with the price/trigger it leaves as None filled from the order book (both APIs need them).

        Raises BrokerRejectedError when the order is not in today's book.
        """
        needs_price = change.order_type in (OrderType.LIMIT, OrderType.SL) and change.price is None
        needs_trigger = change.order_type in (OrderType.SL, OrderType.SLM) and change.trigger_price is None
        if not (needs_price or needs_trigger):
            return change
        current = next((o for o in self.order_book() if o.order_id == change.order_id), None)
        if current is None:
            raise BrokerRejectedError(f"order {change.order_id} is not in the order book", code="not_found")
        return dataclasses.replace(
            change,
            price=current.price if needs_price else change.price,
            trigger_price=current.trigger_price if needs_trigger else change.trigger_price,
        )

    def find_order_by_tag(self, tag: str) -> Order | None:
        """The order whose orderTag is `tag`, from the order book, or None."""
        for order in self.order_book():
            if order.tag == tag:
                return order
        return None
