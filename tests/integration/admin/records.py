"""One row of every model the admin shows, as an operator would find them after a day of trading."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from accounts.models import AuditEvent, MasterSettings, NotificationChannel, NotificationDelivery
from broker.models import Instrument
from copytrade.core.models import Heartbeat, Lease
from replication.models import CaptureStatus, FollowerRiskSnapshot, MasterTrade, OrderAction
from tests.factories.accounts import BrokerCredentialFactory, ConsentFactory, FollowerFactory, MasterFactory
from tests.factories.replication import OrderMappingFactory, TradeEventFactory

LONG_REASON = (
    "Order value 123456.00 exceeds the follower's max order value 100000.00 after the lot multiplier 2.5 "
    "was applied to the master's quantity"
)


def one_of_each() -> dict:
    """Every admin model with one row (a follower with history, a master with a captured trade)."""
    follower = FollowerFactory(account_id="TEST-USER-1")
    master = MasterFactory(account_id="MASTER-1")
    credential = BrokerCredentialFactory(account=follower, last_verified_at=timezone.now())
    consent = ConsentFactory(account=follower)
    event = TradeEventFactory(master_order_id="12345", side="BUY", symbol="SBIN", quantity=10)
    mapping = OrderMappingFactory(
        trade_event=event, follower=follower, quantity=10, status="REJECTED", reason=LONG_REASON
    )
    action = OrderAction.objects.create(
        trade_event=event, mapping=mapping, kind=OrderAction.Kind.EXIT, reason=LONG_REASON
    )
    trade = MasterTrade.objects.create(
        account=master,
        broker_order_id="12345",
        symbol="SBIN",
        side="BUY",
        quantity=10,
        order_time=timezone.now(),
        note=LONG_REASON,
    )
    capture = CaptureStatus.objects.create(
        account=master, kind=CaptureStatus.Kind.STREAM, last_error=LONG_REASON, last_run_at=timezone.now()
    )
    snapshot = FollowerRiskSnapshot.objects.create(
        follower=follower, realised_pnl=Decimal("-100"), fetched_at=timezone.now(), error=LONG_REASON
    )
    audit = AuditEvent.objects.create(actor="admin:ops", action="account.created", target="TEST-USER-1")
    channel = NotificationChannel.objects.create(
        name="Ops Telegram", kind="TELEGRAM", target="-1001234567890", events=["ORDER_FAILED", "KILL_SWITCH"]
    )
    delivery = NotificationDelivery.objects.create(
        channel=channel,
        event="ORDER_FAILED",
        dedupe_key="order-failed:1:1",
        subject="TEST-USER-1: order FAILED (BUY 10 SBIN)",
        body="Follower TEST-USER-1 ...",
        status="FAILED",
        last_error=LONG_REASON,
    )
    return {
        "follower": follower,
        "master": master,
        "credential": credential,
        "consent": consent,
        "risk_config": follower.risk_config,
        "settings": MasterSettings.objects.create(),
        "event": event,
        "mapping": mapping,
        "action": action,
        "trade": trade,
        "capture": capture,
        "snapshot": snapshot,
        "audit": audit,
        "channel": channel,
        "delivery": delivery,
        "heartbeat": Heartbeat.objects.create(name="worker", last_seen=timezone.now()),
        "lease": Lease(name="master-stream:MASTER-1", holder="stream@vm:1"),
        "instrument": Instrument.objects.create(
            exchange="NSE", token="3045", symbol="SBIN", trading_symbol="SBIN-EQ", lot_size=1
        ),
    }
