"""Load benchmark of the Alice Blue simulator: hundreds of concurrent place-order calls with 100 ms latency.

Starts `python -m broker.simulator` in its own process (its own CPU), injects latencyMs=100 on placeorder,
fires ORDERS concurrent open-api place-order requests from SESSIONS sessions with an aiohttp client, and
prints wall time, throughput, p50/p95/max latency and p50 / injected latency (1.0 means no overhead).

Run: .venv/bin/python bench/simulator_bench.py [--orders 500] [--sessions 50] [--latency-ms 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import requests

ROOT = Path(__file__).resolve().parent.parent
PLACE_PATH = "/open-api/od/v1/orders/placeorder"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int) -> subprocess.Popen[bytes]:
    """The simulator as a child process; returns once /sim/health answers."""
    process = subprocess.Popen(
        [sys.executable, "-m", "broker.simulator", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/sim/health", timeout=0.5).raise_for_status()
            return process
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("simulator did not start")


def prepare(base_url: str, sessions: int, latency_ms: int) -> list[str]:
    """Create accounts, one session each, and the placeorder latency rule."""
    control = requests.Session()
    tokens = []
    for index in range(sessions):
        user_id = f"BENCH{index:03d}"
        control.post(f"{base_url}/sim/accounts", json={"userId": user_id}, timeout=5).raise_for_status()
        answer = control.post(f"{base_url}/sim/sessions", json={"userId": user_id}, timeout=5)
        tokens.append(answer.json()["sessionId"])
    fault = {"endpoint": "placeorder", "latencyMs": latency_ms}
    control.post(f"{base_url}/sim/faults", json=fault, timeout=5).raise_for_status()
    return tokens


def cpu_seconds(pid: int) -> float:
    """User+system CPU time of a process so far (Linux /proc), 0.0 elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def order_body(index: int) -> list[dict[str, object]]:
    return [
        {
            "exchange": "NSE",
            "instrumentId": "3045",
            "transactionType": "BUY" if index % 2 else "SELL",
            "quantity": 1,
            "product": "INTRADAY",
            "orderComplexity": "REGULAR",
            "orderType": "MARKET",
            "validity": "DAY",
            "price": "0",
            "orderTag": f"bench-{index}",
        }
    ]


Result = tuple[float, list[float], int]


async def _place(http: aiohttp.ClientSession, base_url: str, token: str, index: int) -> tuple[float, bool]:
    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    async with http.post(base_url + PLACE_PATH, json=order_body(index), headers=headers) as response:
        data = await response.json()
    return time.perf_counter() - started, data.get("status") == "Ok"


async def burst_and_steady(
    base_url: str, tokens: list[str], orders: int, workers: int
) -> tuple[Result, Result]:
    """A burst of `orders` at once, then `workers` concurrent loops placing `orders` in total."""
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        # warm-up opens the keep-alive connections a long-running placer would already hold
        await asyncio.gather(*(_place(http, base_url, tokens[i % len(tokens)], i) for i in range(orders)))

        started = time.perf_counter()
        results = await asyncio.gather(
            *(_place(http, base_url, tokens[i % len(tokens)], i) for i in range(orders))
        )
        burst = (time.perf_counter() - started, [r[0] for r in results], sum(1 for r in results if r[1]))

        steady_results: list[tuple[float, bool]] = []

        async def loop(worker: int) -> None:
            for index in range(worker, orders, workers):
                steady_results.append(await _place(http, base_url, tokens[index % len(tokens)], index))

        started = time.perf_counter()
        await asyncio.gather(*(loop(w) for w in range(workers)))
        latencies = [r[0] for r in steady_results]
        steady = (time.perf_counter() - started, latencies, sum(r[1] for r in steady_results))
    return burst, steady


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--workers", type=int, default=200)
    args = parser.parse_args()

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    process = start_server(port)
    try:
        tokens = prepare(base_url, args.sessions, args.latency_ms)
        cpu_before = cpu_seconds(process.pid)
        burst, steady = asyncio.run(burst_and_steady(base_url, tokens, args.orders, args.workers))
        server_cpu = cpu_seconds(process.pid) - cpu_before
        ledger = requests.get(f"{base_url}/sim/orders", timeout=30).json()["orders"]
    finally:
        process.terminate()
        process.wait(timeout=10)

    print(f"simulator place-order, {args.sessions} sessions, injected latency {args.latency_ms} ms")
    report(f"burst ({args.orders} at once)", burst, args.orders, args.latency_ms)
    report(f"steady ({args.workers} concurrent placers)", steady, args.orders, args.latency_ms)
    print(f"ledger: {len(ledger)} orders (incl. warm-up)")
    print(f"server CPU per request: {server_cpu / (3 * args.orders) * 1000:.2f} ms")


def report(label: str, result: Result, orders: int, latency_ms: int) -> None:
    """One line per figure."""
    wall, latencies, ok = result
    p50 = statistics.median(latencies)
    print(f"{label}: accepted {ok}/{orders}")
    print(f"{label}: wall time {wall:.3f} s")
    print(f"{label}: throughput {orders / wall:.0f} orders/s")
    print(f"{label}: latency p50 {p50 * 1000:.1f} ms")
    print(f"{label}: latency p95 {percentile(latencies, 0.95) * 1000:.1f} ms")
    print(f"{label}: latency max {max(latencies) * 1000:.1f} ms")
    print(f"{label}: ratio p50/injected {p50 / (latency_ms / 1000):.2f}")


if __name__ == "__main__":
    main()
