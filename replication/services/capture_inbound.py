"""Master orders that arrive from outside (DESIGN 5.5): the push API (an external feed holding the operator's
secret) and Alice Blue's webhook.

Alice Blue does not sign its webhooks, so a webhook payload is never trusted: it is received at an unguessable
per-deployment URL, and all it does is name an order; that order is then read from the master's own order
book, and the read is what is ingested. A payload naming an order the master's book does not have changes
nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from accounts.exceptions import SessionMissing
from accounts.models import Account
from accounts.selectors import account_broker_client, broker_calls_allowed, credential_of, master_get_active
from broker.exceptions import BrokerError
from broker.parsing import IST
from broker.types import Order, OrderStatus, OrderType, Side
from copytrade.core.exceptions import NotFound, ValidationFailed
from replication.models import TradeEvent
from replication.services.capture import master_order_ingest

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------- push
_PUSH_STATUS = {
    "COMPLETE": OrderStatus.COMPLETE,
    "COMPLETED": OrderStatus.COMPLETE,
    "EXECUTED": OrderStatus.COMPLETE,
    "FILLED": OrderStatus.COMPLETE,
    "TRADED": OrderStatus.COMPLETE,
    "OPEN": OrderStatus.OPEN,
    "PENDING": OrderStatus.PENDING,
    "TRIGGER PENDING": OrderStatus.TRIGGER_PENDING,
    "TRIGGER_PENDING": OrderStatus.TRIGGER_PENDING,
    "CANCELLED": OrderStatus.CANCELLED,
    "CANCELED": OrderStatus.CANCELLED,
    "REJECTED": OrderStatus.REJECTED,
}
_PUSH_ORDER_TYPE = {
    "MARKET": OrderType.MARKET,
    "MKT": OrderType.MARKET,
    "LIMIT": OrderType.LIMIT,
    "L": OrderType.LIMIT,
    "SL": OrderType.SL,
    "SL-L": OrderType.SL,
    "SLM": OrderType.SLM,
    "SL-M": OrderType.SLM,
}


@dataclass(frozen=True)
class PushedTrade:
    """One validated trade of a push (the seed's shape: id, symbol, side, quantity, price, status, type)."""

    id: str
    symbol: str
    side: str
    quantity: int
    exchange: str = "NSE"
    product_type: str = "MIS"
    order_type: str = "MARKET"
    status: str = "COMPLETE"
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    filled_quantity: int | None = None
    timestamp: str = ""
    tag: str = ""


def pushed_trade(row: dict[str, Any]) -> PushedTrade:
    """A PushedTrade from a validated push row (serializers.PushedTradeInput)."""
    stamp = row.get("timestamp")
    moment = datetime.fromtimestamp(stamp / 1000, tz=IST) if stamp else timezone.now().astimezone(IST)
    return PushedTrade(
        id=row["id"],
        symbol=row["symbol"].upper(),
        side=row["side"],
        quantity=row["quantity"],
        exchange=row["exchange"],
        product_type=row["product_type"],
        order_type=row["type"],
        status=row["status"],
        price=row.get("price"),
        trigger_price=row.get("trigger_price"),
        filled_quantity=row.get("filledQuantity"),
        timestamp=moment.strftime("%Y-%m-%d %H:%M:%S"),
    )


def push_status(value: str) -> OrderStatus | None:
    return _PUSH_STATUS.get(value.strip().upper()) if value else OrderStatus.COMPLETE


def push_order_type(value: str) -> OrderType | None:
    return _PUSH_ORDER_TYPE.get(value.strip().upper()) if value else OrderType.MARKET


def _pushed_order(trade: PushedTrade) -> Order:
    status = push_status(trade.status) or OrderStatus.COMPLETE
    if trade.filled_quantity is not None:
        filled = min(trade.filled_quantity, trade.quantity)
    else:
        filled = trade.quantity if status is OrderStatus.COMPLETE else 0
    return Order(
        order_id=trade.id,
        exchange=trade.exchange,
        token="",
        trading_symbol=trade.symbol,
        side=Side(trade.side),
        quantity=trade.quantity,
        filled_quantity=filled,
        pending_quantity=trade.quantity - filled if status.is_open else 0,
        cancelled_quantity=trade.quantity - filled if status is OrderStatus.CANCELLED else 0,
        price=trade.price or Decimal("0"),
        trigger_price=trade.trigger_price or Decimal("0"),
        average_price=trade.price if filled and trade.price else Decimal("0"),
        product=trade.product_type,
        order_type=push_order_type(trade.order_type) or OrderType.MARKET,
        status=status,
        tag=trade.tag,
        order_time=trade.timestamp,
    )


def master_for_push(account_id: str) -> Account:
    """The active master, named by its account id or Alice Blue user id; 404 for anyone else."""
    master = master_get_active()
    wanted = account_id.strip().upper()
    if master is None or wanted not in {master.account_id.upper(), (master.client_id or "").upper()}:
        raise NotFound(
            f"{account_id} is not the active master account",
            code="master_not_found",
            extra={"field": "accountId"},
        )
    return master


def master_trades_push(*, account_id: str, trades: list[PushedTrade]) -> tuple[int, int]:
    """Ingest pushed master trades (source PUSH); returns (received, stored: new master trades)."""
    master = master_for_push(account_id)
    stored = 0
    for trade in trades:
        result = master_order_ingest(
            account=master, order=_pushed_order(trade), source=TradeEvent.Source.PUSH
        )
        stored += int(result.created)
    logger.info("[PUSH] master %s: %d trades received, %d new", master.account_id, len(trades), stored)
    return len(trades), stored


# ---------------------------------------------------------------- webhook
def webhook_token() -> str:
    """The secret part of this deployment's webhook URL: ALICE_WEBHOOK_TOKEN, else derived from SECRET_KEY."""
    if settings.ALICE_WEBHOOK_TOKEN:
        return str(settings.ALICE_WEBHOOK_TOKEN)
    digest = hmac.new(settings.SECRET_KEY.encode(), b"copytrade alice-blue webhook v1", hashlib.sha256)
    return digest.hexdigest()[:40]


def webhook_token_matches(candidate: str) -> bool:
    return hmac.compare_digest(candidate.encode(), webhook_token().encode())


def webhook_url() -> str:
    """The full URL to register with Alice Blue (needs COPYTRADE_PUBLIC_URL)."""
    base = settings.COPYTRADE_PUBLIC_URL.rstrip("/")
    if not base:
        raise ValidationFailed(
            "Set COPYTRADE_PUBLIC_URL (this service's public https address) first", code="public_url_missing"
        )
    return f"{base}/api/alice/webhook/{webhook_token()}"


def webhook_order_id(payload: Any) -> tuple[str, str]:
    """(order id, account) a webhook payload names; ("", "") when it names none. Nothing else is read from
    it."""
    if not isinstance(payload, dict):
        return "", ""
    order_id = str(payload.get("norenordno") or payload.get("brokerOrderId") or payload.get("Nstordno") or "")
    account = str(payload.get("actid") or payload.get("uid") or payload.get("clientId") or "")
    order_id = order_id.strip()
    if not order_id or len(order_id) > 40 or not order_id.replace("-", "").isalnum():
        return "", ""
    return order_id, account.strip()[:60]


def webhook_order_refresh(*, broker_order_id: str) -> bool:
    """Read the named order from the active master's own book and ingest that (source WEBHOOK). False when
    there is no master or the book has no such order (a forged or foreign payload): nothing happens."""
    master = master_get_active()
    if master is None:
        return False
    # Webhooks of one order come in bursts (placed, filled...): one read serves those within a second.
    if not cache.add(f"webhook-read:{master.pk}:{broker_order_id}", 1, timeout=1):
        return False
    if not broker_calls_allowed(credential_of(master)):
        return False  # a session known dead: the poll says so, and nothing is sent with it
    try:
        book = account_broker_client(account=master).order_book()
    except (BrokerError, SessionMissing) as exc:
        # The poll reads the book again within seconds: nothing is lost by not retrying here.
        logger.warning("[WEBHOOK] order %s: master's book unreadable (%s)", broker_order_id, exc)
        return False
    order = next((row for row in book if row.order_id == broker_order_id), None)
    if order is None:
        logger.warning("[WEBHOOK] order %s is not in the master's book: ignored", broker_order_id)
        return False
    master_order_ingest(account=master, order=order, source=TradeEvent.Source.WEBHOOK)
    return True


def webhook_subscription_set(*, subscribe: bool) -> str:
    """Subscribe (or unsubscribe) this deployment's webhook URL for the active master; returns the URL."""
    master = master_get_active()
    if master is None:
        raise NotFound("No active master account", code="master_not_found")
    url = webhook_url()
    client = account_broker_client(account=master)
    if subscribe:
        client.webhook_subscribe(url)
    else:
        client.webhook_unsubscribe(url)
    return url
