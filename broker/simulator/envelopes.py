"""Response envelopes of both flavours, and the canned fault pages."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from broker.simulator.state import SimState

OPENAPI = "openapi"
LEGACY = "legacy"

HTML_502 = """<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>cloudflare</center>
</body>
</html>
"""
HTML_SPA = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>ANT</title>
<meta name="viewport" content="width=device-width,initial-scale=1"></head>
<body><noscript>You need to enable JavaScript to run this app.</noscript><div id="root"></div></body></html>
"""
HTML_504 = (
    "<html><head><title>504 Gateway Time-out</title></head><body><h1>504 Gateway Time-out</h1></body></html>"
)


async def read_json(request: web.Request) -> Any:
    """The parsed JSON body, or None when it is missing or not JSON."""
    try:
        return await request.json()
    except ValueError:
        return None


def flavor_of(path: str) -> str:
    """Which API generation a path belongs to."""
    return OPENAPI if path.startswith("/open-api/") else LEGACY


def json_response(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """Compact JSON, as the real gateway sends it."""
    return web.Response(
        text=json.dumps(data, separators=(",", ":")),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def openapi_ok(result: list[Any]) -> web.Response:
    return json_response({"status": "Ok", "message": "Success", "result": result})


def openapi_fail(code: str, *, status: int = 200) -> web.Response:
    return json_response({"status": "Not_Ok", "message": code}, status=status)


def legacy_fail(emsg: str, *, status: int = 200) -> web.Response:
    return json_response({"stat": "Not_Ok", "emsg": emsg}, status=status)


def session_expired_response(state: SimState, flavor: str) -> web.Response:
    """The configured answer to a missing, unknown or expired session."""
    if flavor == OPENAPI:
        if state.config.openapi_session_expired_mode == "ec087":
            return openapi_fail("EC087")
        return web.Response(status=401, text="Unauthorized", content_type="text/plain")
    if state.config.legacy_session_expired_mode == "json":
        return legacy_fail("Session Expired")
    return web.Response(status=401, text="Unauthorized", content_type="text/plain")


def rate_limited_response(flavor: str, retry_after: float) -> web.Response:
    """HTTP 429 with the flavour's JSON envelope and a Retry-After header."""
    headers = {"Retry-After": str(max(1, int(retry_after + 0.999)))}
    if flavor == OPENAPI:
        return json_response(
            {"status": "Not_Ok", "message": "Too many requests"}, status=429, headers=headers
        )
    return json_response({"stat": "Not_Ok", "emsg": "Too many requests"}, status=429, headers=headers)


def order_rejected_response(flavor: str) -> web.Response:
    """The broker refusing an order outright (the `order_rejected` fault: a quantity over its maximum)."""
    if flavor == OPENAPI:
        return openapi_fail("EC948")
    return legacy_fail("Quantity exceeds the maximum allowed")


def http500_response(path: str) -> web.Response:
    """A Spring-style 500 error body."""
    body = {"timestamp": "", "status": 500, "error": "Internal Server Error", "path": path}
    return json_response(body, status=500)


def html_response(html: str, *, status: int) -> web.Response:
    return web.Response(text=html, status=status, content_type="text/html")
