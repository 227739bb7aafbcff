"""Trading accounts (one master, many followers), their encrypted broker credentials, risk rules, consent,
the master settings singleton and the append-only audit log."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.fields import EncryptedTextField
from copytrade.core.models import TimeStampedModel


def default_api_flavor() -> str:
    return settings.ALICE_API_FLAVOR


def default_product_types() -> list[str]:
    return ["MIS", "CNC", "NRML"]


def default_order_types() -> list[str]:
    return ["MARKET", "LIMIT"]


class Account(TimeStampedModel):
    """A broker account: the master whose orders are copied, or a follower that copies them."""

    class Role(models.TextChoices):
        MASTER = "MASTER", "Master"
        FOLLOWER = "FOLLOWER", "Follower"

    class Status(models.TextChoices):
        ACTIVE = "ACTIVE", "Active"
        INACTIVE = "INACTIVE", "Inactive"
        SUSPENDED = "SUSPENDED", "Suspended"

    class ApiFlavor(models.TextChoices):
        OPENAPI = "openapi", "Open API (v1)"
        LEGACY = "legacy", "Legacy API"

    account_id = models.CharField(
        max_length=120,
        unique=True,
        help_text="External id, e.g. TEST-USER-1 or an e-mail (the seed's followerId).",
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.FOLLOWER)
    name = models.CharField(max_length=255, blank=True, default="")
    client_id = models.CharField(
        max_length=64, blank=True, default="", db_index=True, help_text="Alice Blue user id (UCC)."
    )
    api_flavor = models.CharField(max_length=10, choices=ApiFlavor.choices, default=default_api_flavor)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    copy_trading_active = models.BooleanField(
        default=True, help_text="The master's per-follower stop/resume switch."
    )
    stopped_at = models.DateTimeField(null=True, blank=True)
    stopped_by = models.CharField(max_length=100, blank=True, default="")
    paper = models.BooleanField(default=False, help_text="Dry run: log orders, do not send them.")
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

    def __str__(self) -> str:
        return f"{self.account_id} ({self.role.lower()})"

    @property
    def is_master(self) -> bool:
        return self.role == self.Role.MASTER


class BrokerCredential(TimeStampedModel):
    """An account's Alice Blue secrets (encrypted, bound to the account) and the state of its daily session.

    The session token used for API calls is `broker_session_id` when set (the seed's priority), else
    `access_token`; every login flow stores it in `access_token` and clears `broker_session_id`.
    """

    class SessionStatus(models.TextChoices):
        VALID = "VALID", "Valid"
        EXPIRED = "EXPIRED", "Expired"
        MISSING = "MISSING", "Missing"

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="credential")
    api_key = EncryptedTextField(identity_attname="account_id")
    api_secret = EncryptedTextField(identity_attname="account_id")
    access_token = EncryptedTextField(identity_attname="account_id")
    broker_session_id = EncryptedTextField(identity_attname="account_id")
    session_status = models.CharField(
        max_length=10, choices=SessionStatus.choices, default=SessionStatus.MISSING
    )
    session_obtained_at = models.DateTimeField(null=True, blank=True)
    last_verified_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")

    ENCRYPTED_FIELDS = ("api_key", "api_secret", "access_token", "broker_session_id")

    class Meta:
        ordering = ["account_id"]

    def __str__(self) -> str:
        return f"credential of account #{self.account_id} ({self.session_status})"

    def __repr__(self) -> str:
        return f"<BrokerCredential account={self.account_id} session={self.session_status}>"

    @property
    def session_token(self) -> str:
        return self.broker_session_id or self.access_token


class RiskConfig(TimeStampedModel):
    """A follower's risk rules and sizing (the seed's follower_risk_config, plus sizing mode)."""

    class SizingMode(models.TextChoices):
        MULTIPLIER = "MULTIPLIER", "Multiplier"
        FIXED_QTY = "FIXED_QTY", "Fixed quantity"

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="risk_config")
    lot_multiplier = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal("1.0"))
    sizing_mode = models.CharField(max_length=10, choices=SizingMode.choices, default=SizingMode.MULTIPLIER)
    fixed_quantity = models.PositiveIntegerField(null=True, blank=True)
    max_quantity = models.PositiveIntegerField(default=100)
    max_order_value = models.DecimalField(max_digits=15, decimal_places=2, null=True, blank=True)
    max_daily_loss = models.DecimalField(max_digits=15, decimal_places=2, null=True, blank=True)
    allowed_instruments = models.JSONField(default=list, blank=True)
    allowed_product_types = models.JSONField(default=default_product_types, blank=True)
    allowed_order_types = models.JSONField(default=default_order_types, blank=True)
    enabled = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(lot_multiplier__gt=0), name="risk_config_multiplier_positive"),
            models.CheckConstraint(
                condition=~Q(sizing_mode="FIXED_QTY") | Q(fixed_quantity__gt=0),
                name="risk_config_fixed_quantity_set",
            ),
        ]

    def __str__(self) -> str:
        return f"risk config of account #{self.account_id}"


class Consent(TimeStampedModel):
    """A follower's recorded opt-in to trade replication."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="consent")
    trade_replication_enabled = models.BooleanField(default=False)
    consent_given_at = models.DateTimeField(null=True, blank=True)
    consent_token = models.CharField(max_length=255, blank=True, default="")
    ip_address = models.CharField(max_length=45, blank=True, default="")
    user_agent = models.TextField(blank=True, default="")

    def __str__(self) -> str:
        return (
            f"consent of account #{self.account_id} ({'given' if self.trade_replication_enabled else 'none'})"
        )


class MasterSettings(TimeStampedModel):
    """Global limits (the seed's master_settings); exactly one row, id 1."""

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID, editable=False)
    max_quantity_per_trade = models.PositiveIntegerField(default=1000)
    max_daily_loss_percentage = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("5.00"))
    min_lot_size = models.PositiveIntegerField(default=1)
    default_lot_multiplier = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal("1"))
    auto_liquidate_on_loss = models.BooleanField(default=False)
    max_concurrent_trades = models.PositiveIntegerField(default=10)
    auto_replicate_new_trades = models.BooleanField(default=True)

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
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.target}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("AuditEvent is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("AuditEvent is append-only")
