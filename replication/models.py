"""Replication state: master trades (incoming queue), trade events, order mappings and follower order actions.

Rows are the durable state of every follower order; Celery messages carry only their ids.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models

from accounts.models import Account, account_label_of
from broker.types import Exchange, OrderType, ProductType, enum_choices
from broker.types import Side as BrokerSide
from copytrade.core.models import TimeStampedModel
from replication.states import IN_FLIGHT, ActionStatus, MappingStatus, ReasonCode

ORDER_TAG_PREFIX = "CT"
ORDER_TAG_LENGTH = 20


def order_tag_for(*, master_order_id: str, follower_pk: int, leg: str, slice_no: int = 0) -> str:
    """The deterministic orderTag of one follower order: "CT" + 18 base32 chars of a SHA-256 (90 bits).

    Slice 0 (the first or only slice) keeps the tag it had before orders were sliced.
    """
    key = f"{master_order_id}|{follower_pk}|{leg}" + (f"|{slice_no}" if slice_no else "")
    digest = hashlib.sha256(key.encode()).digest()
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
    """A master order as captured (order-update stream, poll, webhook, push or API), one row per broker order:
    what it means for the followers (an entry, a close of the master's position, or both), what was last
    copied (to tell a modification from a repeat), and its place in the operator's queue."""

    class State(models.TextChoices):
        NEW = "NEW", "New (waiting for the operator)"
        COPIED = "COPIED", "Copied"
        DISMISSED = "DISMISSED", "Dismissed"
        EXPIRED = "EXPIRED", "Expired (too old to copy)"

    class Kind(models.TextChoices):
        ENTRY = "ENTRY", "Entry (opens or adds to a position)"
        CLOSE = "CLOSE", "Close (reduces the master's position)"
        REVERSAL = "REVERSAL", "Reversal (closes, then opens the other way)"
        OWN = "OWN", "Placed by copytrade (never copied back)"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="master_trades")
    broker_order_id = models.CharField(max_length=100)
    symbol = models.CharField(max_length=80)
    trading_symbol = models.CharField(max_length=80, blank=True, default="")
    exchange = models.CharField(max_length=10, choices=EXCHANGE_CHOICES, default="NSE")
    token = models.CharField(max_length=32, blank=True, default="")
    side = models.CharField(max_length=4, choices=SIDE_CHOICES)
    quantity = models.PositiveIntegerField()
    filled_quantity = models.PositiveIntegerField(default=0)
    price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    trigger_price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    average_price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    order_type = models.CharField(max_length=10, choices=ORDER_TYPE_CHOICES, default="MARKET")
    product_type = models.CharField(max_length=10, choices=PRODUCT_CHOICES, default="MIS")
    status = models.CharField(max_length=20, blank=True, default="")
    rejection_reason = models.CharField(max_length=255, blank=True, default="")
    tag = models.CharField(max_length=50, blank=True, default="")
    order_time = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.NEW, db_index=True)
    source = models.CharField(max_length=10, default="POLL", help_text="The source that saw it first.")
    last_source = models.CharField(max_length=10, blank=True, default="")
    # Decided once, when the order is first seen, from the master's position in the instrument before it.
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.ENTRY)
    position_before = models.IntegerField(default=0, help_text="The master's signed position before it.")
    close_quantity = models.PositiveIntegerField(default=0, help_text="The part that closes the position.")
    entry_quantity = models.PositiveIntegerField(default=0, help_text="The part that opens a position.")
    # What the followers' copies were last given, so a repeat of the same update changes nothing.
    applied_quantity = models.PositiveIntegerField(null=True, blank=True)
    applied_price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    applied_trigger_price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    applied_order_type = models.CharField(max_length=10, blank=True, default="")
    applied_status = models.CharField(max_length=20, blank=True, default="")
    note = models.CharField(
        max_length=255, blank=True, default="", help_text="What capture decided, and why."
    )
    # Cleared from the operator's queue (GET /api/alice/incoming) by "clear" or "remove"; the row stays.
    cleared = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        # The control panel's rights (superusers hold them all; view-only staff none).
        permissions = [
            ("operate_trades", "Can copy, replicate, exit, dismiss and retry master trades"),
            ("square_off_followers", "Can square off followers' copied positions"),
            ("use_kill_switch", "Can stop and resume all copying (kill switch)"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["account", "broker_order_id"], name="master_trade_unique_order"),
        ]
        indexes = [
            models.Index(
                fields=["account", "exchange", "trading_symbol", "product_type"], name="master_trade_position"
            )
        ]

    def __str__(self) -> str:
        return f"Master order {self.broker_order_id} {self.side} {self.symbol} {self.quantity}"


class CaptureStatus(models.Model):
    """The health of one way of capturing a master's orders (the order-update stream, or the poll)."""

    class Kind(models.TextChoices):
        STREAM = "STREAM", "Order-update stream"
        POLL = "POLL", "Poll"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="capture_statuses")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    holder = models.CharField(max_length=200, blank=True, default="", help_text="The process doing it.")
    connected = models.BooleanField(default=False)
    feed_enabled = models.BooleanField(
        null=True, blank=True, help_text="Alice Blue's order feed (None: unknown)."
    )
    connected_at = models.DateTimeField(null=True, blank=True)
    last_frame_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(
        null=True, blank=True, help_text="Last poll, or last stream heartbeat."
    )
    reconnects = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=255, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "capture statuses"
        constraints = [models.UniqueConstraint(fields=["account", "kind"], name="capture_status_unique")]

    def __str__(self) -> str:
        return f"{account_label_of(self)} {self.get_kind_display().lower()}"


class TradeEvent(models.Model):
    """One master action (PLACE, MODIFY, CANCEL, EXIT, CLOSE) fanned out to followers, with its totals."""

    class EventType(models.TextChoices):
        PLACE = "PLACE", "Place"
        MODIFY = "MODIFY", "Modify"
        CANCEL = "CANCEL", "Cancel"
        EXIT = "EXIT", "Exit"
        CLOSE = "CLOSE", "Close (the master reduced its position)"

    class Source(models.TextChoices):
        API = "API", "API"
        POLL = "POLL", "Poll"
        PUSH = "PUSH", "Push"
        ADMIN = "ADMIN", "Admin"
        STREAM = "STREAM", "Stream"
        WEBHOOK = "WEBHOOK", "Webhook"
        RISK = "RISK", "Risk (auto-liquidate)"

    class Status(models.TextChoices):
        SUCCESS = "success", "Success"
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"

    event_id = models.CharField(max_length=40, unique=True, default=new_event_id, editable=False)
    # "PLACE:<master order id>", "EXIT:...", "CANCEL:...", "CLOSE:...": one per master order (NULL: modify).
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
        return (
            f"{self.event_type} event for master order {self.master_order_id} {self.side} {self.symbol} "
            f"{self.quantity}"
        )


class OrderMapping(TimeStampedModel):
    """Master order -> one follower order (ENTRY; the EXIT leg that squares it off; or the CLOSE leg, the
    follower's share of a master order that reduced the master's position): the durable state.

    The unique (master_order_id, follower, leg, slice_no) and the unique order_tag are what make placement
    exactly-once. A follower order above the freeze quantity is several mappings, one per slice (0, 1, ...).
    """

    class Leg(models.TextChoices):
        ENTRY = "ENTRY", "Entry"
        EXIT = "EXIT", "Exit"
        CLOSE = "CLOSE", "Close (share of the master's position close)"

    # The statuses, their legal transitions and groups live in replication.states.
    Status = MappingStatus
    ReasonCode = ReasonCode

    trade_event = models.ForeignKey(TradeEvent, on_delete=models.PROTECT, related_name="mappings")
    master_order_id = models.CharField(max_length=100)
    follower = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="order_mappings")
    leg = models.CharField(max_length=5, choices=Leg.choices, default=Leg.ENTRY)
    slice_no = models.PositiveSmallIntegerField(
        default=0, help_text="The slice of an order above the freeze quantity (0: the first or only one)."
    )
    slice_count = models.PositiveSmallIntegerField(
        default=1, help_text="How many slices the follower's order was sent as."
    )
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
    amo = models.BooleanField(
        default=False, help_text="Sent as an after-market order (the market was closed at the fan-out)."
    )
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
                fields=["master_order_id", "follower", "leg", "slice_no"],
                name="order_mapping_unique_per_slice",
            ),
        ]
        indexes = [
            models.Index(fields=["master_order_id", "leg"], name="order_mapping_master_leg"),
            models.Index(fields=["status", "updated_at"], name="order_mapping_status_age"),
        ]

    def __str__(self) -> str:
        return f"Mapping {account_label_of(self, 'follower')} {self.leg} for {self.master_order_id}"

    @property
    def is_in_flight(self) -> bool:
        return self.status in IN_FLIGHT

    @property
    def slice_label(self) -> str:
        """ "2/3" for the second of three slices; "" for an order sent whole."""
        return f"{self.slice_no + 1}/{self.slice_count}" if self.slice_count > 1 else ""


class FreezeQuantity(TimeStampedModel):
    """The operator's freeze quantity of an underlying (used where the contract master has none)."""

    exchange = models.CharField(max_length=10, choices=EXCHANGE_CHOICES, default="NFO")
    symbol = models.CharField(max_length=64, help_text="The underlying, as in the contract master's Symbol.")
    freeze_quantity = models.PositiveIntegerField(
        validators=[MinValueValidator(1)],
        help_text="The largest single order the exchange accepts, in units.",
    )

    class Meta:
        verbose_name_plural = "freeze quantities"
        ordering = ["exchange", "symbol"]
        constraints = [
            models.UniqueConstraint(fields=["exchange", "symbol"], name="freeze_quantity_unique_underlying"),
        ]

    def __str__(self) -> str:
        return f"{self.exchange}:{self.symbol} freeze {self.freeze_quantity}"


class OrderAction(TimeStampedModel):
    """A change to an existing follower order (modify, cancel, exit = cancel + square-off); one task each."""

    class Kind(models.TextChoices):
        MODIFY = "MODIFY", "Modify"
        CANCEL = "CANCEL", "Cancel"
        EXIT = "EXIT", "Exit"
        CLOSE = "CLOSE", "Close (the follower's share of a master close)"

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
        if self.mapping_id is None:
            return f"{self.kind} action"
        mapping = self.mapping
        follower = account_label_of(mapping, "follower")
        return f"{self.kind} of {follower} {mapping.leg} for {mapping.master_order_id}"


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
        return f"{account_label_of(self, 'follower')} risk snapshot"

    @property
    def day_pnl(self) -> Decimal:
        return self.realised_pnl + self.unrealised_pnl
