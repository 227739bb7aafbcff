"""Daily Alice Blue sessions: vendor login, legacy API-key login, stored tokens, and session checks.

Session states (`accounts.selectors.session_state`): a token issued by a login flow is VALID and verified
now; a pasted or imported token is UNVERIFIED until a read call proves it, and is checked in the background
at once. A token pasted over a session that works today waits as a *replacement* (`pending_session_token`):
the working session stays in use until a check accepts the new one, and a refused one is discarded.

Broker calls happen outside database transactions; the result is written afterwards under a row lock.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts.dispatch import session_check_enqueue
from accounts.encryption import DecryptionError
from accounts.exceptions import LoginNotConfigured, LoginRefused, SessionMissing
from accounts.models import Account, BrokerCredential
from accounts.selectors import (
    account_broker_client,
    credential_of,
    credential_session_token,
    market_day_start,
    session_state,
)
from accounts.services.audit import SYSTEM_ACTOR, audit_record
from accounts.validators import API_KEY_MAX_LENGTH, TOKEN_MAX_LENGTH, is_header_safe, secret_check
from broker.exceptions import BrokerAuthError, BrokerError
from broker.types import ApiFlavor
from copytrade.core.exceptions import UpstreamFailed

if TYPE_CHECKING:
    from broker.client import AliceBlueClient

logger = logging.getLogger(__name__)

PENDING_LOGIN_SESSION_KEY = "accounts.vendor_login.account_id"
REPLACEMENT_REFUSED = "Replacement token refused by Alice Blue; the working session was kept"
UNSENDABLE_SESSION = "Stored session token cannot be sent to Alice Blue (not printable ASCII): replace it"

# What a stored token did to the session (audit details, API answers).
REPLACED = "replaced"  # the new token is the session now
PENDING = "pending"  # the working session stays; the new token waits for a check
UNCHANGED = "unchanged"  # the same token again
CLEARED = "cleared"  # no session any more


def _broker_client(flavor: str) -> AliceBlueClient:
    from broker.conf import client_from_settings

    return client_from_settings(flavor=flavor)


def _session_works_today(credential: BrokerCredential) -> bool:
    return session_state(credential) == BrokerCredential.SessionStatus.VALID


def _decrypted_or_empty(credential: BrokerCredential, name: str) -> str:
    try:
        return getattr(credential, name)
    except DecryptionError:
        # An unreadable stored value is replaced like a missing one.
        return ""


def _pending_clear(credential: BrokerCredential) -> None:
    credential.pending_session_token = ""
    credential.pending_since = None


@sensitive_variables("access_token", "broker_session_id", "effective", "current")
def session_token_apply(
    credential: BrokerCredential,
    *,
    access_token: str | None,
    broker_session_id: str | None,
    now: datetime,
    keep_working_session: bool = True,
) -> str:
    """Apply pasted session values (None keeps a field) to a locked, unsaved credential; returns REPLACED,
    PENDING, UNCHANGED or CLEARED.

    A different token over a session that works today becomes the pending replacement when
    `keep_working_session`; otherwise it replaces the session as UNVERIFIED.
    """
    if access_token is None and broker_session_id is None:
        return UNCHANGED
    current = _decrypted_or_empty(credential, "broker_session_id") or _decrypted_or_empty(
        credential, "access_token"
    )
    new_access = access_token if access_token is not None else _decrypted_or_empty(credential, "access_token")
    new_session_id = (
        broker_session_id
        if broker_session_id is not None
        else _decrypted_or_empty(credential, "broker_session_id")
    )
    effective = new_session_id or new_access
    if not effective:
        credential.access_token = credential.broker_session_id = ""
        _pending_clear(credential)
        credential.session_status = BrokerCredential.SessionStatus.MISSING
        credential.session_obtained_at = credential.last_verified_at = None
        return CLEARED
    if effective == current:
        # The session does not change; only the unused field may (e.g. an access token beside a session id).
        credential.access_token, credential.broker_session_id = new_access, new_session_id
        _pending_clear(credential)
        return UNCHANGED
    if keep_working_session and _session_works_today(credential):
        credential.pending_session_token = effective
        credential.pending_since = now
        return PENDING
    credential.access_token, credential.broker_session_id = new_access, new_session_id
    _pending_clear(credential)
    credential.session_status = BrokerCredential.SessionStatus.UNVERIFIED
    credential.session_obtained_at = now
    credential.last_verified_at = None
    credential.last_error = ""
    return REPLACED


def session_check_needed(credential: BrokerCredential, outcome: str) -> bool:
    """Whether a background check should follow a write: a new or pending token, or an unproven session."""
    if outcome in (REPLACED, PENDING):
        return True
    return credential.has_session_token and not _session_works_today(credential)


@sensitive_variables("token", "api_key")
@transaction.atomic
def account_session_store(
    *, account: Account, token: str, actor: str, source: str, verified: bool, api_key: str | None = None
) -> BrokerCredential:
    """Store a session token (encrypted).

    `verified`: the broker just issued it in a login flow, so it is VALID and verified now. Otherwise (pasted,
    imported) it is UNVERIFIED, or the pending replacement of a session that works today, and a session
    check is enqueued on commit. ValidationFailed when the token cannot be sent in an HTTP header.
    """
    secret_check(field="token", value=token, max_length=TOKEN_MAX_LENGTH)
    if api_key is not None:
        secret_check(field="api_key", value=api_key, max_length=API_KEY_MAX_LENGTH)
    now = timezone.now()
    credential, _ = BrokerCredential.objects.select_for_update().get_or_create(account=account)
    if api_key is not None:
        credential.api_key = api_key
    if verified:
        credential.access_token = token
        credential.broker_session_id = ""
        _pending_clear(credential)
        credential.session_status = BrokerCredential.SessionStatus.VALID
        credential.session_obtained_at = now
        credential.last_verified_at = now
        credential.last_error = ""
        outcome = REPLACED
    else:
        outcome = session_token_apply(credential, access_token=token, broker_session_id="", now=now)
    credential.save()
    audit_record(
        actor=actor,
        action="session.stored",
        target=account.account_id,
        details={"source": source, "verified": verified, "session": outcome},
    )
    logger.info("session stored for %s (source=%s, %s)", account.account_id, source, outcome)
    if not verified and session_check_needed(credential, outcome):
        session_check_enqueue(account_pk=account.pk)
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
        session = _broker_client(ApiFlavor.LEGACY).session_from_api_key(
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
        if locked.api_flavor != ApiFlavor.LEGACY:
            locked.api_flavor = ApiFlavor.LEGACY
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
    replacement: str = ""  # "" | replaced | refused | pending (a replacement token's fate in this check)


@sensitive_variables("token", "locked")
def _replacement_check(*, account: Account, token: str, actor: str) -> tuple[str, str]:
    """Try the pending replacement `token` with a read call; promote or discard it. Returns (outcome,
    client id): replaced, refused, pending (broker unreachable: left for the next check), or gone (a newer
    replacement arrived meanwhile)."""
    client_id = ""
    if not is_header_safe(token):
        outcome = "refused"
    else:
        try:
            client_id = account_broker_client(account=account, token=token).profile().client_id
        except BrokerAuthError:
            outcome = "refused"
        except BrokerError as exc:
            logger.info("replacement session check for %s not done: %s", account.account_id, exc.code)
            return "pending", ""
        else:
            outcome = "replaced"
    with transaction.atomic():
        locked = BrokerCredential.objects.select_for_update().get(account=account)
        if _decrypted_or_empty(locked, "pending_session_token") != token:
            return "gone", ""
        now = timezone.now()
        if outcome == "replaced":
            locked.access_token = token
            locked.broker_session_id = ""
            locked.session_obtained_at = locked.pending_since or now
            locked.session_status = BrokerCredential.SessionStatus.VALID
            locked.last_verified_at = now
            locked.last_error = ""
        else:
            locked.last_error = REPLACEMENT_REFUSED
        _pending_clear(locked)
        locked.save()
        audit_record(
            actor=actor,
            action="session.replaced" if outcome == "replaced" else "session.replacement_refused",
            target=account.account_id,
            details={},
        )
    if outcome == "replaced":
        logger.info("replacement session of %s passed its check and is in use", account.account_id)
    else:
        logger.warning(
            "replacement session of %s refused by Alice Blue; kept the old one", account.account_id
        )
    return outcome, client_id


@sensitive_variables("token", "pending", "credential", "locked")
def account_session_check(*, account: Account, actor: str) -> SessionCheckResult:
    """Verify the account's session with a read call (profile) and record VALID or EXPIRED.

    A pending replacement token is tried first: accepted, it becomes the session (VALID); refused, it is
    discarded and the working session is checked as usual; broker unreachable, it stays pending.
    """
    credential = BrokerCredential.objects.filter(account=account).first()
    replacement = ""
    pending = _decrypted_or_empty(credential, "pending_session_token") if credential else ""
    if pending:
        replacement, client_id = _replacement_check(account=account, token=pending, actor=actor)
        if replacement == "replaced":
            return SessionCheckResult(account.account_id, "VALID", "Connected", client_id, replacement)
        if replacement == "pending":
            # Alice Blue did not answer: nothing is known about either token until the next check.
            message = "Alice Blue unreachable; the replacement token waits for the next check"
            return SessionCheckResult(account.account_id, "ERROR", message, replacement=replacement)
        credential = BrokerCredential.objects.filter(account=account).first()
    replacement = "" if replacement == "gone" else replacement
    token = credential_session_token(credential)
    if credential is None or not token:
        if credential is not None and credential.session_status != BrokerCredential.SessionStatus.MISSING:
            BrokerCredential.objects.filter(pk=credential.pk).update(
                session_status=BrokerCredential.SessionStatus.MISSING, updated_at=timezone.now()
            )
        audit_record(
            actor=actor, action="session.checked", target=account.account_id, details={"result": "MISSING"}
        )
        return SessionCheckResult(account.account_id, "MISSING", "No session stored", replacement=replacement)
    if not is_header_safe(token):
        result = SessionCheckResult(account.account_id, "EXPIRED", UNSENDABLE_SESSION)
    else:
        try:
            profile = account_broker_client(account=account, token=token).profile()
        except BrokerAuthError as exc:
            result = SessionCheckResult(account.account_id, "EXPIRED", exc.message or "Session expired")
        except BrokerError as exc:
            result = SessionCheckResult(account.account_id, "ERROR", exc.message or exc.code)
        else:
            result = SessionCheckResult(account.account_id, "VALID", "Connected", client_id=profile.client_id)
    result = dataclasses.replace(result, replacement=replacement)
    with transaction.atomic():
        locked = BrokerCredential.objects.select_for_update().get(pk=credential.pk)
        if (locked.broker_session_id or locked.access_token) != token:
            # A new session arrived while we checked the old one: leave the new one alone.
            return result
        now = timezone.now()
        if result.status == "VALID":
            locked.session_status = BrokerCredential.SessionStatus.VALID
            locked.last_verified_at = now
            locked.last_error = REPLACEMENT_REFUSED if replacement == "refused" else ""
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
            details={"result": result.status, **({"replacement": replacement} if replacement else {})},
        )
    logger.info("session check for %s: %s", account.account_id, result.status)
    return result


def _same_session(account: Account) -> Q:
    """Only the session the caller used (the credential cached on `account`, if any): a session stored
    meanwhile has another `session_obtained_at` and is left alone."""
    if not Account.credential.is_cached(account):
        return Q()
    try:
        cached = account.credential
    except BrokerCredential.DoesNotExist:
        return Q()
    if cached.session_obtained_at is None:
        return Q(session_obtained_at__isnull=True)
    return Q(session_obtained_at=cached.session_obtained_at)


@sensitive_variables("locked")
def account_session_mark_expired(*, account: Account, reason: str) -> bool:
    """Mark the session EXPIRED (the broker refused it during trading); True when the status changed.

    One conditional UPDATE, so only the first caller logs (one WARNING); a session stored since the caller
    loaded the account is not touched. A replacement token waiting for its check takes over at once (as
    UNVERIFIED, checked in the background): the session it was to replace no longer works.
    """
    status = BrokerCredential.SessionStatus
    now = timezone.now()
    with transaction.atomic():
        changed = (
            BrokerCredential.objects.filter(
                _same_session(account),
                account_id=account.pk,
                session_status__in=[status.VALID, status.UNVERIFIED],
            ).update(session_status=status.EXPIRED, last_error=reason[:500], updated_at=now)
            > 0
        )
        if not changed:
            return False
        audit_record(actor=SYSTEM_ACTOR, action="session.expired", target=account.account_id, details={})
        locked = BrokerCredential.objects.select_for_update().get(account_id=account.pk)
        pending = _decrypted_or_empty(locked, "pending_session_token")
        if pending:
            locked.access_token = pending
            locked.broker_session_id = ""
            locked.session_obtained_at = locked.pending_since or now
            locked.session_status = status.UNVERIFIED
            locked.last_verified_at = None
            locked.last_error = f"{reason[:300]}; the replacement token is in use now, unverified"
            _pending_clear(locked)
            locked.save()
            session_check_enqueue(account_pk=account.pk)
    logger.warning("session of %s marked EXPIRED: %s", account.account_id, reason)
    return True


def account_session_mark_verified(*, account: Account) -> bool:
    """A read call with the session succeeded: UNVERIFIED or not-verified-today VALID becomes VALID, verified
    now (one conditional UPDATE); True when it changed."""
    status = BrokerCredential.SessionStatus
    now = timezone.now()
    stale = (
        Q(session_status=status.UNVERIFIED)
        | Q(session_status=status.VALID, last_verified_at__isnull=True)
        | Q(session_status=status.VALID, last_verified_at__lt=market_day_start(now=now))
    )
    changed = (
        BrokerCredential.objects.filter(stale, _same_session(account), account_id=account.pk).update(
            session_status=status.VALID, last_verified_at=now, updated_at=now
        )
        > 0
    )
    if changed:
        logger.info("session of %s verified by a successful call: VALID", account.account_id)
    return changed


def account_session_note_success(*, account: Account) -> None:
    """A call with the account's session succeeded: record it as verified unless the account's loaded
    credential already says VALID today (then no query at all)."""
    if session_state(credential_of(account)) != BrokerCredential.SessionStatus.VALID:
        account_session_mark_verified(account=account)


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
        _pending_clear(credential)
        credential.session_status = BrokerCredential.SessionStatus.MISSING
        credential.session_obtained_at = None
        credential.last_verified_at = None
        credential.save()
    audit_record(actor=actor, action="master.disconnected", target=master.account_id, details={})
    return master
