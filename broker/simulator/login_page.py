"""A minimal stand-in for Alice Blue's SSO login page (`GET /?appcode=X`)."""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode, urlsplit, urlunsplit

from aiohttp import web

from broker.simulator.app_keys import STATE_KEY, USER_KEY
from broker.simulator.sessions import account_login
from broker.simulator.state import Account, SimState

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Alice Blue (simulator) - Login</title></head>
<body>
<h1>Alice Blue simulator</h1>
{content}
</body></html>
"""


def _page(content: str, *, status: int = 200) -> web.Response:
    return web.Response(text=PAGE.format(content=content), status=status, content_type="text/html")


def _known_app(state: SimState, app_code: str) -> bool:
    return app_code == state.options.app_code or any(a.app_code == app_code for a in state.accounts.values())


def _login_form(state: SimState, app_code: str) -> str:
    options = "".join(
        f'<option value="{escape(a.user_id)}">{escape(a.user_id)} - {escape(a.name)}</option>'
        for a in state.accounts.values()
    )
    if not options:
        return "<p>No accounts exist yet. Create one with POST /sim/accounts.</p>"
    return (
        f"<p>App <b>{escape(app_code)}</b> asks you to log in.</p>"
        '<form method="post" action="/">'
        f'<input type="hidden" name="appcode" value="{escape(app_code)}">'
        '<label>Account <select name="userId">' + options + "</select></label> "
        '<label>Password <input type="password" name="password" value="simulator"></label> '
        '<label>TOTP <input name="totp" value="000000" size="6"></label> '
        '<button type="submit">Log in</button></form>'
    )


async def login_page(request: web.Request) -> web.Response:
    """The account picker for `?appcode=X`; 400 for an unknown app code."""
    state = request.app[STATE_KEY]
    app_code = request.query.get("appcode", "")
    if not app_code:
        return _page("<p>Alice Blue simulator. Log in at <code>/?appcode=&lt;appCode&gt;</code>.</p>")
    if not _known_app(state, app_code):
        return _page(f"<p>Invalid app code {escape(app_code)}.</p>", status=400)
    return _page(_login_form(state, app_code))


def redirect_target(state: SimState, account: Account, auth_code: str) -> str:
    """The redirect URL (the account's, else the server's) with authCode and userId appended."""
    base = account.redirect_url or state.options.redirect_url
    parts = urlsplit(base)
    query = "&".join(
        q for q in (parts.query, urlencode({"authCode": auth_code, "userId": account.user_id})) if q
    )
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


async def login_submit(request: web.Request) -> web.StreamResponse:
    """Log the picked account in for today and redirect with a fresh authCode."""
    state = request.app[STATE_KEY]
    form = await request.post()
    app_code = str(form.get("appcode", ""))
    account = state.account(str(form.get("userId", "")))
    if not _known_app(state, app_code) or account is None:
        return _page("<p>Invalid app code or account.</p>", status=400)
    request[USER_KEY] = account.user_id
    code = account_login(state, account, app_code=app_code)
    raise web.HTTPFound(redirect_target(state, account, code.code))


def add_login_routes(app: web.Application) -> None:
    """Mount the login page."""
    app.router.add_get("/", login_page)
    app.router.add_post("/", login_submit)
