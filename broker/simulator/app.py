"""The aiohttp application: every route of both API generations, the login page and /sim/."""

from __future__ import annotations

from aiohttp import web

from broker.simulator.app_keys import STATE_KEY
from broker.simulator.contract_master import csv_path
from broker.simulator.control_routes import add_control_routes, control_errors
from broker.simulator.demo_accounts import demo_accounts_seed
from broker.simulator.faults import broker_middleware
from broker.simulator.legacy_routes import add_legacy_routes
from broker.simulator.login_page import add_login_routes
from broker.simulator.notify_routes import add_notify_routes
from broker.simulator.openapi_routes import add_openapi_routes
from broker.simulator.quote_routes import add_quote_routes
from broker.simulator.state import SimState, SimulatorOptions


async def contract_master_csv(request: web.Request) -> web.StreamResponse:
    """`/restpy/static/contract_master/V2/<EXCH>.csv` (no auth)."""
    path = csv_path(request.match_info["exchange"])
    if path is None:
        raise web.HTTPNotFound(text="Not Found")
    return web.FileResponse(path, headers={"Content-Type": "text/csv"})


def build_app(options: SimulatorOptions | None = None) -> web.Application:
    """A fresh simulator application with its own in-memory state."""
    options = options or SimulatorOptions()
    state = SimState(options)
    if options.demo_accounts:
        demo_accounts_seed(state)
    app = web.Application(middlewares=[control_errors, broker_middleware], client_max_size=8 * 1024 * 1024)
    app[STATE_KEY] = state
    add_openapi_routes(app)
    add_legacy_routes(app)
    add_quote_routes(app)
    add_notify_routes(app)
    add_control_routes(app)
    add_login_routes(app)
    app.router.add_get("/restpy/static/contract_master/V2/{exchange}.csv", contract_master_csv)
    app.router.add_get("/restpy/static/contract_master/{exchange}.csv", contract_master_csv)
    return app
