"""Daily Alice Blue sessions: vendor login, legacy API-key login, stored tokens, and session checks.

Broker calls happen outside database transactions; the result is written afterwards under a row lock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts.exceptions import LoginNotConfigured, LoginRefused, SessionMissing
from accounts.models import Account, BrokerCredential
from accounts.selectors import account_broker_client, credential_of
from accounts.services.audit import audit_record
from broker.exceptions import BrokerAuthError, BrokerError
from copytrade.core.exceptions import UpstreamFailed

logger = logging.getLogger(__name__)

PENDING_LOGIN_SESSION_KEY = "accounts.vendor_login.account_id"


def _broker_client(flavor: str):
    from broker.conf import client_from_settings

    return client_from_settings(flavor=flavor)


@sensitive_variables("token", "api_key")
@transaction.atomic
def account_session_store(
    *, account: Account, token: str, actor: str, source: str, verified: bool, api_key: str | None = None
) -> BrokerCredential:
    """Store a new session token (encrypted) as VALID; `verified` when the broker just issued it."""
    now = timezone.now()
    credential, _ = BrokerCredential.objects.select_for_update().get_or_create(account=account)
    credential.access_token = token
    credential.broker_session_id = ""
    if api_key is not None:
        credential.api_key = api_key
    credential.session_status = BrokerCredential.SessionStatus.VALID
    credential.session_obtained_at = now
    credential.last_verified_at = now if verified else None
    credential.last_error = ""
    credential.save()
    audit_record(
        actor=actor,
        action="session.stored",
        target=account.account_id,
        details={"source": source, "verified": verified},
    )
    logger.info("session stored for %s (source=%s)", account.account_id, source)
    return credential


def vendor_login_url() -> str:
    """ALICE_LOGIN_URL with ?appcode=ALICE_APP_CODE."""
    if not settings.ALICE_APP_CODE or not settings.ALICE_LOGIN_URL:
        raise LoginNotConfigured()
    parts = urlsplit(settings.ALICE_LOGIN_URL)
    query = f"{parts.query}&" if parts.query else ""
    return urlunsplit(parts._replace(query=query + urlencode({"appcode": settings.ALICE_APP_CODE})))


def _account_for_login(*, user_id: str, pending_account_id: str | None) -> Account:
    by_user = list(Account.objects.filter(client_id__iexact=user_id)[:2])
    if len(by_user) > 1:
        raise LoginRefused(f"More than one account has Alice Blue user id {user_id}; fix the accounts first")
    if pending_account_id:
        account = Account.objects.filter(account_id=pending_account_id).first()
        if account is None:
            raise LoginRefused(f"Account {pending_account_id} no longer exists")
        if account.client_id and account.client_id.upper() != user_id.upper():
            raise LoginRefused(
                f"Alice Blue logged in user {user_id}, but the login was started for {account.account_id} "
                f"(user {account.client_id}); nothing was stored"
            )
        if by_user and by_user[0].pk != account.pk:
            raise LoginRefused(
                f"User {user_id} belongs to account {by_user[0].account_id}; nothing was stored"
            )
        return account
    if not by_user:
        raise LoginRefused(
            f"No account has Alice Blue user id {user_id}; add it (or start the login from it) first"
        )
    return by_user[0]


@sensitive_variables("auth_code", "session")
def vendor_login_complete(
    *, user_id: str, auth_code: str, pending_account_id: str | None, actor: str
) -> Account:
    """Exchange the callback's authCode for a session and store it on the matching account.

    The account is the one whose client_id is `user_id`, or the one the login was started for; when they
    disagree nothing is stored. The account's role is never changed (a login never makes a master).
    """
    if not user_id or not auth_code:
        raise LoginRefused("The callback needs authCode and userId")
    if not settings.ALICE_API_SECRET:
        raise LoginNotConfigured()
    account = _account_for_login(user_id=user_id, pending_account_id=pending_account_id)
    try:
        session = _broker_client(account.api_flavor).session_from_auth_code(
            user_id=user_id, auth_code=auth_code, api_secret=settings.ALICE_API_SECRET
        )
    except BrokerError as exc:
        logger.warning("vendor login for %s failed: %s", account.account_id, exc.code)
        audit_record(
            actor=actor,
            action="session.login_failed",
            target=account.account_id,
            details={"source": "vendor", "error": exc.code},
        )
        raise UpstreamFailed(f"Alice Blue did not accept the login: {exc.message}") from exc
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=account.pk)
        if not locked.client_id:
            locked.client_id = user_id
            locked.save(update_fields=["client_id", "updated_at"])
        account_session_store(
            account=locked, token=session.token, actor=actor, source="vendor", verified=True
        )
    return locked


@sensitive_variables("api_key", "key", "session", "credential")
def account_session_from_api_key(
    *, account: Account, actor: str, api_key: str | None = None
) -> BrokerCredential:
    """Legacy API-key login (getAPIEncpkey + getUserSID); the account switches to the legacy API.

    Uses `api_key` when given (and stores it), else the stored key. Needs today's browser login first.
    """
    credential = credential_of(account)
    key = api_key or (credential.api_key if credential else "")
    if not key:
        raise SessionMissing(f"{account.account_id} has no API key stored; give one", code="api_key_missing")
    if not account.client_id:
        raise SessionMissing(
            f"{account.account_id} has no Alice Blue user id (client_id)", code="client_id_missing"
        )
    try:
        session = _broker_client(Account.ApiFlavor.LEGACY).session_from_api_key(
            user_id=account.client_id, api_key=key
        )
    except BrokerError as exc:
        audit_record(
            actor=actor,
            action="session.login_failed",
            target=account.account_id,
            details={"source": "api_key", "error": exc.code},
        )
        raise UpstreamFailed(f"Alice Blue did not issue a session: {exc.message}") from exc
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=account.pk)
        if locked.api_flavor != Account.ApiFlavor.LEGACY:
            locked.api_flavor = Account.ApiFlavor.LEGACY
            locked.save(update_fields=["api_flavor", "updated_at"])
        return account_session_store(
            account=locked, token=session.token, actor=actor, source="api_key", verified=True, api_key=api_key
        )


def account_session_from_auth_code(*, account: Account, auth_code: str, actor: str) -> BrokerCredential:
    """Vendor exchange for an authCode obtained elsewhere (pasted into `tokens add --auth-code-stdin`)."""
    if not account.client_id:
        raise SessionMissing(
            f"{account.account_id} has no Alice Blue user id (client_id)", code="client_id_missing"
        )
    vendor_login_complete(
        user_id=account.client_id, auth_code=auth_code, pending_account_id=account.account_id, actor=actor
    )
    return BrokerCredential.objects.get(account=account)


@dataclass(frozen=True)
class SessionCheckResult:
    account_id: str
    status: str  # VALID | EXPIRED | MISSING | ERROR (broker unreachable: status left unchanged)
    message: str = ""
    client_id: str = ""


@sensitive_variables("token", "credential", "locked")
def account_session_check(*, account: Account, actor: str) -> SessionCheckResult:
    """Verify the account's session with a read call (profile) and record VALID or EXPIRED."""
    credential = credential_of(account)
    token = credential.session_token if credential else ""
    if not token:
        if credential is not None and credential.session_status != BrokerCredential.SessionStatus.MISSING:
            BrokerCredential.objects.filter(pk=credential.pk).update(
                session_status=BrokerCredential.SessionStatus.MISSING, updated_at=timezone.now()
            )
        audit_record(
            actor=actor, action="session.checked", target=account.account_id, details={"result": "MISSING"}
        )
        return SessionCheckResult(account.account_id, "MISSING", "No session stored")
    try:
        profile = account_broker_client(account=account).profile()
    except BrokerAuthError as exc:
        result = SessionCheckResult(account.account_id, "EXPIRED", exc.message or "Session expired")
    except BrokerError as exc:
        result = SessionCheckResult(account.account_id, "ERROR", exc.message or exc.code)
    else:
        result = SessionCheckResult(account.account_id, "VALID", "Connected", client_id=profile.client_id)
    with transaction.atomic():
        locked = BrokerCredential.objects.select_for_update().get(pk=credential.pk)
        if locked.session_token != token:
            # A new session arrived while we checked the old one: leave the new one alone.
            return result
        now = timezone.now()
        if result.status == "VALID":
            locked.session_status = BrokerCredential.SessionStatus.VALID
            locked.last_verified_at = now
            locked.last_error = ""
        elif result.status == "EXPIRED":
            locked.session_status = BrokerCredential.SessionStatus.EXPIRED
            locked.last_error = result.message[:500]
        else:
            locked.last_error = result.message[:500]
        locked.save(update_fields=["session_status", "last_verified_at", "last_error", "updated_at"])
        audit_record(
            actor=actor,
            action="session.checked",
            target=account.account_id,
            details={"result": result.status},
        )
    logger.info("session check for %s: %s", account.account_id, result.status)
    return result


def account_session_mark_expired(*, account: Account, reason: str) -> None:
    """Mark the session EXPIRED (the broker refused it during trading)."""
    BrokerCredential.objects.filter(account=account).update(
        session_status=BrokerCredential.SessionStatus.EXPIRED,
        last_error=reason[:500],
        updated_at=timezone.now(),
    )


@transaction.atomic
def master_disconnect(*, actor: str) -> Account | None:
    """Forget the active master's session (the account and its role stay); no master is a no-op."""
    master = (
        Account.objects.select_for_update()
        .filter(role=Account.Role.MASTER, status=Account.Status.ACTIVE)
        .first()
    )
    if master is None:
        return None
    credential = BrokerCredential.objects.select_for_update().filter(account=master).first()
    if credential is not None:
        credential.access_token = ""
        credential.broker_session_id = ""
        credential.session_status = BrokerCredential.SessionStatus.MISSING
        credential.session_obtained_at = None
        credential.last_verified_at = None
        credential.save()
    audit_record(actor=actor, action="master.disconnected", target=master.account_id, details={})
    return master
