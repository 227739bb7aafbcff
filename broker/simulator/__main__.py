"""`python -m broker.simulator --port 9100`: the simulator standalone, without Django."""

from __future__ import annotations

import argparse
import logging

from broker.simulator.server import run_forever
from broker.simulator.state import DEFAULT_REDIRECT_URL, SimulatorOptions


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m broker.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--app-code", default="COPYTRADE")
    parser.add_argument("--api-secret", default="sim-app-secret")
    parser.add_argument("--redirect-url", default=DEFAULT_REDIRECT_URL)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--demo-accounts", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve forever."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    options = SimulatorOptions(
        app_code=args.app_code,
        api_secret=args.api_secret,
        redirect_url=args.redirect_url,
        latency_ms=args.latency_ms,
        demo_accounts=args.demo_accounts,
    )
    run_forever(
        options, host=args.host, port=args.port, on_ready=lambda port: print(f"listening {port}", flush=True)
    )


if __name__ == "__main__":
    main()
