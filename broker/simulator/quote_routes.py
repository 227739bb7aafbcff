"""Last prices for the price guard: the legacy quote (`ScripDetails/getScripQuoteDetails`, its `LTP`) and the
open-api chart history (`ChartAPIService/api/chart/history`, one 1-minute candle at the last price)."""

from __future__ import annotations

import time
from decimal import Decimal

from aiohttp import web

from broker.simulator.access import access_account
from broker.simulator.app_keys import STATE_KEY
from broker.simulator.contract_master import Instrument
from broker.simulator.envelopes import LEGACY, OPENAPI, json_response, legacy_fail, read_json
from broker.simulator.legacy_routes import BASE as LEGACY_BASE
from broker.simulator.order_validation import field_text
from broker.simulator.state import SimState

CHART_HISTORY = "/open-api/od/ChartAPIService/api/chart/history"


def _instrument(state: SimState, body: object, token_key: str, exchange_key: str) -> Instrument | None:
    if not isinstance(body, dict):
        return None
    exchange = field_text(body.get(exchange_key)).split("::")[0]
    return state.master.by_token(exchange, field_text(body.get(token_key)))


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


async def scrip_quote(request: web.Request) -> web.Response:
    """`{"exch","symbol":<token>}` -> `{"stat":"Ok","LTP":"123.45",...}` (string values, as the gateway)."""
    state: SimState = request.app[STATE_KEY]
    account = access_account(request, LEGACY, order_route=False)
    if isinstance(account, web.Response):
        return account
    instrument = _instrument(state, await read_json(request), "symbol", "exch")
    if instrument is None:
        return legacy_fail("Invalid symbol")
    last = state.last_price(instrument)
    return json_response(
        {
            "stat": "Ok",
            "TSymbl": instrument.trading_symbol,
            "Exchange": instrument.exchange,
            "LTP": _money(last),
            "PrvClose": _money(last),
            "LTQ": "1",
        }
    )


async def chart_history(request: web.Request) -> web.Response:
    """`{"token","exchange","from","to","resolution"}` -> `{"stat":"Ok","result":[one candle]}`."""
    state: SimState = request.app[STATE_KEY]
    account = access_account(request, OPENAPI, order_route=False)
    if isinstance(account, web.Response):
        return account
    instrument = _instrument(state, await read_json(request), "token", "exchange")
    if instrument is None:
        return json_response({"stat": "Not_Ok", "emsg": "No data available"})
    last = float(state.last_price(instrument))
    minute = int(time.time() // 60 * 60)
    candle = {"time": minute * 1000, "open": last, "high": last, "low": last, "close": last, "volume": 1}
    return json_response({"stat": "Ok", "result": [candle]})


def add_quote_routes(app: web.Application) -> None:
    app.router.add_post(LEGACY_BASE + "ScripDetails/getScripQuoteDetails", scrip_quote)
    app.router.add_post(CHART_HISTORY, chart_history)
