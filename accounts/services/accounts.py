"""Account, credential, risk-config, consent and master-settings writes; each writes an AuditEvent."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts.models import Account, BrokerCredential, Consent, MasterSettings, RiskConfig
from accounts.selectors import follower_get
from accounts.services.audit import audit_record
from copytrade.core.exceptions import Conflict, ValidationFailed

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CredentialInput:
    """Secret values to store; None keeps the stored value, '' clears it."""

    api_key: str | None = None
    api_secret: str | None = None
    access_token: str | None = None
    broker_session_id: str | None = None

    def __repr__(self) -> str:
        given = [
            name
            for name in ("api_key", "api_secret", "access_token", "broker_session_id")
            if getattr(self, name)
        ]
        return f"<CredentialInput {','.join(given) or 'empty'}>"

    def changed_fields(self) -> list[str]:
        return [
            name
            for name in ("api_key", "api_secret", "access_token", "broker_session_id")
            if getattr(self, name) is not None
        ]


def _credential_apply(
    credential: BrokerCredential, values: CredentialInput, *, session_changed_at=None
) -> list[str]:
    changed = values.changed_fields()
    for name in changed:
        setattr(credential, name, getattr(values, name))
    if "access_token" in changed or "broker_session_id" in changed:
        if credential.session_token:
            credential.session_status = BrokerCredential.SessionStatus.VALID
            credential.session_obtained_at = session_changed_at or timezone.now()
            # A pasted token is unverified until a read call succeeds (session check / test-connect).
            credential.last_verified_at = None
            credential.last_error = ""
        else:
            credential.session_status = BrokerCredential.SessionStatus.MISSING
            credential.session_obtained_at = None
            credential.last_verified_at = None
    return changed


@transaction.atomic
def follower_create(
    *,
    follower_id: str,
    client_id: str,
    actor: str,
    name: str = "",
    api_flavor: str | None = None,
    paper: bool = False,
    credential: CredentialInput | None = None,
) -> Account:
    """Create a follower with default risk config (and credentials when given); Conflict if the id exists."""
    if Account.objects.filter(account_id=follower_id).exists():
        raise Conflict(f"Account {follower_id} already exists", code="account_exists")
    fields: dict[str, Any] = {"account_id": follower_id, "client_id": client_id, "name": name, "paper": paper}
    if api_flavor:
        fields["api_flavor"] = api_flavor
    try:
        with transaction.atomic():
            account = Account.objects.create(role=Account.Role.FOLLOWER, **fields)
    except IntegrityError as exc:
        raise Conflict(f"Account {follower_id} already exists", code="account_exists") from exc
    RiskConfig.objects.create(account=account)
    changed: list[str] = []
    if credential is not None and credential.changed_fields():
        cred = BrokerCredential(account=account)
        changed = _credential_apply(cred, credential)
        cred.save()
    audit_record(
        actor=actor,
        action="follower.created",
        target=follower_id,
        details={"client_id": client_id, "credential_fields_set": changed, "paper": paper},
    )
    logger.info("follower created: %s", follower_id)
    return account


@transaction.atomic
def master_create(
    *,
    account_id: str,
    client_id: str,
    actor: str,
    name: str = "",
    api_flavor: str | None = None,
    replace: bool = False,
) -> Account:
    """Create (or re-activate) the master; Conflict when another master is active, unless `replace`."""
    current = (
        Account.objects.select_for_update()
        .filter(role=Account.Role.MASTER, status=Account.Status.ACTIVE)
        .exclude(account_id=account_id)
        .first()
    )
    if current is not None:
        if not replace:
            raise Conflict(
                f"{current.account_id} is already the active master; use --replace to deactivate it",
                code="master_exists",
            )
        current.status = Account.Status.INACTIVE
        current.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=actor,
            action="master.deactivated",
            target=current.account_id,
            details={"replaced_by": account_id},
        )
    existing = Account.objects.select_for_update().filter(account_id=account_id).first()
    if existing is not None and existing.role != Account.Role.MASTER:
        raise Conflict(
            f"{account_id} exists as a follower; a follower is never turned into the master",
            code="account_is_follower",
        )
    account = existing or Account(account_id=account_id, role=Account.Role.MASTER)
    account.client_id = client_id or account.client_id
    account.name = name or account.name
    if api_flavor:
        account.api_flavor = api_flavor
    account.status = Account.Status.ACTIVE
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError as exc:
        raise Conflict("Another account is already the active master", code="master_exists") from exc
    audit_record(
        actor=actor,
        action="master.created" if existing is None else "master.activated",
        target=account_id,
        details={"client_id": account.client_id},
    )
    return account


@transaction.atomic
def credential_upsert(
    *, follower_id: str, actor: str, values: CredentialInput, client_id: str | None = None
) -> BrokerCredential:
    """The seed's credentials POST: store the given secrets (encrypted) and client id on the follower."""
    account = follower_get(follower_id=follower_id, for_update=True)
    return credential_replace(account=account, actor=actor, values=values, client_id=client_id)


@sensitive_variables("values", "credential")
@transaction.atomic
def credential_replace(
    *, account: Account, actor: str, values: CredentialInput, client_id: str | None = None
) -> BrokerCredential:
    """Replace some of an account's secrets; the audit log names the fields, never the values."""
    credential, created = BrokerCredential.objects.select_for_update().get_or_create(account=account)
    changed = _credential_apply(credential, values)
    credential.save()
    if client_id is not None and client_id != account.client_id:
        account.client_id = client_id
        account.save(update_fields=["client_id", "updated_at"])
        changed.append("client_id")
    audit_record(
        actor=actor,
        action="credential.replaced",
        target=account.account_id,
        details={"fields": changed, "created": created},
    )
    logger.info("credential replaced for %s: fields=%s", account.account_id, ",".join(changed))
    return credential


RISK_DEFAULTS: dict[str, Any] = {
    "lot_multiplier": Decimal("1.0"),
    "sizing_mode": RiskConfig.SizingMode.MULTIPLIER,
    "fixed_quantity": None,
    "max_quantity": 100,
    "max_order_value": None,
    "max_daily_loss": None,
    "allowed_instruments": [],
    "allowed_product_types": ["MIS", "CNC", "NRML"],
    "allowed_order_types": ["MARKET", "LIMIT"],
    "enabled": True,
}


@transaction.atomic
def risk_config_replace(*, follower_id: str, actor: str, **values: Any) -> RiskConfig:
    """Full replace (the seed's semantics): omitted fields go back to their defaults."""
    unknown = set(values) - set(RISK_DEFAULTS)
    if unknown:
        raise ValidationFailed(f"Unknown risk config fields: {', '.join(sorted(unknown))}")
    data = {**RISK_DEFAULTS, **{k: v for k, v in values.items() if v is not None}}
    if data["sizing_mode"] == RiskConfig.SizingMode.FIXED_QTY and not data["fixed_quantity"]:
        raise ValidationFailed("fixed_quantity: required when sizing_mode is FIXED_QTY", code="invalid")
    for name in ("allowed_instruments", "allowed_product_types", "allowed_order_types"):
        data[name] = [str(item).strip().upper() for item in data[name] if str(item).strip()]
    account = follower_get(follower_id=follower_id, for_update=True)
    config, created = RiskConfig.objects.select_for_update().get_or_create(account=account, defaults=data)
    before = {name: getattr(config, name) for name in RISK_DEFAULTS}
    if not created:
        for name, value in data.items():
            setattr(config, name, value)
        config.save()
    changed = sorted(name for name in RISK_DEFAULTS if created or before[name] != getattr(config, name))
    audit_record(
        actor=actor,
        action="risk_config.replaced",
        target=follower_id,
        details={"changed": changed, "values": _jsonable({n: getattr(config, n) for n in changed})},
    )
    return config


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in values.items()}


@transaction.atomic
def consent_record(
    *, follower_id: str, actor: str, consent_token: str = "", ip_address: str = "", user_agent: str = ""
) -> Consent:
    """Record the follower's opt-in (upsert); does not touch the stop/resume switch."""
    account = follower_get(follower_id=follower_id, for_update=True)
    consent, _ = Consent.objects.select_for_update().get_or_create(account=account)
    consent.trade_replication_enabled = True
    consent.consent_given_at = timezone.now()
    consent.consent_token = consent_token or f"consent-{secrets.token_hex(12)}"
    consent.ip_address = (ip_address or "unknown")[:45]
    consent.user_agent = user_agent
    consent.save()
    audit_record(
        actor=actor, action="consent.recorded", target=follower_id, details={"ip_address": consent.ip_address}
    )
    return consent


@transaction.atomic
def consent_revoke(*, account: Account, actor: str) -> None:
    updated = Consent.objects.filter(account=account).update(
        trade_replication_enabled=False, updated_at=timezone.now()
    )
    audit_record(
        actor=actor, action="consent.revoked", target=account.account_id, details={"existed": bool(updated)}
    )


@transaction.atomic
def account_copy_trading_set(*, account: Account, active: bool, actor: str, stopped_by: str = "") -> Account:
    """The master's stop/resume switch for one follower."""
    account = Account.objects.select_for_update().get(pk=account.pk)
    if active:
        account.copy_trading_active, account.stopped_at, account.stopped_by = True, None, ""
    else:
        account.copy_trading_active = False
        account.stopped_at = timezone.now()
        account.stopped_by = (stopped_by or actor or "admin")[:100]
    account.save(update_fields=["copy_trading_active", "stopped_at", "stopped_by", "updated_at"])
    audit_record(
        actor=actor,
        action="copy_trading.resumed" if active else "copy_trading.stopped",
        target=account.account_id,
        details={"stopped_by": account.stopped_by},
    )
    logger.info("copy trading %s for %s", "resumed" if active else "stopped", account.account_id)
    return account


@transaction.atomic
def account_status_set(*, account: Account, status: str, actor: str) -> Account:
    """Enable/disable/suspend an account; a second active master is refused."""
    account = Account.objects.select_for_update().get(pk=account.pk)
    previous = account.status
    account.status = status
    try:
        with transaction.atomic():
            account.save(update_fields=["status", "updated_at"])
    except IntegrityError as exc:
        raise Conflict("Another account is already the active master", code="master_exists") from exc
    audit_record(
        actor=actor,
        action="account.status_changed",
        target=account.account_id,
        details={"from": previous, "to": status},
    )
    return account


MASTER_SETTINGS_FIELDS = (
    "max_quantity_per_trade",
    "max_daily_loss_percentage",
    "min_lot_size",
    "default_lot_multiplier",
    "auto_liquidate_on_loss",
    "max_concurrent_trades",
    "auto_replicate_new_trades",
)


@transaction.atomic
def master_settings_update(*, actor: str, **values: Any) -> MasterSettings:
    """Update the given master settings (others keep their values)."""
    unknown = set(values) - set(MASTER_SETTINGS_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown settings: {', '.join(sorted(unknown))}")
    row, _ = MasterSettings.objects.select_for_update().get_or_create(pk=MasterSettings.SINGLETON_ID)
    changed = {}
    for name, value in values.items():
        if value is not None and getattr(row, name) != value:
            setattr(row, name, value)
            changed[name] = value
    row.save()
    audit_record(
        actor=actor,
        action="master_settings.updated",
        target="master_settings",
        details={"changed": _jsonable(changed)},
    )
    return row


def audit_admin_change(*, actor: str, obj: Any, changed: list[str], action: str) -> None:
    """Record a change made through an admin form (field names, plus values for non-secret models)."""
    label = getattr(getattr(obj, "account", None), "account_id", None) or str(obj)
    audit_record(actor=actor, action=action, target=label, details={"changed": sorted(changed)})
