"""Trading accounts (one master, many followers), their encrypted broker credentials, risk rules, consent,
the master settings singleton and the append-only audit log."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts import risk_defaults
from accounts import validators as v
from accounts.fields import EncryptedTextField
from broker import types as broker_types
from copytrade.core.models import TimeStampedModel

# Choices derived from the broker's enums, so the admin and the API offer exactly what the client can send;
# a member without a label here shows its code.
_LABELS = {
    broker_types.ApiFlavor.OPENAPI: "Open API (v1)",
    broker_types.ApiFlavor.LEGACY: "Legacy API",
    broker_types.ProductType.MIS: "MIS (intraday)",
    broker_types.ProductType.CNC: "CNC (delivery)",
    broker_types.ProductType.NRML: "NRML (carry forward)",
    broker_types.OrderType.MARKET: "MARKET",
    broker_types.OrderType.LIMIT: "LIMIT",
    broker_types.OrderType.SL: "SL (stop-loss limit)",
    broker_types.OrderType.SLM: "SLM (stop-loss market)",
}


def _choices_of(name: str, enum: type[StrEnum]) -> type[models.TextChoices]:
    members = [(m.name, (m.value, _LABELS.get(m, m.value))) for m in enum]
    # Enum's functional API: the stubs type only the class syntax (and mypy only literal arguments).
    return models.TextChoices(name, members)  # type: ignore[call-overload]


ProductTypeChoices = _choices_of("ProductTypeChoices", broker_types.ProductType)
OrderTypeChoices = _choices_of("OrderTypeChoices", broker_types.OrderType)


def default_api_flavor() -> str:
    return settings.ALICE_API_FLAVOR


def default_enforce_copy_window() -> bool:
    return settings.COPYTRADE_COPY_WINDOW_DEFAULT


def default_product_types() -> list[str]:
    return list(risk_defaults.ALLOWED_PRODUCT_TYPES)


def default_order_types() -> list[str]:
    return list(risk_defaults.ALLOWED_ORDER_TYPES)


def _validate_choice_list(value, choices, label: str) -> None:
    if not isinstance(value, list) or len(value) > v.LIST_MAX_ITEMS:
        raise ValidationError(f"must be a list of at most {v.LIST_MAX_ITEMS} {label}")
    unknown = sorted({str(item) for item in value} - set(choices.values))
    if unknown:
        raise ValidationError(f"unknown {label}: {', '.join(unknown)} (allowed: {', '.join(choices.values)})")


def validate_product_types(value) -> None:
    _validate_choice_list(value, ProductTypeChoices, "product types")


def validate_order_types(value) -> None:
    _validate_choice_list(value, OrderTypeChoices, "order types")


def validate_instruments(value) -> None:
    if not isinstance(value, list) or len(value) > v.LIST_MAX_ITEMS:
        raise ValidationError(f"must be a list of at most {v.LIST_MAX_ITEMS} symbols")
    for item in value:
        if not isinstance(item, str) or not item or len(item) > v.SYMBOL_MAX_LENGTH:
            raise ValidationError(f"each symbol must be 1 to {v.SYMBOL_MAX_LENGTH} characters")
        v.validate_identifier(item)


def validate_dates(value) -> None:
    if not isinstance(value, list) or len(value) > v.LIST_MAX_ITEMS:
        raise ValidationError(f"must be a list of at most {v.LIST_MAX_ITEMS} dates (YYYY-MM-DD)")
    for item in value:
        try:
            date.fromisoformat(item)
        except (TypeError, ValueError):
            raise ValidationError(f"not a date (YYYY-MM-DD): {str(item)[:20]}") from None


def account_label_of(obj: models.Model, field: str = "account") -> str:
    """The external id of the account `obj` belongs to (its title starts with it), or "New" before one."""
    if getattr(obj, f"{field}_id") is None:
        return "New"
    return getattr(obj, field).account_id


_QUANTITY = [MinValueValidator(v.QUANTITY_MIN), MaxValueValidator(v.QUANTITY_MAX)]


class Account(TimeStampedModel):
    """A broker account: the master whose orders are copied, or a follower that copies them."""

    class Role(models.TextChoices):
        MASTER = "MASTER", "Master"
        FOLLOWER = "FOLLOWER", "Follower"

    class Status(models.TextChoices):
        ACTIVE = "ACTIVE", "Active"
        INACTIVE = "INACTIVE", "Inactive"
        SUSPENDED = "SUSPENDED", "Suspended"

    class CapitalSource(models.TextChoices):
        BROKER = "BROKER", "Broker limits (opening cash, read once a day)"
        FIXED = "FIXED", "Fixed amount"

    ApiFlavor = _choices_of("ApiFlavor", broker_types.ApiFlavor)

    account_id = models.CharField(
        max_length=v.ACCOUNT_ID_MAX_LENGTH,
        unique=True,
        validators=[v.validate_identifier],
        help_text="External id, e.g. TEST-USER-1 or an e-mail (the seed's followerId).",
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.FOLLOWER)
    name = models.CharField(
        max_length=v.NAME_MAX_LENGTH, blank=True, default="", validators=[v.validate_printable]
    )
    client_id = models.CharField(
        max_length=v.CLIENT_ID_MAX_LENGTH,
        blank=True,
        default="",
        db_index=True,
        validators=[v.validate_header_safe],
        help_text="Alice Blue user id (UCC).",
    )
    api_flavor = models.CharField(max_length=10, choices=ApiFlavor.choices, default=default_api_flavor)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    copy_trading_active = models.BooleanField(
        default=True, help_text="The master's per-follower stop/resume switch."
    )
    stopped_at = models.DateTimeField(null=True, blank=True)
    stopped_by = models.CharField(max_length=100, blank=True, default="")
    paper = models.BooleanField(default=False, help_text="Dry run: log orders, do not send them.")
    # Capital sizing (RiskConfig sizing mode CAPITAL) reads the master's and the follower's capital from here.
    capital_source = models.CharField(
        max_length=10,
        choices=CapitalSource.choices,
        default=CapitalSource.BROKER,
        help_text="Capital for capital sizing: the broker's opening cash (limits, read once a trading day) "
        "or a fixed amount.",
    )
    fixed_capital = models.DecimalField(
        max_digits=15,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("1")), MaxValueValidator(Decimal("9999999999999.99"))],
        help_text="Rupees; used when the capital source is Fixed.",
    )
    # Today's broker read (opening cash from limits()), written by replication's capital service only.
    broker_capital = models.DecimalField(max_digits=15, decimal_places=2, null=True, blank=True)
    broker_capital_day = models.DateField(
        null=True, blank=True, help_text="The trading day (Asia/Kolkata) broker_capital was read for."
    )
    broker_capital_read_at = models.DateTimeField(null=True, blank=True)
    # 1 for the active master, NULL otherwise: a unique index on it allows exactly one active master on every
    # database (MySQL/MariaDB have no partial unique indexes).
    active_master_slot = models.GeneratedField(
        expression=models.Case(
            models.When(Q(role="MASTER", status="ACTIVE"), then=models.Value(1)),
            default=models.Value(None),
            output_field=models.PositiveSmallIntegerField(null=True),
        ),
        output_field=models.PositiveSmallIntegerField(null=True),
        db_persist=True,
        unique=True,
    )

    class Meta:
        ordering = ["account_id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(capital_source="FIXED") | Q(fixed_capital__gt=0),
                name="account_fixed_capital_set",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} ({self.role.lower()})"

    def clean(self) -> None:
        if self.capital_source == self.CapitalSource.FIXED and not self.fixed_capital:
            raise ValidationError({"fixed_capital": "required when the capital source is Fixed"})

    @property
    def is_master(self) -> bool:
        return self.role == self.Role.MASTER


class BrokerCredential(TimeStampedModel):
    """An account's Alice Blue secrets (encrypted, bound to the account) and the state of its daily session.

    The session token used for API calls is `broker_session_id` when set (the seed's priority), else
    `access_token`; every login flow stores it in `access_token` and clears `broker_session_id`. A token
    pasted over a session that works today waits in `pending_session_token` until a read call accepts it.
    """

    class SessionStatus(models.TextChoices):
        VALID = "VALID", "Valid"
        UNVERIFIED = "UNVERIFIED", "Unverified"
        EXPIRED = "EXPIRED", "Expired"
        MISSING = "MISSING", "Missing"

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="credential")
    api_key = EncryptedTextField(identity_attname="account_id")
    api_secret = EncryptedTextField(identity_attname="account_id")
    access_token = EncryptedTextField(identity_attname="account_id")
    broker_session_id = EncryptedTextField(identity_attname="account_id")
    pending_session_token = EncryptedTextField(identity_attname="account_id")
    pending_since = models.DateTimeField(null=True, blank=True)
    session_status = models.CharField(
        max_length=10, choices=SessionStatus.choices, default=SessionStatus.MISSING
    )
    session_obtained_at = models.DateTimeField(null=True, blank=True)
    last_verified_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")

    ENCRYPTED_FIELDS = ("api_key", "api_secret", "access_token", "broker_session_id", "pending_session_token")

    class Meta:
        ordering = ["account_id"]

    def __str__(self) -> str:
        return f"{account_label_of(self)} credential"

    def __repr__(self) -> str:
        return f"<BrokerCredential account={self.account_id} session={self.session_status}>"

    @property
    def session_token(self) -> str:
        return self.broker_session_id or self.access_token

    def _stored(self, name: str) -> bool:
        # Sealed ciphertext is truthy: whether a value is stored is known without decrypting it.
        return bool(self.__dict__[name] if name in self.__dict__ else getattr(self, name))

    @property
    def has_session_token(self) -> bool:
        return self._stored("broker_session_id") or self._stored("access_token")

    @property
    def has_pending_token(self) -> bool:
        return self._stored("pending_session_token")


def default_symbol_multipliers() -> dict[str, str]:
    return dict(risk_defaults.SYMBOL_MULTIPLIERS)


class PriceGuardAction(models.TextChoices):
    SKIP = risk_defaults.GUARD_SKIP, "Skip the entry"
    MARKET = risk_defaults.GUARD_MARKET, "Send it as MARKET"


class RiskConfig(TimeStampedModel):
    """A follower's risk rules and sizing (the seed's follower_risk_config, plus sizing mode)."""

    class SizingMode(models.TextChoices):
        MULTIPLIER = risk_defaults.MULTIPLIER, "Multiplier"
        FIXED_QTY = risk_defaults.FIXED_QTY, "Fixed quantity"
        CAPITAL = risk_defaults.CAPITAL, "Capital (follower ÷ master capital × multiplier)"

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="risk_config")
    lot_multiplier = models.DecimalField(
        max_digits=12,
        decimal_places=4,
        default=risk_defaults.LOT_MULTIPLIER,
        validators=[MinValueValidator(Decimal("0.0001"))],
        help_text="Multiplier sizing: master quantity × this. Capital sizing: the factor on the capital "
        "ratio.",
    )
    sizing_mode = models.CharField(
        max_length=10, choices=SizingMode.choices, default=risk_defaults.SIZING_MODE
    )
    fixed_quantity = models.PositiveIntegerField(
        null=True, blank=True, validators=_QUANTITY, help_text="Units per order in fixed-quantity sizing."
    )
    max_quantity = models.PositiveIntegerField(default=risk_defaults.MAX_QUANTITY, validators=_QUANTITY)
    max_order_value = models.DecimalField(
        max_digits=15, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(Decimal("0"))]
    )
    max_daily_loss = models.DecimalField(
        max_digits=15, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(Decimal("0"))]
    )
    allowed_instruments = models.JSONField(default=list, blank=True, validators=[validate_instruments])
    allowed_product_types = models.JSONField(
        default=default_product_types, blank=True, validators=[validate_product_types]
    )
    allowed_order_types = models.JSONField(
        default=default_order_types, blank=True, validators=[validate_order_types]
    )
    enabled = models.BooleanField(default=risk_defaults.ENABLED)
    symbol_multipliers = models.JSONField(
        default=default_symbol_multipliers,
        blank=True,
        validators=[v.validate_symbol_multipliers],
        help_text="Per-symbol multipliers replacing lot_multiplier (multiplier and capital sizing): "
        "the exact trading symbol first, then the underlying, e.g. NIFTY = 2, RELIANCE-EQ = 0.5.",
    )
    # Copy window and price guard (replication/risk.py); the window applies while
    # MasterSettings.enforce_copy_window is on.
    window_start = models.TimeField(
        default=risk_defaults.WINDOW_START,
        help_text="Copy window start, IST (HH:MM[:SS]): new entries before it are skipped (exits flow).",
    )
    window_end = models.TimeField(
        default=risk_defaults.WINDOW_END,
        help_text="Copy window end, IST, included: new entries after it are skipped (an end before the start "
        "makes an overnight window). Exits always flow.",
    )
    price_guard_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        default=risk_defaults.PRICE_GUARD_PERCENT,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text="Price guard, in percent: a LIMIT entry priced further than this from the last price is "
        "skipped or sent as MARKET (price_guard_action). Empty or 0: off.",
    )
    price_guard_action = models.CharField(
        max_length=10,
        choices=PriceGuardAction.choices,
        default=risk_defaults.PRICE_GUARD_ACTION,
        help_text="What the price guard does with a LIMIT entry too far from the last price.",
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(lot_multiplier__gt=0), name="risk_config_multiplier_positive"),
            models.CheckConstraint(
                condition=~Q(sizing_mode="FIXED_QTY") | Q(fixed_quantity__gt=0),
                name="risk_config_fixed_quantity_set",
            ),
        ]

    def __str__(self) -> str:
        return f"{account_label_of(self)} risk config"


class Consent(TimeStampedModel):
    """A follower's opt-in to trade replication, with its evidence.

    Given by the follower through a signed consent link (time, IP, user agent, terms version), or recorded
    by an operator with a reference to consent obtained elsewhere (no IP or user agent: they would be the
    operator's). `link_nonce` is in every consent link; a new link or a revocation replaces it, so older
    links stop working.
    """

    class RecordedBy(models.TextChoices):
        FOLLOWER = "FOLLOWER", "Follower (consent link)"
        OPERATOR = "OPERATOR", "Operator (on the follower's behalf)"

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="consent")
    trade_replication_enabled = models.BooleanField(default=False)
    consent_given_at = models.DateTimeField(null=True, blank=True)
    consent_token = models.CharField(max_length=255, blank=True, default="")
    ip_address = models.CharField(max_length=45, blank=True, default="")
    user_agent = models.TextField(blank=True, default="")
    terms_version = models.CharField(max_length=v.TERMS_VERSION_MAX_LENGTH, blank=True, default="")
    recorded_by = models.CharField(max_length=10, choices=RecordedBy.choices, blank=True, default="")
    recorded_by_actor = models.CharField(
        max_length=150,
        blank=True,
        default="",
        help_text="Who recorded it: an operator, or the follower.",
    )
    reference = models.CharField(
        max_length=v.REFERENCE_MAX_LENGTH,
        blank=True,
        default="",
        help_text="The operator's reference to consent obtained elsewhere, e.g. signed form #123.",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=150, blank=True, default="")
    link_nonce = models.CharField(max_length=64, blank=True, default="", editable=False)

    def __str__(self) -> str:
        return f"{account_label_of(self)} consent"


class MasterSettings(TimeStampedModel):
    """Global limits (the seed's master_settings); exactly one row, id 1."""

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID, editable=False)
    max_quantity_per_trade = models.PositiveIntegerField(default=1000, validators=_QUANTITY)
    max_daily_loss_percentage = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("5.00"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    min_lot_size = models.PositiveIntegerField(
        default=1, validators=[MinValueValidator(v.LOT_SIZE_MIN), MaxValueValidator(v.LOT_SIZE_MAX)]
    )
    default_lot_multiplier = models.DecimalField(
        max_digits=12,
        decimal_places=4,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0.0001"))],
    )
    auto_liquidate_on_loss = models.BooleanField(default=False)
    max_concurrent_trades = models.PositiveIntegerField(
        default=10,
        validators=[MinValueValidator(v.CONCURRENT_TRADES_MIN), MaxValueValidator(v.CONCURRENT_TRADES_MAX)],
    )
    auto_replicate_new_trades = models.BooleanField(default=True)
    # Master capture: how often the poll reads the master's order book, without a healthy order-update
    # stream and with one (then it is only the safety net).
    poll_interval_seconds = models.DecimalField(
        max_digits=6,
        decimal_places=2,
        default=Decimal("2.00"),
        validators=[MinValueValidator(Decimal("0.5")), MaxValueValidator(Decimal("1000"))],
        help_text="Seconds between polls of the master's order book while the order-update stream is down.",
    )
    poll_interval_with_stream_seconds = models.DecimalField(
        max_digits=6,
        decimal_places=2,
        default=Decimal("15.00"),
        validators=[MinValueValidator(Decimal("1")), MaxValueValidator(Decimal("1000"))],
        help_text="Seconds between polls while the stream is healthy (the poll is then only the safety net).",
    )
    # The kill switch: set and cleared only through replication.services.control (audited), never a form.
    copying_stopped = models.BooleanField(
        default=False, help_text="Kill switch: while on, no new entry is copied to any follower; exits flow."
    )
    copying_stopped_at = models.DateTimeField(null=True, blank=True)
    copying_stopped_by = models.CharField(max_length=150, blank=True, default="")
    copying_stopped_reason = models.CharField(max_length=255, blank=True, default="")
    # Copy window and NSE calendar (replication/market_calendar.py, replication/risk.py).
    enforce_copy_window = models.BooleanField(
        default=default_enforce_copy_window,
        help_text="New entries are copied only on NSE trading days and inside each follower's copy window "
        "(IST); otherwise skipped, and capture queues them for the operator. Exits always flow.",
    )
    extra_closed_days = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_dates],
        help_text='Extra days the market is closed (not in the NSE calendar), e.g. ["2026-12-31"].',
    )
    allow_amo = models.BooleanField(
        "allow AMO",
        default=False,
        help_text="While the copy window is enforced: a new entry seen while the NSE is closed (outside "
        "09:15-15:30 IST or on a closed day) is sent as an after-market order (AMO) instead of skipped.",
    )
    extra_trading_days = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_dates],
        help_text='Special sessions on an otherwise closed day (e.g. Muhurat trading), e.g. ["2026-11-08"]; '
        "the followers' copy windows still apply.",
    )

    class Meta:
        verbose_name = "master settings"
        verbose_name_plural = "master settings"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="master_settings_singleton")]

    def __str__(self) -> str:
        return "Master settings"


class AuditEvent(models.Model):
    """Append-only record of an operator action or configuration change; never holds secret values."""

    actor = models.CharField(max_length=150)
    action = models.CharField(max_length=64, db_index=True)
    target = models.CharField(max_length=200, blank=True, default="", db_index=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        what = f"{self.action} {self.target}".strip()
        if self.created_at is None:
            return f"{what} by {self.actor}"
        # In the current time zone: the admin's (IST) on its pages.
        when = timezone.localtime(self.created_at)
        return f"{what} by {self.actor} at {when:%Y-%m-%d %H:%M:%S} {when.tzname()}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("AuditEvent is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("AuditEvent is append-only")


# ------------------------------------------------------------------------------------------ notifications
class NotificationEvent(models.TextChoices):
    """What a notification channel can ask to be told about."""

    FOLLOWER_NOT_READY = "FOLLOWER_NOT_READY", "Follower not ready before the open"
    ORDER_FAILED = "ORDER_FAILED", "Follower order FAILED"
    ORDER_UNKNOWN = "ORDER_UNKNOWN", "Follower order outcome UNKNOWN"
    LOSS_LIMIT = "LOSS_LIMIT", "Daily loss limit hit"
    AUTO_LIQUIDATED = "AUTO_LIQUIDATED", "Follower auto-liquidated"
    CAPTURE_DOWN = "CAPTURE_DOWN", "Master capture down"
    KILL_SWITCH = "KILL_SWITCH", "Kill switch turned on or off"
    TEST = "TEST", "Test message"


# A follower's channel hears only about that follower; these are the events that are about one follower.
FOLLOWER_EVENTS = (
    NotificationEvent.FOLLOWER_NOT_READY,
    NotificationEvent.ORDER_FAILED,
    NotificationEvent.ORDER_UNKNOWN,
    NotificationEvent.LOSS_LIMIT,
    NotificationEvent.AUTO_LIQUIDATED,
)
SUBSCRIBABLE_EVENTS = tuple(e for e in NotificationEvent if e != NotificationEvent.TEST)


def validate_notification_events(value) -> None:
    if not isinstance(value, list):
        raise ValidationError("must be a list of events")
    unknown = sorted({str(item) for item in value} - {str(e) for e in SUBSCRIBABLE_EVENTS})
    if unknown:
        raise ValidationError(f"unknown events: {', '.join(unknown)}")


class NotificationChannel(TimeStampedModel):
    """Where notifications go: a Telegram chat or an e-mail address, of the operator (no account) or of one
    follower (who hears only about itself)."""

    class Kind(models.TextChoices):
        TELEGRAM = "TELEGRAM", "Telegram"
        EMAIL = "EMAIL", "E-mail"

    name = models.CharField(max_length=100, validators=[v.validate_printable])
    kind = models.CharField(max_length=10, choices=Kind.choices)
    account = models.ForeignKey(
        Account,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notification_channels",
        limit_choices_to={"role": Account.Role.FOLLOWER},
        help_text="A follower: the channel hears only about that follower. Empty: an operator channel "
        "(hears about everything).",
    )
    target = models.CharField(
        max_length=254,
        help_text="Telegram: the chat id (e.g. 123456789, -1001234567890 or @channelname). "
        "E-mail: the address.",
    )
    events = models.JSONField(default=list, blank=True, validators=[validate_notification_events])
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        owner = self.account.account_id if self.account is not None else "operator"
        return f"{self.name} ({self.get_kind_display()}, {owner})"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        try:
            v.validate_notification_target(self.kind, self.target)
        except ValidationError as exc:
            errors["target"] = exc.messages[0]
        if self.account is not None:
            if self.account.role != Account.Role.FOLLOWER:
                errors["account"] = "Only a follower's channel names an account; the operator's names none."
            wider = sorted(set(self.events or []) - {str(e) for e in FOLLOWER_EVENTS})
            if wider:
                errors["events"] = (
                    "A follower's channel hears only about that follower: "
                    f"{', '.join(wider)} are operator events."
                )
        if errors:
            raise ValidationError(errors)


class NotificationDelivery(models.Model):
    """One message to one channel: the delivery log. Unique per (channel, dedupe key), so an event is never
    sent twice to a channel, whoever detects it and however often."""

    class Status(models.TextChoices):
        QUEUED = "QUEUED", "Queued"
        SENDING = "SENDING", "Sending"
        SENT = "SENT", "Sent"
        FAILED = "FAILED", "Failed"
        SUPPRESSED = "SUPPRESSED", "Suppressed (rate limit)"

    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32, choices=NotificationEvent.choices)
    dedupe_key = models.CharField(max_length=191)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True, default="")
    # A SUPPRESSED message is counted once in the next message sent on its channel.
    counted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "notification deliveries"
        constraints = [
            models.UniqueConstraint(fields=["channel", "dedupe_key"], name="notification_delivery_once"),
        ]
        indexes = [models.Index(fields=["channel", "status", "created_at"], name="notification_channel_log")]

    def __str__(self) -> str:
        return f"{self.get_event_display()} to {self.channel.name}: {self.status}"


class NotificationMark(models.Model):
    """Since when a watched condition has held (e.g. master capture down), so "down for longer than N
    minutes" survives restarts and is the same for every worker. Deleted when the condition ends."""

    name = models.CharField(max_length=100, unique=True)
    since = models.DateTimeField()
    notified = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.name} since {self.since:%Y-%m-%d %H:%M:%S}"
