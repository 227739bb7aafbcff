"""Reads of the accounts app, and the broker client for an account's stored session."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.encryption import DecryptionError
from accounts.exceptions import CredentialUnreadable, FollowerNotFound, SessionMissing
from accounts.models import Account, BrokerCredential, MasterSettings, RiskConfig
from copytrade.core.exceptions import NotFound

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from broker.client import AliceBlueClient


def market_today() -> date:
    return timezone.now().astimezone(ZoneInfo(settings.MARKET_TIME_ZONE)).date()


def session_ready_today(credential: BrokerCredential | None, *, now: datetime | None = None) -> bool:
    """VALID and verified today (Asia/Kolkata): the account can trade this session."""
    if credential is None or credential.session_status != BrokerCredential.SessionStatus.VALID:
        return False
    if credential.last_verified_at is None:
        return False
    zone = ZoneInfo(settings.MARKET_TIME_ZONE)
    today = (now or timezone.now()).astimezone(zone).date()
    return credential.last_verified_at.astimezone(zone).date() == today


def follower_list() -> QuerySet[Account]:
    return (
        Account.objects.filter(role=Account.Role.FOLLOWER)
        .select_related("credential", "risk_config", "consent")
        .order_by("account_id")
    )


def follower_get(*, follower_id: str, for_update: bool = False) -> Account:
    """The follower with external id `follower_id`; FollowerNotFound (404) otherwise."""
    queryset = Account.objects.filter(role=Account.Role.FOLLOWER)
    if for_update:
        queryset = queryset.select_for_update()
    account = queryset.filter(account_id=follower_id).first()
    if account is None:
        raise FollowerNotFound()
    return account


def follower_risk_config_get(*, follower_id: str) -> RiskConfig:
    """The follower's risk config; FollowerNotFound / NotFound ("Risk config not found") otherwise."""
    account = follower_get(follower_id=follower_id)
    config = RiskConfig.objects.select_related("account").filter(account=account).first()
    if config is None:
        raise NotFound("Risk config not found", code="risk_config_not_found")
    return config


def account_get(*, account_id: str) -> Account:
    account = Account.objects.filter(account_id=account_id).first()
    if account is None:
        raise NotFound(f"Account {account_id} not found", code="account_not_found")
    return account


def account_find_by_user_id(*, user_id: str) -> Account | None:
    """An account by external id, else by Alice Blue user id (the tokens file's and commands' `userId`)."""
    account = Account.objects.filter(account_id=user_id).first()
    if account is not None:
        return account
    matches = list(Account.objects.filter(client_id__iexact=user_id)[:2])
    return matches[0] if len(matches) == 1 else None


def master_get_active() -> Account | None:
    return (
        Account.objects.filter(role=Account.Role.MASTER, status=Account.Status.ACTIVE)
        .select_related("credential")
        .first()
    )


def credential_of(account: Account) -> BrokerCredential | None:
    try:
        return account.credential
    except BrokerCredential.DoesNotExist:
        return None


def broker_calls_allowed(credential: BrokerCredential | None) -> bool:
    """Whether a broker call with this session is worth making: not when it is missing or known expired."""
    if credential is None:
        return False
    return credential.session_status not in (
        BrokerCredential.SessionStatus.EXPIRED,
        BrokerCredential.SessionStatus.MISSING,
    )


def accounts_with_token() -> list[Account]:
    """Accounts that hold a session token, master first (the seed's /api/admin/accounts list)."""
    accounts = Account.objects.select_related("credential").filter(credential__isnull=False)
    found = [a for a in accounts if a.credential.session_token]
    return sorted(found, key=lambda a: (not a.is_master, a.account_id))


def account_ids_to_check() -> list[int]:
    """Active accounts with a stored session: what the pre-market session check verifies."""
    return list(
        Account.objects.filter(status=Account.Status.ACTIVE, credential__isnull=False)
        .exclude(Q(credential__session_status=BrokerCredential.SessionStatus.MISSING))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def master_settings_get() -> MasterSettings:
    """The settings row (defaults when it was never saved; not written here)."""
    return MasterSettings.objects.filter(pk=MasterSettings.SINGLETON_ID).first() or MasterSettings()


def credential_session_token(credential: BrokerCredential | None) -> str:
    """The decrypted session token ('' without one); CredentialUnreadable when it cannot be decrypted."""
    if credential is None:
        return ""
    try:
        return credential.session_token
    except DecryptionError as exc:
        logger.error("credential of account #%s cannot be decrypted: %s", credential.account_id, exc)
        raise CredentialUnreadable() from exc


def account_broker_session(*, account: Account):
    """The broker Session built from the account's decrypted credential; SessionMissing without one
    (CredentialUnreadable, a SessionMissing, when it cannot be decrypted)."""
    from broker.types import ApiFlavor, Session

    token = credential_session_token(credential_of(account))
    if not token:
        raise SessionMissing(f"No broker session for {account.account_id}: log in with Alice Blue first")
    return Session(
        user_id=account.client_id or account.account_id,
        token=token,
        flavor=ApiFlavor(account.api_flavor),
        client_id=account.client_id,
    )


def account_broker_client(*, account: Account) -> AliceBlueClient:
    """A broker client acting with the account's session (the replication engine's entry point)."""
    from broker.conf import client_from_settings

    session = account_broker_session(account=account)
    return client_from_settings(flavor=account.api_flavor, session=session)


def broker_budget_report() -> dict[str, Any]:
    """How much of the budget of non-order calls the active accounts have used (for /api/health): the
    busiest account's use, and how many accounts are above half and out of budget. No account ids."""
    from broker.conf import call_budget

    budget = call_budget()
    if budget is None:
        return {"ok": True, "enabled": False}
    keys = [
        client_id or account_id
        for account_id, client_id in Account.objects.filter(status=Account.Status.ACTIVE).values_list(
            "account_id", "client_id"
        )
    ]
    uses = [budget.use(key) for key in keys]
    limit = budget.rate.amount
    return {
        "ok": True,
        "enabled": True,
        "limit": str(budget.rate),
        "storage": budget.storage_kind,
        "accounts": len(uses),
        "busiestUsed": max((use.used for use in uses), default=0),
        "accountsAboveHalf": sum(1 for use in uses if use.used * 2 > limit),
        "accountsExhausted": sum(1 for use in uses if use.remaining == 0),
    }
