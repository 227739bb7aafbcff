"""Run the simulator: forever in the foreground, or in a background thread on a free port."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from broker.simulator.app import build_app
from broker.simulator.state import SimulatorOptions

logger = logging.getLogger(__name__)
SHUTDOWN_TIMEOUT = 1.0


async def _start(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024, reuse_address=True)
    await site.start()
    server = site._server
    bound = (
        server.sockets[0].getsockname()[1] if isinstance(server, asyncio.Server) and server.sockets else port
    )
    return runner, bound


def run_forever(
    options: SimulatorOptions,
    *,
    host: str = "127.0.0.1",
    port: int = 9100,
    on_ready: Callable[[int], None] | None = None,
) -> None:
    """Serve until interrupted (Ctrl-C / SIGTERM)."""

    async def main() -> None:
        runner, bound = await _start(build_app(options), host, port)
        logger.info("Alice Blue simulator listening on http://%s:%s", host, bound)
        if on_ready:
            on_ready(bound)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        logger.info("Alice Blue simulator stopped")


@dataclass
class BackgroundServer:
    """A simulator running in a daemon thread with its own event loop."""

    host: str
    port: int
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    runner: web.AppRunner

    def stop(self) -> None:
        """Shut the server down and join its thread."""
        if not self.loop.is_running():
            return
        future = asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop)
        try:
            future.result(timeout=SHUTDOWN_TIMEOUT + 5)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=5)


def run_in_thread(options: SimulatorOptions, *, host: str = "127.0.0.1", port: int = 0) -> BackgroundServer:
    """Start the simulator in a daemon thread; returns once it is listening."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    started: list[tuple[web.AppRunner, int]] = []
    errors: list[Exception] = []

    def target() -> None:
        asyncio.set_event_loop(loop)
        try:
            started.append(loop.run_until_complete(_start(build_app(options), host, port)))
        except Exception as exc:  # reported to the starting thread below
            errors.append(exc)
            ready.set()
            return
        ready.set()
        loop.run_forever()
        loop.close()

    thread = threading.Thread(target=target, name="alice-simulator", daemon=True)
    thread.start()
    ready.wait(timeout=30)
    if errors:
        raise RuntimeError("simulator failed to start") from errors[0]
    runner, bound = started[0]
    return BackgroundServer(host=host, port=bound, loop=loop, thread=thread, runner=runner)
