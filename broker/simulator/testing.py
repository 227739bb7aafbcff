"""Start a simulator in a background thread and drive it through its control API (tests and benchmarks)."""

from __future__ import annotations

from broker.simulator.control_client import SimulatorClient, SimulatorError
from broker.simulator.server import BackgroundServer, run_in_thread
from broker.simulator.state import DEFAULT_REDIRECT_URL, SimulatorOptions


class SimulatorHandle(SimulatorClient):
    """A simulator started in this process; `stop()` shuts it down."""

    def __init__(self, server: BackgroundServer) -> None:
        self.server = server
        super().__init__(f"http://{server.host}:{server.port}")

    @property
    def port(self) -> int:
        return self.server.port

    def stop(self) -> None:
        """Stop the server thread."""
        self.http.close()
        self.server.stop()


def start_simulator(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    app_code: str = "COPYTRADE",
    api_secret: str = "sim-app-secret",  # noqa: S107 - the simulator's published demo secret
    redirect_url: str | None = None,
    latency_ms: int = 0,
    demo_accounts: bool = False,
) -> SimulatorHandle:
    """Run a simulator in a daemon thread (free port by default); returns once it is listening."""
    options = SimulatorOptions(
        app_code=app_code,
        api_secret=api_secret,
        redirect_url=redirect_url or DEFAULT_REDIRECT_URL,
        latency_ms=latency_ms,
        demo_accounts=demo_accounts,
    )
    return SimulatorHandle(run_in_thread(options, host=host, port=port))


__all__ = ["SimulatorClient", "SimulatorError", "SimulatorHandle", "start_simulator"]
