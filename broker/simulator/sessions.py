"""Accounts, daily logins, authCodes, encKeys and sessions (JWT-looking tokens valid for both flavours)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import string
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from broker.simulator.state import Account, AuthCode, SimSession, SimState

JWT_LIFETIME = timedelta(days=60)
JWT_ISSUER = "https://idaas.aliceblueonline.com/idaas/realms/AliceBlue"


def sha256_hex(text: str) -> str:
    """Lower-case hex SHA-256 of a UTF-8 string."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_jwt(state: SimState, account: Account) -> str:
    """An RS256-looking JWT (header.payload.signature); the signature is random bytes."""
    issued = int(state.clock.now().timestamp())
    header = {"alg": "RS256", "typ": "JWT", "kid": "sim-" + secrets.token_hex(8)}
    payload = {
        "exp": issued + int(JWT_LIFETIME.total_seconds()),
        "iat": issued,
        "jti": str(uuid.uuid4()),
        "iss": JWT_ISSUER,
        "sub": str(uuid.uuid4()),
        "typ": "Bearer",
        "azp": "alice-kb",
        "sid": str(uuid.uuid4()),
        "ucc": account.client_id,
        "clientRole": ["user"],
        "name": account.name,
        "preferred_username": account.user_id.lower(),
    }
    parts = [
        _b64url(json.dumps(header, separators=(",", ":")).encode()),
        _b64url(json.dumps(payload, separators=(",", ":")).encode()),
        _b64url(secrets.token_bytes(256)),
    ]
    return ".".join(parts)


def account_upsert(state: SimState, fields: dict[str, Any]) -> Account:
    """Create or update an account from /sim/accounts fields (camelCase)."""
    user_id = str(fields["userId"]).strip().upper()
    account = state.accounts.get(user_id)
    if account is None:
        account = Account(
            user_id=user_id,
            client_id=str(fields.get("clientId") or next(state.client_sequence)),
            name=str(fields.get("name") or f"SIM USER {user_id}"),
            api_key=str(fields.get("apiKey") or secrets.token_hex(24)),
        )
        state.accounts[user_id] = account
    updates = {
        "apiKey": "api_key",
        "apiSecret": "api_secret",
        "appCode": "app_code",
        "redirectUrl": "redirect_url",
        "clientId": "client_id",
        "name": "name",
    }
    for key, attribute in updates.items():
        if fields.get(key) is not None:
            setattr(account, attribute, str(fields[key]))
    if fields.get("cash") is not None:
        account.cash = Decimal(str(fields["cash"]))
    return account


def account_login(state: SimState, account: Account, *, app_code: str = "") -> AuthCode:
    """The user's daily browser/TOTP login: marks them logged in today and issues a one-time authCode."""
    account.logged_in_day = state.clock.today()
    code = AuthCode(
        code="".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(20)),
        user_id=account.user_id,
        app_code=app_code or account.app_code or state.options.app_code,
        issued_at=time.monotonic(),
    )
    state.auth_codes[code.code] = code
    return code


def is_logged_in_today(state: SimState, account: Account) -> bool:
    return account.logged_in_day == state.clock.today()


def session_issue(state: SimState, account: Account, *, opaque: bool = False) -> SimSession:
    """A new session for the account (JWT by default, an opaque legacy sessionID when `opaque`)."""
    account.logged_in_day = state.clock.today()
    token = secrets.token_hex(32).upper() if opaque else make_jwt(state, account)
    session = SimSession(token=token, user_id=account.user_id, day=state.clock.today())
    state.sessions[token] = session
    return session


def sessions_expire(state: SimState, user_id: str | None = None) -> int:
    """Expire every session (of one user when given); returns how many."""
    count = 0
    for session in state.sessions.values():
        if (user_id is None or session.user_id == user_id.upper()) and not session.expired:
            session.expired = True
            count += 1
    return count


def session_lookup(state: SimState, token: str) -> SimSession | None:
    """The live session of a token, or None (unknown, expired or from an earlier trading day)."""
    session = state.sessions.get(token)
    if session is None or session.expired or session.day != state.clock.today():
        return None
    return session


def _app_secrets(state: SimState, code: AuthCode, account: Account | None) -> list[str]:
    candidates = []
    if code.app_code == state.options.app_code:
        candidates.append(state.options.api_secret)
    for other in state.accounts.values():
        if other.app_code == code.app_code and other.api_secret:
            candidates.append(other.api_secret)
    if account and account.api_secret:
        candidates.append(account.api_secret)
    return candidates


@dataclass(frozen=True)
class VendorExchange:
    """Outcome of a getUserDetails checksum: the account, or the documented emsg."""

    account: Account | None
    emsg: str = ""


def vendor_exchange(state: SimState, checksum: str) -> VendorExchange:
    """Find the authCode whose sha256(userId+authCode+apiSecret) is `checksum` and consume it."""
    wanted = checksum.strip().lower()
    ttl = state.config.auth_code_ttl_seconds
    for code in list(state.auth_codes.values()):
        account = state.account(code.user_id)
        secrets_ = _app_secrets(state, code, account)
        if not any(sha256_hex(code.user_id + code.code + s) == wanted for s in secrets_):
            continue
        if code.used or time.monotonic() - code.issued_at > ttl or account is None:
            return VendorExchange(None, "Invalid auth code")
        code.used = True
        if not is_logged_in_today(state, account):
            return VendorExchange(None, "User does not login. Please login")
        return VendorExchange(account)
    return VendorExchange(None, "Invalid auth code")
