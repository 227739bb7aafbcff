"""The middleware in front of the broker routes: request log, latency, injected faults."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from broker.simulator import envelopes
from broker.simulator.app_keys import STATE_KEY, USER_KEY
from broker.simulator.sessions import sha256_hex
from broker.simulator.state import FaultRule, SimState

logger = logging.getLogger(__name__)

FAULT_MODES = frozenset(
    {
        "http500",
        "html502",
        "html200",
        "timeout_before",
        "timeout_after_accept",
        "drop_after_accept",
        "session_expired",
        "rate_limited",
        "order_rejected",
    }
)
SECRET_KEYS = frozenset(
    {"checksum", "userdata", "apikey", "enckey", "apisecret", "usersession", "sessionid", "password"}
)
MASK = "***"
REQUEST_LOG_LIMIT = 50_000  # a long `make run` must not grow without bound
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def fault_add(state: SimState, fields: dict[str, Any]) -> FaultRule:
    """Register a fault/latency rule from /sim/faults fields."""
    mode = fields.get("mode") or None
    if mode is not None and mode not in FAULT_MODES:
        raise ValueError(f"unknown fault mode {mode!r}")
    count = fields.get("count")
    rule = FaultRule(
        fault_id=str(next(state.fault_sequence)),
        user_id=str(fields["userId"]).upper() if fields.get("userId") else None,
        endpoint=str(fields["endpoint"]) if fields.get("endpoint") else None,
        latency_ms=int(fields.get("latencyMs") or 0),
        mode=mode,
        rate=float(fields["rate"]) if fields.get("rate") is not None else 1.0,
        remaining=int(count) if count is not None else None,
        hold_seconds=float(fields.get("holdSeconds") or 30.0),
    )
    state.faults.append(rule)
    return rule


def fault_as_dict(rule: FaultRule) -> dict[str, Any]:
    return {
        "faultId": rule.fault_id,
        "userId": rule.user_id,
        "endpoint": rule.endpoint,
        "latencyMs": rule.latency_ms,
        "mode": rule.mode,
        "rate": rule.rate,
        "remaining": rule.remaining,
        "holdSeconds": rule.hold_seconds,
    }


def _matching_rules(state: SimState, path: str, user_id: str | None) -> list[FaultRule]:
    matched = []
    for rule in state.faults:
        if rule.remaining is not None and rule.remaining <= 0:
            continue
        if rule.user_id and rule.user_id != user_id:
            continue
        if rule.endpoint and rule.endpoint.lower() not in path.lower():
            continue
        if rule.rate < 1.0 and random.random() >= rule.rate:
            continue
        if rule.remaining is not None:
            rule.remaining -= 1
        matched.append(rule)
    return matched


def mask_secrets(value: Any) -> Any:
    """A copy of a JSON value with every secret-named key's value replaced by ***."""
    if isinstance(value, dict):
        return {k: (MASK if k.lower() in SECRET_KEYS else mask_secrets(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(v) for v in value]
    return value


def _mask_authorization(header: str) -> str:
    parts = header.split()
    if len(parts) == 3:
        return f"{parts[0]} {parts[1]} {MASK}"
    if len(parts) == 2:
        return f"{parts[0]} {MASK}"
    return MASK


def _parse_body(raw: bytes) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _checksum_owner(state: SimState, checksum: str) -> str | None:
    secrets_ = {state.options.api_secret} | {a.api_secret for a in state.accounts.values() if a.api_secret}
    for code in state.auth_codes.values():
        if any(sha256_hex(code.user_id + code.code + s) == checksum.lower() for s in secrets_):
            return code.user_id
    return None


def request_user_hint(state: SimState, request: web.Request, body: Any) -> str | None:
    """The user a broker request is for, from its Authorization header or body (before any auth)."""
    parts = request.headers.get("Authorization", "").split()
    if len(parts) == 3:
        return parts[1].upper()
    if len(parts) == 2:
        session = state.sessions.get(parts[1])
        return session.user_id if session else None
    if isinstance(body, dict):
        if body.get("userId"):
            return str(body["userId"]).upper()
        if body.get("checkSum"):
            return _checksum_owner(state, str(body["checkSum"]))
    return None


def _log_entry(state: SimState, request: web.Request, body: Any) -> dict[str, Any]:
    headers = {k: v for k, v in request.headers.items()}
    for key in list(headers):
        if key.lower() == "authorization":
            headers[key] = _mask_authorization(headers[key])
    return {
        "seq": next(state.request_sequence),
        "time": state.clock.now().isoformat(),
        "method": request.method,
        "path": request.path,
        "query": dict(request.query),
        "headers": headers,
        "body": mask_secrets(body),
        "userId": None,
        "status": None,
    }


async def _fault_response(rule: FaultRule, request: web.Request, state: SimState) -> web.Response | None:
    """The response a pre-processing fault answers with, or None when the request must be processed."""
    flavor = envelopes.flavor_of(request.path)
    if rule.mode == "http500":
        return envelopes.http500_response(request.path)
    if rule.mode == "html502":
        return envelopes.html_response(envelopes.HTML_502, status=502)
    if rule.mode == "html200":
        return envelopes.html_response(envelopes.HTML_SPA, status=200)
    if rule.mode == "session_expired":
        return envelopes.session_expired_response(state, flavor)
    if rule.mode == "rate_limited":
        return envelopes.rate_limited_response(flavor, 60)
    if rule.mode == "order_rejected":
        return envelopes.order_rejected_response(flavor)
    if rule.mode == "timeout_before":
        await asyncio.sleep(rule.hold_seconds)
        return envelopes.html_response(envelopes.HTML_504, status=504)
    return None


@web.middleware
async def broker_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Log every broker request, then apply latency and the first matching fault mode."""
    if request.path.startswith("/sim/"):
        return await handler(request)
    state = request.app[STATE_KEY]
    body = _parse_body(await request.read())
    entry = _log_entry(state, request, body)
    state.request_log.append(entry)
    if len(state.request_log) > REQUEST_LOG_LIMIT:
        del state.request_log[: len(state.request_log) - REQUEST_LOG_LIMIT]
    hint = request_user_hint(state, request, body)
    rules = _matching_rules(state, request.path, hint)
    latency_ms = state.config.latency_ms + sum(rule.latency_ms for rule in rules)
    mode_rule = next((rule for rule in rules if rule.mode), None)
    if latency_ms:
        await asyncio.sleep(latency_ms / 1000)
    try:
        response: web.StreamResponse | None = (
            await _fault_response(mode_rule, request, state) if mode_rule else None
        )
        if response is None:
            response = await handler(request)
    except web.HTTPException as exc:
        entry["status"] = exc.status
        entry["userId"] = request.get(USER_KEY) or hint
        raise
    entry["status"] = response.status
    entry["userId"] = request.get(USER_KEY) or hint
    if mode_rule and mode_rule.mode == "timeout_after_accept":
        await asyncio.sleep(mode_rule.hold_seconds)
    if mode_rule and mode_rule.mode == "drop_after_accept":
        entry["status"] = 0
        logger.info("sim dropping connection after processing %s", request.path)
        if request.transport is not None:
            request.transport.abort()
    return response
