"""Session checks and the per-user rate limit of the broker routes."""

from __future__ import annotations

import time

from aiohttp import web

from broker.simulator import envelopes
from broker.simulator.app_keys import STATE_KEY, USER_KEY
from broker.simulator.sessions import session_lookup
from broker.simulator.state import Account, SimState


def _bearer_session(request: web.Request, flavor: str) -> tuple[str, str | None] | None:
    """(token, user id from the header) for a well-formed header of the flavour, else None."""
    parts = request.headers.get("Authorization", "").split()
    if not parts or parts[0].lower() != "bearer":
        return None
    if flavor == envelopes.OPENAPI and len(parts) == 2:
        return parts[1], None
    if flavor == envelopes.LEGACY and len(parts) == 3:
        return parts[2], parts[1].upper()
    return None


def rate_limit_retry_after(state: SimState, user_id: str) -> float | None:
    """Count one non-order request in the user's fixed window; seconds to wait when over the limit."""
    now = time.monotonic()
    window = state.config.rate_window_seconds
    start, count = state.rate_windows.get(user_id, (now, 0))
    if now - start >= window:
        start, count = now, 0
    count += 1
    state.rate_windows[user_id] = (start, count)
    if count > state.config.rate_limit:
        return window - (now - start)
    return None


def access_account(request: web.Request, flavor: str, *, order_route: bool) -> Account | web.Response:
    """The account of a valid session, or the error response to send (401/EC087/Session Expired/429)."""
    state = request.app[STATE_KEY]
    parsed = _bearer_session(request, flavor)
    session = session_lookup(state, parsed[0]) if parsed else None
    if parsed is None or session is None or (parsed[1] and parsed[1] != session.user_id):
        return envelopes.session_expired_response(state, flavor)
    account = state.account(session.user_id)
    if account is None:
        return envelopes.session_expired_response(state, flavor)
    request[USER_KEY] = account.user_id
    if not order_route:
        retry_after = rate_limit_retry_after(state, account.user_id)
        if retry_after is not None:
            return envelopes.rate_limited_response(flavor, retry_after)
    return account


def is_read_only(state: SimState, account: Account) -> bool:
    return account.user_id in {u.upper() for u in state.config.read_only_users}


def header_flavor(request: web.Request) -> str:
    """The flavour of the Authorization header's form (`Bearer <JWT>` or `Bearer <USER> <session>`)."""
    parts = request.headers.get("Authorization", "").split()
    if len(parts) == 3:
        return envelopes.LEGACY
    if len(parts) == 2:
        return envelopes.OPENAPI
    return envelopes.flavor_of(request.path)


def access_account_either(request: web.Request, *, order_route: bool) -> Account | web.Response:
    """access_account for routes both API generations call: either header form, errors in its flavour."""
    return access_account(request, header_flavor(request), order_route=order_route)
