"""Account, credential, risk-config and master-settings writes; each writes an AuditEvent."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from datetime import time as dt_time
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, RestrictedError
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts import risk_defaults
from accounts.dispatch import session_check_enqueue
from accounts.models import Account, BrokerCredential, MasterSettings, RiskConfig
from accounts.selectors import account_history, follower_get, market_today
from accounts.services.audit import audit_record
from accounts.services.sessions import session_check_needed, session_token_apply
from accounts.validators import (
    API_KEY_MAX_LENGTH,
    TOKEN_MAX_LENGTH,
    model_check,
    secret_check,
    symbol_multipliers_normalized,
)
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

    def check(self) -> None:
        """ValidationFailed (naming the field, never the value) unless every given value can be sent."""
        for name in ("api_key", "api_secret"):
            secret_check(field=name, value=getattr(self, name) or "", max_length=API_KEY_MAX_LENGTH)
        for name in ("access_token", "broker_session_id"):
            secret_check(field=name, value=getattr(self, name) or "", max_length=TOKEN_MAX_LENGTH)


@sensitive_variables("credential", "values")
def _credential_apply(
    credential: BrokerCredential, values: CredentialInput, *, keep_working_session: bool = True
) -> tuple[list[str], str]:
    """Set the given secrets on a locked credential (unsaved); returns the changed field names and what
    happened to the session (see sessions.session_token_apply)."""
    changed = values.changed_fields()
    for name in ("api_key", "api_secret"):
        if name in changed:
            setattr(credential, name, getattr(values, name))
    outcome = session_token_apply(
        credential,
        access_token=values.access_token,
        broker_session_id=values.broker_session_id,
        now=timezone.now(),
        keep_working_session=keep_working_session,
    )
    return changed, outcome


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
    """Create a follower with default risk config (and credentials when given); Conflict if the id exists.

    A session token given here is UNVERIFIED and checked in the background once this commits.
    """
    if credential is not None:
        credential.check()
    account = account_create(
        account_id=follower_id,
        role=Account.Role.FOLLOWER,
        client_id=client_id,
        name=name,
        api_flavor=api_flavor,
        paper=paper,
        actor=actor,
        audit=False,
    )
    changed: list[str] = []
    if credential is not None and credential.changed_fields():
        cred = BrokerCredential(account=account)
        changed, outcome = _credential_apply(cred, credential)
        cred.save()
        if session_check_needed(cred, outcome):
            session_check_enqueue(account_pk=account.pk)
    audit_record(
        actor=actor,
        action="follower.created",
        target=follower_id,
        details={"client_id": client_id, "credential_fields_set": changed, "paper": paper},
    )
    logger.info("follower created: %s", follower_id)
    return account


_ACCOUNT_FIELDS = ("name", "client_id", "api_flavor", "status", "paper")
# Capital sizing's inputs, changed by the admin (audited in account.updated like the others).
_CAPITAL_FIELDS = ("capital_source", "fixed_capital")


@transaction.atomic
def account_create(
    *,
    account_id: str,
    role: str,
    actor: str,
    client_id: str = "",
    name: str = "",
    api_flavor: str | None = None,
    status: str = Account.Status.ACTIVE,
    paper: bool = False,
    capital_source: str = Account.CapitalSource.BROKER,
    fixed_capital: Decimal | None = None,
    audit: bool = True,
) -> Account:
    """Create an account (a follower gets the default risk config); Conflict if the id exists or it would be a
    second active master; ValidationFailed naming the field for a value out of bounds."""
    account = Account(
        account_id=account_id,
        role=role,
        client_id=client_id,
        name=name,
        status=status,
        paper=paper,
        capital_source=capital_source,
        fixed_capital=fixed_capital,
    )
    if api_flavor:
        account.api_flavor = api_flavor
    model_check(account)
    if Account.objects.filter(account_id=account_id).exists():
        raise Conflict(f"Account {account_id} already exists", code="account_exists")
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError as exc:
        if Account.objects.filter(account_id=account_id).exists():
            raise Conflict(f"Account {account_id} already exists", code="account_exists") from exc
        raise Conflict("Another account is already the active master", code="master_exists") from exc
    if role == Account.Role.FOLLOWER:
        RiskConfig.objects.create(account=account)
    if audit:
        audit_record(
            actor=actor,
            action="account.created",
            target=account_id,
            details={
                "role": role,
                **_jsonable({name: getattr(account, name) for name in (*_ACCOUNT_FIELDS, *_CAPITAL_FIELDS)}),
            },
        )
    logger.info("account created: %s (%s)", account_id, role)
    return account


@transaction.atomic
def account_update(*, account: Account, actor: str, **values: Any) -> Account:
    """Change an account's name, client id, API flavour, status, paper switch or capital source and fixed
    capital (never its id or role)."""
    unknown = set(values) - set(_ACCOUNT_FIELDS) - set(_CAPITAL_FIELDS)
    if unknown:
        raise ValidationFailed(f"Cannot change: {', '.join(sorted(unknown))}", code="invalid")
    account = Account.objects.select_for_update().get(pk=account.pk)
    changed = {name: value for name, value in values.items() if getattr(account, name) != value}
    if not changed:
        return account
    for name, value in changed.items():
        setattr(account, name, value)
    model_check(account)
    try:
        with transaction.atomic():
            account.save(update_fields=[*changed, "updated_at"])
    except IntegrityError as exc:
        raise Conflict("Another account is already the active master", code="master_exists") from exc
    audit_record(
        actor=actor,
        action="account.updated",
        target=account.account_id,
        details={"changed": _jsonable(changed)},
    )
    logger.info("account %s updated: %s", account.account_id, ",".join(sorted(changed)))
    return account


@transaction.atomic
def account_delete(*, account: Account, actor: str) -> None:
    """Delete an account that never traded, with its credential, risk config and consent; the audit row
    keeps what it was.

    An account with trading history (order mappings, master trades) is kept: Conflict says why and to
    deactivate it instead. The account row is locked first, so no order can be mapped to it meanwhile.
    """
    account = Account.objects.select_for_update().get(pk=account.pk)
    history = account_history(account=account)
    if not history.empty:
        raise Conflict(
            f"{account.account_id} has trading history ({history}); deactivate it instead",
            code="account_has_history",
            extra={"orderMappings": history.order_mappings, "masterTrades": history.master_trades},
        )
    details = {"role": account.role, **{name: getattr(account, name) for name in _ACCOUNT_FIELDS}}
    try:
        account.delete()
    except (ProtectedError, RestrictedError) as exc:
        raise Conflict(
            f"{account.account_id} is still referred to; deactivate it instead", code="account_has_history"
        ) from exc
    audit_record(actor=actor, action="account.deleted", target=account.account_id, details=details)
    logger.info("account deleted: %s (%s)", account.account_id, account.role)


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
    model_check(account)
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
    """Replace some of an account's secrets; the audit log names the fields, never the values.

    A new session token is UNVERIFIED and checked in the background on commit; over a session that works
    today it waits as the pending replacement instead (the working session stays in use until a check
    accepts the new one). A new client id means a new Alice Blue user: its token simply replaces the session.
    """
    values.check()
    client_changed = client_id is not None and client_id != account.client_id
    if client_id is not None and client_changed:
        account.client_id = client_id
        model_check(account, exclude=["account_id", "role", "name", "api_flavor", "status"])
    credential, created = BrokerCredential.objects.select_for_update().get_or_create(account=account)
    changed, outcome = _credential_apply(credential, values, keep_working_session=not client_changed)
    credential.save()
    if client_changed:
        account.save(update_fields=["client_id", "updated_at"])
        changed.append("client_id")
    audit_record(
        actor=actor,
        action="credential.replaced",
        target=account.account_id,
        details={"fields": changed, "created": created, "session": outcome},
    )
    logger.info(
        "credential replaced for %s: fields=%s session=%s", account.account_id, ",".join(changed), outcome
    )
    if session_check_needed(credential, outcome):
        session_check_enqueue(account_pk=account.pk)
    return credential


RISK_DEFAULTS: dict[str, Any] = risk_defaults.as_dict()


@transaction.atomic
def risk_config_replace(*, follower_id: str, actor: str, **values: Any) -> RiskConfig:
    """Full replace (the seed's semantics): omitted fields go back to their defaults."""
    unknown = set(values) - set(RISK_DEFAULTS)
    if unknown:
        raise ValidationFailed(f"Unknown risk config fields: {', '.join(sorted(unknown))}")
    data = {**risk_defaults.as_dict(), **{k: v for k, v in values.items() if v is not None}}
    if data["sizing_mode"] == RiskConfig.SizingMode.FIXED_QTY and not data["fixed_quantity"]:
        raise ValidationFailed("fixed_quantity: required when sizing_mode is FIXED_QTY", code="invalid")
    data["price_guard_action"] = str(data["price_guard_action"]).strip().upper()
    for name in ("allowed_instruments", "allowed_product_types", "allowed_order_types"):
        data[name] = list(
            dict.fromkeys(str(item).strip().upper() for item in data[name] if str(item).strip())
        )
    try:
        data["symbol_multipliers"] = symbol_multipliers_normalized(data["symbol_multipliers"])
    except ValidationError as exc:
        raise ValidationFailed(
            f"symbol_multipliers: {exc.messages[0]}", code="invalid", extra={"field": "symbol_multipliers"}
        ) from exc
    model_check(RiskConfig(**data), exclude=["account"])
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


def account_broker_capital_record(*, account: Account, capital: Decimal) -> None:
    """Store today's broker capital read (opening cash) on the account row and on `account`; one column
    write, so an admin save in flight keeps it (the admin writes only the fields it changed)."""
    values = {
        "broker_capital": capital.quantize(Decimal("0.01")),
        "broker_capital_day": market_today(),
        "broker_capital_read_at": timezone.now(),
    }
    Account.objects.filter(pk=account.pk).update(**values)
    for name, value in values.items():
        setattr(account, name, value)
    logger.info("account %s: capital today %s (broker limits)", account.account_id, values["broker_capital"])


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Decimal | dt_time) else v) for k, v in values.items()}


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
    "poll_interval_seconds",
    "poll_interval_with_stream_seconds",
    "enforce_copy_window",
    "allow_amo",
    "extra_closed_days",
    "extra_trading_days",
)


@transaction.atomic
def master_settings_update(*, actor: str, **values: Any) -> MasterSettings:
    """Update the given master settings (others keep their values)."""
    unknown = set(values) - set(MASTER_SETTINGS_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown settings: {', '.join(sorted(unknown))}")
    row = MasterSettings.objects.select_for_update().filter(pk=MasterSettings.SINGLETON_ID).first()
    row = row or MasterSettings(pk=MasterSettings.SINGLETON_ID)
    changed = {}
    for name in ("extra_closed_days", "extra_trading_days"):
        if values.get(name) is not None:  # dates as sorted ISO strings, once each
            values[name] = sorted({d.isoformat() if isinstance(d, date) else str(d) for d in values[name]})
    for name, value in values.items():
        if value is not None and getattr(row, name) != value:
            setattr(row, name, value)
            changed[name] = value
    model_check(row, exclude=["id"])
    row.save()
    audit_record(
        actor=actor,
        action="master_settings.updated",
        target="master_settings",
        details={"changed": _jsonable(changed)},
    )
    return row
