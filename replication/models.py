"""Replication state: master trades (incoming queue), trade events, order mappings and follower order actions.

Rows are the durable state of every follower order; Celery messages carry only their ids.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from decimal import Decimal

from django.db import models

from accounts.models import Account
from broker.types import Exchange, OrderType, ProductType, enum_choices
from broker.types import Side as BrokerSide
from copytrade.core.models import TimeStampedModel
from replication.states import IN_FLIGHT, ActionStatus, MappingStatus, ReasonCode

ORDER_TAG_PREFIX = "CT"
ORDER_TAG_LENGTH = 20


def order_tag_for(*, master_order_id: str, follower_pk: int, leg: str) -> str:
    """The deterministic orderTag of one follower order: "CT" + 18 base32 chars of a SHA-256 (90 bits)."""
    digest = hashlib.sha256(f"{master_order_id}|{follower_pk}|{leg}".encode()).digest()
    body = base64.b32encode(digest).decode("ascii").rstrip("=")
    return (ORDER_TAG_PREFIX + body)[:ORDER_TAG_LENGTH]


def new_event_id() -> str:
    """The seed's public event id format: "<epoch ms>-<8 hex>"."""
    return f"{int(time.time() * 1000)}-{secrets.token_hex(4)}"


SIDE_CHOICES = enum_choices(BrokerSide)
EXCHANGE_CHOICES = enum_choices(Exchange)
PRODUCT_CHOICES = enum_choices(ProductType)
ORDER_TYPE_CHOICES = enum_choices(OrderType)


class MasterTrade(TimeStampedModel):
    """A master order captured by poll, push or API: the incoming queue (replaces .alice.incoming.json)."""

    class State(models.TextChoices):
        NEW = "NEW", "New"
        COPIED = "COPIED", "Copied"
        DISMISSED = "DISMISSED", "Dismissed"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="master_trades")
    broker_order_id = models.CharField(max_length=100)
    symbol = models.CharField(max_length=80)
    exchange = models.CharField(max_length=10, choices=EXCHANGE_CHOICES, default="NSE")
    token = models.CharField(max_length=32, blank=True, default="")
    side = models.CharField(max_length=4, choices=SIDE_CHOICES)
    quantity = models.PositiveIntegerField()
    filled_quantity = models.PositiveIntegerField(default=0)
    price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    order_type = models.CharField(max_length=10, choices=ORDER_TYPE_CHOICES, default="MARKET")
    product_type = models.CharField(max_length=10, choices=PRODUCT_CHOICES, default="MIS")
    status = models.CharField(max_length=20, blank=True, default="")
    order_time = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.NEW, db_index=True)
    source = models.CharField(max_length=10, default="POLL")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "broker_order_id"], name="master_trade_unique_order"),
        ]

    def __str__(self) -> str:
        return f"{self.broker_order_id} {self.side} {self.quantity} {self.symbol}"


class TradeEvent(models.Model):
    """One master action (PLACE, MODIFY, CANCEL, EXIT) fanned out to followers, with its totals."""

    class EventType(models.TextChoices):
        PLACE = "PLACE", "Place"
        MODIFY = "MODIFY", "Modify"
        CANCEL = "CANCEL", "Cancel"
        EXIT = "EXIT", "Exit"

    class Source(models.TextChoices):
        API = "API", "API"
        POLL = "POLL", "Poll"
        PUSH = "PUSH", "Push"
        ADMIN = "ADMIN", "Admin"
        STREAM = "STREAM", "Stream"
        RISK = "RISK", "Risk (auto-liquidate)"

    class Status(models.TextChoices):
        SUCCESS = "success", "Success"
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"

    event_id = models.CharField(max_length=40, unique=True, default=new_event_id, editable=False)
    # "PLACE:<master order id>", "EXIT:...", "CANCEL:...": one per master order (NULL for modify).
    dedupe_key = models.CharField(max_length=140, null=True, blank=True, unique=True, editable=False)
    master_order_id = models.CharField(max_length=100, db_index=True)
    event_type = models.CharField(max_length=10, choices=EventType.choices, default=EventType.PLACE)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.API)
    symbol = models.CharField(max_length=80)
    trading_symbol = models.CharField(max_length=80, blank=True, default="")
    token = models.CharField(max_length=32, blank=True, default="")
    exchange = models.CharField(max_length=10, choices=EXCHANGE_CHOICES, default="NSE")
    side = models.CharField(max_length=4, choices=SIDE_CHOICES)
    quantity = models.PositiveIntegerField()
    price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    trigger_price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    product_type = models.CharField(max_length=10, choices=PRODUCT_CHOICES, default="MIS")
    order_type = models.CharField(max_length=10, choices=ORDER_TYPE_CHOICES, default="MARKET")
    details = models.JSONField(default=dict, blank=True)
    total_followers = models.PositiveIntegerField(default=0)
    successful_followers = models.PositiveIntegerField(default=0)
    failed_followers = models.PositiveIntegerField(default=0)
    skipped_followers = models.PositiveIntegerField(default=0)
    pending_followers = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SUCCESS)
    message = models.TextField(blank=True, default="")
    risk_validated = models.BooleanField(default=True)
    processed_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-processed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.master_order_id} ({self.event_id})"


class OrderMapping(TimeStampedModel):
    """Master order -> one follower order (ENTRY, or the EXIT leg that squares it off): the durable state.

    The unique (master_order_id, follower, leg) and the unique order_tag are what make placement exactly-once.
    """

    class Leg(models.TextChoices):
        ENTRY = "ENTRY", "Entry"
        EXIT = "EXIT", "Exit"

    # The statuses, their legal transitions and groups live in replication.states.
    Status = MappingStatus
    ReasonCode = ReasonCode

    trade_event = models.ForeignKey(TradeEvent, on_delete=models.PROTECT, related_name="mappings")
    master_order_id = models.CharField(max_length=100)
    follower = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="order_mappings")
    leg = models.CharField(max_length=5, choices=Leg.choices, default=Leg.ENTRY)
    order_tag = models.CharField(max_length=ORDER_TAG_LENGTH, unique=True)
    follower_order_id = models.CharField(max_length=64, blank=True, default="", db_index=True)
    symbol = models.CharField(max_length=80)
    trading_symbol = models.CharField(max_length=80, blank=True, default="")
    token = models.CharField(max_length=32, blank=True, default="")
    exchange = models.CharField(max_length=10, choices=EXCHANGE_CHOICES, default="NSE")
    side = models.CharField(max_length=4, choices=SIDE_CHOICES)
    quantity = models.PositiveIntegerField(default=0)
    executed_quantity = models.PositiveIntegerField(default=0)
    average_price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    trigger_price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    product_type = models.CharField(max_length=10, choices=PRODUCT_CHOICES, default="MIS")
    order_type = models.CharField(max_length=10, choices=ORDER_TYPE_CHOICES, default="MARKET")
    status = models.CharField(
        max_length=10, choices=MappingStatus.choices, default=MappingStatus.PENDING, db_index=True
    )
    reason = models.TextField(
        blank=True, default="", help_text="Why skipped/failed (the seed's error_message)."
    )
    reason_code = models.CharField(
        max_length=32, choices=ReasonCode.choices, blank=True, default=ReasonCode.NONE, db_index=True
    )
    note = models.CharField(max_length=255, blank=True, default="", help_text="Sizing notes, e.g. a cap.")
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    placed_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "order_mappings"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["master_order_id", "follower", "leg"], name="order_mapping_unique_per_leg"
            ),
        ]
        indexes = [
            models.Index(fields=["master_order_id", "leg"], name="order_mapping_master_leg"),
            models.Index(fields=["status", "updated_at"], name="order_mapping_status_age"),
        ]

    def __str__(self) -> str:
        return f"{self.master_order_id} -> follower #{self.follower_id} {self.leg} {self.status}"

    @property
    def is_in_flight(self) -> bool:
        return self.status in IN_FLIGHT


class OrderAction(TimeStampedModel):
    """A change to an existing follower order (modify, cancel, exit = cancel + square-off); one task each."""

    class Kind(models.TextChoices):
        MODIFY = "MODIFY", "Modify"
        CANCEL = "CANCEL", "Cancel"
        EXIT = "EXIT", "Exit"

    Status = ActionStatus

    trade_event = models.ForeignKey(TradeEvent, on_delete=models.PROTECT, related_name="actions")
    mapping = models.ForeignKey(OrderMapping, on_delete=models.PROTECT, related_name="actions")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=ActionStatus.choices, default=ActionStatus.PENDING, db_index=True
    )
    reason = models.TextField(blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["trade_event", "mapping"], name="order_action_unique_per_event"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of mapping #{self.mapping_id} ({self.status})"


class FollowerRiskSnapshot(models.Model):
    """A follower's day P&L and opening cash as last read from the broker (positions() and limits()).

    Refreshed by a beat task so a fan-out can apply the loss rules without a broker round trip; a snapshot
    older than REPLICATION_RISK_SNAPSHOT_MAX_AGE, or whose last read failed, is not used (read live instead).
    """

    follower = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="risk_snapshot")
    realised_pnl = models.DecimalField(max_digits=15, decimal_places=2, default=0)
    unrealised_pnl = models.DecimalField(max_digits=15, decimal_places=2, default=0)
    opening_cash = models.DecimalField(max_digits=15, decimal_places=2, null=True, blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True, help_text="Last successful read.")
    error = models.CharField(
        max_length=255, blank=True, default="", help_text="Why the last read failed (empty: it succeeded)."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "follower risk snapshot"

    def __str__(self) -> str:
        return f"risk snapshot of follower #{self.follower_id}"

    @property
    def day_pnl(self) -> Decimal:
        return self.realised_pnl + self.unrealised_pnl
