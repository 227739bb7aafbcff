"""Capture latency benchmark (DESIGN.md section 9): master order accepted at the simulator -> first follower
order received by the simulator, through the order-update stream and through the poll.

Starts, on loopback and free ports: the simulator (bench/_timed_sim.py, which clocks every place-order request
to the microsecond), the demo accounts (`manage.py demo_setup`: a master and three followers with sessions), a
Celery worker, and then, in turn, `manage.py master_stream` (stream figures) and Celery beat with the stream
stopped (poll figures, at the master's default poll interval). MariaDB and Redis when they answer on
127.0.0.1, else SQLite and the filesystem broker.

Each measured order: t0, the master places a market order through the simulator's control API (as if in
Alice Blue's app), then the benchmark waits for the followers' orders; the latency is t0 -> the first
follower place-order request to arrive. Every master order must produce exactly one order per follower (no
duplicate, none missing). Orders are spaced by a random pause so the poll's phase is sampled fairly.

Run: .venv/bin/python bench/capture_bench.py [--stream-orders 25] [--poll-orders 20]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from _stack import ProcessGroup, free_port, tcp_open, wait_http  # noqa: E402
from fanout_bench import mysql_available, mysql_recreate, redis_client, stack_env  # noqa: E402

MASTER_USER = "MASTER1"  # the demo master's Alice Blue user id
FOLLOWERS = 3  # the demo followers
STREAM_MEDIAN_MS, STREAM_P95_MS = 200.0, 400.0
POLL_SLACK_MS = 300.0
POLL_INTERVAL_S = 2.0  # MasterSettings' default without a healthy stream


SETTINGS_FOR_BENCH = (
    "from accounts.services.accounts import master_settings_update\n"
    "master_settings_update(actor='bench', max_concurrent_trades=10000)"
)
MAPPINGS_DUMP = (
    "from replication.models import OrderMapping as M\n"
    "for m in M.objects.order_by('pk'):\n"
    "    print(m.master_order_id, m.follower.account_id, m.leg, m.status, m.quantity, m.reason)"
)


class BenchError(RuntimeError):
    pass


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stream-orders", type=int, default=25)
    parser.add_argument("--poll-orders", type=int, default=20)
    parser.add_argument("--sqlite", action="store_true", help="SQLite and the filesystem broker")
    parser.add_argument(
        "--mysql-db", default="copytrade_bench_capture", help="MariaDB database (dropped and made anew)"
    )
    parser.add_argument("--redis-db", type=int, default=13, help="Redis database number (flushed)")
    return parser.parse_args()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(share * (len(ordered) - 1))))
    return ordered[index]


def measure(sim_url: str, *, orders: int, label: str, pause: tuple[float, float]) -> list[float]:
    http = requests.Session()
    latencies: list[float] = []
    ids: list[str] = []
    before = len(http.get(f"{sim_url}/sim/orders", timeout=10).json()["orders"])
    for _index in range(orders):
        http.delete(f"{sim_url}/bench/acks", timeout=10).raise_for_status()
        t0 = time.time()
        answer = http.post(
            f"{sim_url}/sim/orders",
            json={
                "userId": MASTER_USER,
                "exchange": "NSE",
                "symbol": "INFY",  # every demo follower may trade it
                "side": "BUY",  # entries (a sell would be a close of the position these build)
                "quantity": 10,
                "orderType": "MARKET",
                "product": "MIS",
            },
            timeout=10,
        )
        answer.raise_for_status()
        ids.append(answer.json()["orderId"])
        deadline = time.monotonic() + 15
        acks: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            acks = http.get(f"{sim_url}/bench/acks", timeout=10).json()["acks"]
            if len(acks) >= FOLLOWERS:
                break
            time.sleep(0.005)
        if not acks:
            raise BenchError(f"{label}: no follower order within 15 s of master order {ids[-1]}")
        latencies.append((min(a["arrived"] for a in acks) - t0) * 1000)
        time.sleep(random.uniform(*pause))
    deadline = time.monotonic() + 10
    while True:
        ledger = http.get(f"{sim_url}/sim/orders", timeout=10).json()["orders"]
        placed = len(ledger) - before - orders  # follower orders (the master's own are `orders`)
        if placed >= orders * FOLLOWERS or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    time.sleep(1.0)
    ledger = http.get(f"{sim_url}/sim/orders", timeout=10).json()["orders"]
    placed = len(ledger) - before - orders
    if placed != orders * FOLLOWERS:
        raise BenchError(
            f"{label}: {placed} follower orders for {orders} master orders x {FOLLOWERS} followers"
        )
    tags = [o.get("orderTag") for o in ledger if o["userId"] != MASTER_USER]
    if len(tags) != len(set(tags)):
        raise BenchError(f"{label}: duplicate follower orders")
    return latencies


def report(label: str, latencies: list[float], targets: list[tuple[str, float, float]]) -> None:
    figures = {
        "min": min(latencies),
        "median": statistics.median(latencies),
        "p95": percentile(latencies, 0.95),
        "max": max(latencies),
    }
    print(
        f"{label}: {len(latencies)} orders x {FOLLOWERS} followers, 0 duplicates, 0 missing; latency ms "
        + ", ".join(f"{name} {value:.0f}" for name, value in figures.items()),
        flush=True,
    )
    for name, value, target in targets:
        print(f"  {label} {name} {value:.0f} ms / target {target:.0f} ms = {value / target:.2f}", flush=True)


def main() -> int:
    args = parse_args()
    use_mysql = not args.sqlite and mysql_available()
    use_redis = not args.sqlite and tcp_open("127.0.0.1", 6379)
    tmp = Path(tempfile.mkdtemp(prefix="capture-bench-"))
    (tmp / "logs").mkdir()
    sim_port = free_port()
    sim_url = f"http://127.0.0.1:{sim_port}"
    env = stack_env(args=args, tmp=tmp, sim_url=sim_url, use_mysql=use_mysql, use_redis=use_redis, pool=50)
    env["COPYTRADE_ADMIN_PASSWORD"] = "bench-" + str(random.getrandbits(64))
    env["CAPTURE_STREAM_LEASE_SECONDS"] = "5"
    group = ProcessGroup(ROOT, env, tmp / "logs")
    python = sys.executable

    def on_term(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    print(f"stack: db={'mariadb' if use_mysql else 'sqlite'} broker={'redis' if use_redis else 'filesystem'}")
    try:
        if use_mysql:
            mysql_recreate(args.mysql_db)
        if use_redis:
            redis_client(args.redis_db).flushdb()
        group.start("simulator", [python, str(HERE / "_timed_sim.py"), "--port", str(sim_port)])
        wait_http(f"{sim_url}/sim/health", 30, alive=group.check_alive)
        group.run("migrate", [python, "manage.py", "migrate", "--noinput", "-v", "0"], timeout=120)
        group.run("sync_instruments", [python, "manage.py", "sync_instruments"], timeout=60)
        group.run("demo_setup", [python, "manage.py", "demo_setup", "--simulator-url", sim_url], timeout=60)
        # Every measured order opens another position: lift the concurrent-trades cap (10 by default).
        group.run("settings", [python, "manage.py", "shell", "-c", SETTINGS_FOR_BENCH], timeout=60)
        worker_argv = [python, "-m", "celery", "-A", "copytrade", "worker", "-P", "threads", "-c", "16"]
        group.start("worker", [*worker_argv, "-l", "WARNING", "--without-gossip", "--without-mingle"])

        stream = group.start("stream", [python, "manage.py", "master_stream"])
        deadline = time.monotonic() + 60
        while not requests.get(f"{sim_url}/sim/stream", params={"userId": MASTER_USER}, timeout=5).json()[
            "sockets"
        ]:
            group.check_alive()
            if time.monotonic() > deadline:
                raise BenchError("the stream did not connect")
            time.sleep(0.2)
        time.sleep(1.0)  # the catch-up read after connecting
        measure(sim_url, orders=2, label="stream warm-up", pause=(0.2, 0.3))
        stream_latencies = measure(sim_url, orders=args.stream_orders, label="stream", pause=(0.2, 0.4))
        report(
            "stream",
            stream_latencies,
            [
                ("median", statistics.median(stream_latencies), STREAM_MEDIAN_MS),
                ("p95", percentile(stream_latencies, 0.95), STREAM_P95_MS),
            ],
        )

        stream.send_signal(signal.SIGTERM)
        stream.wait(timeout=20)
        group.forget(stream)
        group.start("beat", [python, "-m", "celery", "-A", "copytrade", "beat", "-l", "WARNING"])
        time.sleep(5.0)  # beat syncs its schedule and the first polls run
        poll_latencies = measure(sim_url, orders=args.poll_orders, label="poll", pause=(0.1, POLL_INTERVAL_S))
        target = POLL_INTERVAL_S * 1000 + POLL_SLACK_MS
        report("poll", poll_latencies, [("median", statistics.median(poll_latencies), target)])
        group.check_alive()
        return 0
    except (BenchError, RuntimeError, requests.RequestException) as exc:
        print(f"capture bench failed: {exc}", file=sys.stderr)
        with contextlib.suppress(RuntimeError):
            group.run("mappings", [python, "manage.py", "shell", "-c", MAPPINGS_DUMP], timeout=60)
        print(group.log_tail("mappings", 4000), file=sys.stderr)
        for name in ("stream", "worker", "beat", "simulator"):
            tail = group.log_tail(name, 1500)
            if tail:
                print(f"--- {name} log ---\n{tail}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        group.stop()
        if use_mysql:
            mysql_recreate(args.mysql_db, drop_only=True)


if __name__ == "__main__":
    sys.exit(main())
