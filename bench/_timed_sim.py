"""The Alice Blue simulator with sub-millisecond acknowledgement times, for the fan-out benchmark only.

The simulator's own clock (ledger `placedAt`, request log `time`) has one-second precision, too coarse for
a 100 ms target. This wrapper runs the unchanged simulator application in its own process and adds one
outermost aiohttp middleware that records, for every place-order request, the wall-clock time
(`time.time()`, comparable with the benchmark's t0 on the same machine) when the request arrived and when
its response was ready to be written (the acknowledgement), with the order tags and the HTTP status.
`GET /bench/acks` returns the records (`?countOnly=1`: only how many); `DELETE /bench/acks` clears them.

The simulator's own `/sim/orders` can only filter by user, and a benchmark with 10,000+ orders would fetch the
whole ledger for each check: `POST /bench/ledger` `{"tags": [...]}` answers the ledger's size and the orders
(id, user, tag, status) whose tag is one of those (every such order: a duplicate shows as two);
`GET /bench/ledger` answers the size only.

Run: python bench/_timed_sim.py --port 9100
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402

from broker.simulator.app import build_app  # noqa: E402
from broker.simulator.app_keys import STATE_KEY  # noqa: E402
from broker.simulator.server import SHUTDOWN_TIMEOUT  # noqa: E402
from broker.simulator.state import SimulatorOptions  # noqa: E402

ACKS = web.AppKey("bench_acks", list)


def _tags(raw: bytes) -> list[str]:
    try:
        body: Any = json.loads(raw or b"null")
    except ValueError:
        return []
    items = body if isinstance(body, list) else [body]
    return [str(i.get("orderTag") or i.get("remarks") or "") for i in items if isinstance(i, dict)]


@web.middleware
async def ack_clock(request: web.Request, handler):
    if not request.path.endswith("/placeorder"):
        return await handler(request)
    arrived = time.time()
    raw = await request.read()  # cached by aiohttp: the simulator's middleware reads it again
    status = 0
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        request.app[ACKS].append(
            {"arrived": arrived, "acked": time.time(), "status": status, "tags": _tags(raw)}
        )


async def acks_get(request: web.Request) -> web.Response:
    if request.query.get("countOnly"):
        return web.json_response({"ok": True, "count": len(request.app[ACKS])})
    return web.json_response({"ok": True, "acks": request.app[ACKS]})


async def acks_clear(request: web.Request) -> web.Response:
    request.app[ACKS].clear()
    return web.json_response({"ok": True})


async def ledger_get(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "total": len(request.app[STATE_KEY].orders)})


async def ledger_post(request: web.Request) -> web.Response:
    body = await request.json()
    tags = set(body.get("tags") or []) if isinstance(body, dict) else set()
    orders = request.app[STATE_KEY].orders.values()
    found = [
        {"orderId": o.order_id, "userId": o.user_id, "orderTag": o.tag, "status": o.status}
        for o in orders
        if o.tag in tags
    ]
    return web.json_response({"ok": True, "total": len(orders), "orders": found})


def build(options: SimulatorOptions) -> web.Application:
    app = build_app(options)
    app.middlewares.insert(0, ack_clock)  # outermost: sees the simulator's latency and processing
    app[ACKS] = []
    app.router.add_get("/bench/acks", acks_get)
    app.router.add_delete("/bench/acks", acks_clear)
    app.router.add_get("/bench/ledger", ledger_get)
    app.router.add_post("/bench/ledger", ledger_post)
    return app


async def serve(host: str, port: int) -> None:
    runner = web.AppRunner(
        build(SimulatorOptions()), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT, handle_signals=True
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024, reuse_address=True)
    await site.start()
    print(f"listening {port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
