"""Reads of the accounts app, and the broker client for an account's stored session."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from accounts.consent_links import consent_link_payload
from accounts.encryption import DecryptionError
from accounts.exceptions import ConsentLinkGone, CredentialUnreadable, FollowerNotFound, SessionMissing
from accounts.models import Account, BrokerCredential, Consent, MasterSettings, RiskConfig
from copytrade.core.exceptions import NotFound

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from broker.client import AliceBlueClient
    from broker.types import Session


def market_today() -> date:
    return timezone.now().astimezone(ZoneInfo(settings.MARKET_TIME_ZONE)).date()


def market_day_start(*, now: datetime | None = None) -> datetime:
    """Midnight of today's market day (Asia/Kolkata), as an aware datetime."""
    zone = ZoneInfo(settings.MARKET_TIME_ZONE)
    local = (now or timezone.now()).astimezone(zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def session_state(
    credential: BrokerCredential | None, *, now: datetime | None = None
) -> BrokerCredential.SessionStatus:
    """The session's effective state, the one truth the API, the CLI and the admin show.

    VALID only when a read call succeeded today (Asia/Kolkata); a VALID session not verified today, or a
    stored token no call has proven yet, is UNVERIFIED; else EXPIRED or MISSING.
    """
    status = BrokerCredential.SessionStatus
    if credential is None or credential.session_status == status.MISSING:
        return status.MISSING
    if credential.session_status == status.EXPIRED:
        return status.EXPIRED
    verified = credential.last_verified_at
    if (
        credential.session_status == status.VALID
        and verified is not None
        and verified >= market_day_start(now=now)
    ):
        return status.VALID
    return status.UNVERIFIED


def session_ready_today(credential: BrokerCredential | None, *, now: datetime | None = None) -> bool:
    """VALID and verified today (Asia/Kolkata): the account can trade this session."""
    return session_state(credential, now=now) == BrokerCredential.SessionStatus.VALID


def broker_calls_allowed(credential: BrokerCredential | None) -> bool:
    """Whether the replication engine may call Alice Blue with this session (VALID or UNVERIFIED + a token).

    An UNVERIFIED session is tried: the call itself is the check (account_session_mark_verified or
    account_session_mark_expired record its outcome).
    """
    if credential is None or not credential.has_session_token:
        return False
    return credential.session_status in (
        BrokerCredential.SessionStatus.VALID,
        BrokerCredential.SessionStatus.UNVERIFIED,
    )


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


def account_capital_today(account: Account) -> Decimal | None:
    """The account's capital for capital sizing today: its fixed capital, or the broker's opening cash read
    this trading day (Asia/Kolkata); None when unknown (not read yet today, or no fixed amount)."""
    if account.capital_source == Account.CapitalSource.FIXED:
        return account.fixed_capital
    if account.broker_capital_day == market_today():
        return account.broker_capital
    return None


def master_get_active() -> Account | None:
    return (
        Account.objects.filter(role=Account.Role.MASTER, status=Account.Status.ACTIVE)
        .select_related("credential")
        .first()
    )


@dataclass(frozen=True)
class AccountHistory:
    """The trading rows that refer to an account (they keep it: an order's account never disappears)."""

    order_mappings: int
    master_trades: int

    @property
    def empty(self) -> bool:
        return not (self.order_mappings or self.master_trades)

    def __str__(self) -> str:
        parts = [
            f"{count} {noun}{'' if count == 1 else 's'}"
            for count, noun in ((self.order_mappings, "order mapping"), (self.master_trades, "master trade"))
            if count
        ]
        return ", ".join(parts) or "none"


def account_history(*, account: Account) -> AccountHistory:
    """Order mappings (as a follower) and captured master trades (as the master) of `account`."""
    return AccountHistory(
        order_mappings=account.order_mappings.count(), master_trades=account.master_trades.count()
    )


def credential_of(account: Account) -> BrokerCredential | None:
    try:
        return account.credential
    except BrokerCredential.DoesNotExist:
        return None


def accounts_with_token() -> list[Account]:
    """Accounts that hold a session token, master first (the seed's /api/admin/accounts list)."""
    accounts = Account.objects.select_related("credential").filter(credential__isnull=False)
    found = [a for a in accounts if a.credential.session_token]
    return sorted(found, key=lambda a: (not a.is_master, a.account_id))


def account_ids_to_check() -> list[int]:
    """Active accounts with a stored session (VALID, UNVERIFIED or EXPIRED) or a replacement token waiting:
    what the pre-market session check verifies."""
    status = BrokerCredential.SessionStatus
    stored = Q(credential__session_status__in=[status.VALID, status.UNVERIFIED, status.EXPIRED]) | Q(
        credential__pending_since__isnull=False
    )
    return list(
        Account.objects.filter(status=Account.Status.ACTIVE, credential__isnull=False)
        .filter(stored)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def consent_link_read(*, token: str) -> tuple[Account, str]:
    """The follower a consent link is for, and its nonce; ConsentLinkInvalid (400) or ConsentLinkGone (410)
    when the link is forged, tampered with, expired, or its follower is gone. The nonce is compared by the
    caller, under the consent row's lock."""
    account_pk, nonce = consent_link_payload(token)
    account = Account.objects.filter(pk=account_pk, role=Account.Role.FOLLOWER).first()
    if account is None:
        raise ConsentLinkGone()
    return account, nonce


def consent_link_is_current(*, account: Account, nonce: str) -> bool:
    """Whether `nonce` is the follower's current link nonce (a newer link or a revocation replaces it)."""
    current = Consent.objects.filter(account=account).values_list("link_nonce", flat=True).first() or ""
    return bool(current) and constant_time_compare(current, nonce)


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


def account_broker_session(*, account: Account, token: str | None = None) -> Session:
    """The broker Session built from the account's decrypted credential (or the given `token`, e.g. a
    replacement being checked); SessionMissing without one (CredentialUnreadable, a SessionMissing, when it
    cannot be decrypted)."""
    from broker.types import ApiFlavor, Session

    if token is None:
        token = credential_session_token(credential_of(account))
    if not token:
        raise SessionMissing(f"No broker session for {account.account_id}: log in with Alice Blue first")
    return Session(
        user_id=account.client_id or account.account_id,
        token=token,
        flavor=ApiFlavor(account.api_flavor),
        client_id=account.client_id,
    )


def account_broker_client(*, account: Account, token: str | None = None) -> AliceBlueClient:
    """A broker client acting with the account's session (the replication engine's entry point), or with
    `token` instead of the stored one."""
    from broker.conf import client_from_settings

    session = account_broker_session(account=account, token=token)
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
