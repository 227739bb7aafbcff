"""Fan-out benchmark (DESIGN.md section 9): one master trade replicated to N followers on the real stack.

Starts, on loopback only and on free ports: the Alice Blue simulator (its own process, place-order latency
L injected through /sim/faults, wrapped by bench/_timed_sim.py for sub-millisecond acknowledgement times),
gunicorn (the Django API) and a Celery worker (threads pool), on MariaDB and Redis when they answer on
127.0.0.1:3306 / :6379 (database `copytrade_bench`, Redis db 14), else SQLite and the filesystem broker in
a temp dir. Followers are created through the REST API, each a distinct simulator account with its own
session. Then, per run: t0, `POST /api/trades/replicate`, and the latency is t0 -> the simulator's last
place-order acknowledgement. Each run is checked: exactly N orders in the simulator ledger with the run's
tags, one per follower, one place-order request per tag, every mapping ACTIVE with the ledger's order id.

CPU per follower order = user+sys CPU of the web and worker process trees (from /proc) over the measured
runs divided by the orders placed; the simulator's CPU is printed separately (it is not ours).

Run: .venv/bin/python bench/fanout_bench.py [--followers 100] [--latency-ms 100] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from _stack import (  # noqa: E402
    ProcessGroup,
    free_port,
    pids_named,
    tcp_open,
    tree_cpu_seconds,
    wait_http,
)

BIN = Path(sys.executable).parent
MYSQL_DB = "copytrade_bench"
REDIS_DB = 14
QA_SECRET = secrets.token_urlsafe(24)
TOTAL_BUDGET = 170.0  # seconds: the whole benchmark stays under 3 minutes


@dataclass
class RunResult:
    label: str
    last_ack: float  # t0 -> last place-order acknowledged by the simulator (s)
    first_sent: float  # t0 -> first place-order request arrived at the simulator
    last_sent: float  # t0 -> last place-order request arrived at the simulator
    api_answer: float  # t0 -> the replicate API answered (all SUCCESS: an upper bound)
    orders: int


class BenchError(RuntimeError):
    pass


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--followers", type=int, default=100)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=4,
        help="Celery threads per worker process (a placement batch sends from its own threads)",
    )
    parser.add_argument(
        "--worker-processes",
        type=int,
        default=os.cpu_count() or 1,
        help="Celery worker processes (default: one per core, as the README recommends)",
    )
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=8)
    parser.add_argument(
        "--sqlite", action="store_true", help="SQLite + filesystem broker even if MariaDB/Redis answer"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temp dir (process logs) and the database"
    )
    parser.add_argument(
        "--no-risk-snapshot",
        action="store_true",
        help="do not prime the follower risk snapshots (the fan-out then reads positions/limits live)",
    )
    parser.add_argument(
        "--py-spy",
        metavar="PATH",
        default="",
        help="py-spy binary: record web and worker during the measured runs",
    )
    return parser.parse_args()


# -- backends ------------------------------------------------------------------------------------------------


def mysql_available() -> bool:
    if not tcp_open("127.0.0.1", 3306):
        return False
    try:
        import MySQLdb  # noqa: F401 - installed with the `mysql` extra only
    except ImportError:
        return False
    return True


def mysql_recreate(drop_only: bool = False) -> None:
    import MySQLdb

    conn = MySQLdb.connect(host="127.0.0.1", port=3306, user="root")
    try:
        cursor = conn.cursor()
        cursor.execute(f"DROP DATABASE IF EXISTS `{MYSQL_DB}`")
        if not drop_only:
            cursor.execute(f"CREATE DATABASE `{MYSQL_DB}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    finally:
        conn.close()


def redis_flush() -> None:
    import redis

    redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB).flushdb()


# -- the stack -----------------------------------------------------------------------------------------------


def stack_env(*, tmp: Path, sim_url: str, use_mysql: bool, use_redis: bool, pool: int) -> dict[str, str]:
    from cryptography.fernet import Fernet

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "ALICE_", "CELERY_", "REPLICATION_"))
    }
    for key in ("DATABASE_URL", "CACHE_URL", "FIELD_ENCRYPTION_KEYS", "QUANTUM_ALPHA_SECRET", "LOG_LEVEL"):
        env.pop(key, None)
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "copytrade.settings",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_DEBUG": "0",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DJANGO_SECURE_COOKIES": "0",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "COPYTRADE_VAR_DIR": str(tmp / "var"),
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "QUANTUM_ALPHA_SECRET": QA_SECRET,
            "API_RATE_LIMIT": "1000000/min",
            "DATABASE_URL": (
                f"mysql://root@127.0.0.1:3306/{MYSQL_DB}"
                if use_mysql
                else f"sqlite:///{tmp / 'bench.sqlite3'}"
            ),
            "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{REDIS_DB}" if use_redis else "filesystem://",
            "CELERY_BROKER_FOLDER": str(tmp / "celery-broker"),
            "ALICE_API_FLAVOR": "openapi",
            "ALICE_API_BASE_URL": sim_url,
            "ALICE_CONTRACT_MASTER_URL": f"{sim_url}/restpy/static/contract_master/V2/",
            "ALICE_HTTP_POOL_SIZE": str(pool),
            "REPLICATION_SYNC_TIMEOUT": "10",
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def start_stack(
    group: ProcessGroup, args: argparse.Namespace, *, web_port: int, sim_port: int
) -> tuple[Any, Any, list[Any]]:
    python = str(Path(sys.executable))
    sim = group.start("simulator", [python, str(HERE / "_timed_sim.py"), "--port", str(sim_port)])
    wait_http(f"http://127.0.0.1:{sim_port}/sim/health", 30, alive=group.check_alive)
    group.run("migrate", [python, "manage.py", "migrate", "--noinput", "-v", "0"], timeout=120)
    group.run("sync_instruments", [python, "manage.py", "sync_instruments"], timeout=60)
    web = group.start(
        "web",
        [
            str(BIN / "gunicorn"),
            "copytrade.wsgi",
            "-b",
            f"127.0.0.1:{web_port}",
            "-w",
            str(args.web_workers),
            "--threads",
            str(args.web_threads),
            "--log-level",
            "warning",
            "--timeout",
            "60",
        ],
    )
    workers = []
    for index in range(args.worker_processes):
        workers.append(
            group.start(
                f"worker{index}" if index else "worker",
                [
                    python,
                    "-m",
                    "celery",
                    "-A",
                    "copytrade",
                    "worker",
                    "-P",
                    "threads",
                    "-c",
                    str(args.worker_concurrency),
                    "-l",
                    "WARNING",
                    "-n",
                    f"bench{index}-{web_port}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ],
            )
        )
    # /api/health answers 503 without beat (not started here): any answer means gunicorn is serving.
    wait_http(f"http://127.0.0.1:{web_port}/api/health", 60, alive=group.check_alive, any_status=True)
    return sim, web, workers


# -- followers -----------------------------------------------------------------------------------------------


def create_followers(api: str, sim_url: str, count: int) -> list[str]:
    """Each follower: its own simulator account and session, created through the REST API."""
    headers = {"x-qa-secret": QA_SECRET}

    def one(index: int) -> str:
        http = requests.Session()
        follower_id = f"BENCH-F{index:04d}"
        user_id = f"BF{index:04d}"
        http.post(
            f"{sim_url}/sim/accounts", json={"userId": user_id, "cash": "100000000"}, timeout=10
        ).raise_for_status()
        session_id = http.post(f"{sim_url}/sim/sessions", json={"userId": user_id}, timeout=10).json()[
            "sessionId"
        ]
        calls = [
            (
                "followers",
                {"followerId": follower_id, "clientId": user_id, "name": f"Bench follower {index}"},
            ),
            ("followers/credentials", {"followerId": follower_id, "accessToken": session_id}),
            (
                "followers/risk-config",
                {"followerId": follower_id, "lot_multiplier": "1", "max_quantity": 100},
            ),
            (
                "followers/consent",
                {"followerId": follower_id, "recordedByOperator": True, "reference": "bench follower"},
            ),
        ]
        for path, body in calls:
            answer = http.post(f"{api}/api/{path}", json=body, headers=headers, timeout=30)
            if answer.status_code >= 300:
                raise BenchError(
                    f"POST /api/{path} for {follower_id}: {answer.status_code} {answer.text[:300]}"
                )
        http.close()
        return follower_id

    with ThreadPoolExecutor(max_workers=8) as pool:
        created = list(pool.map(one, range(1, count + 1)))
    wait_sessions_verified(api, set(created))
    return created


def wait_sessions_verified(api: str, follower_ids: set[str], timeout: float = 120.0) -> None:
    """A stored token is UNVERIFIED until the workers' background check proves it: wait for every one."""
    deadline = time.monotonic() + timeout
    waiting = set(follower_ids)
    while waiting and time.monotonic() < deadline:
        answer = requests.get(f"{api}/api/followers", headers={"x-qa-secret": QA_SECRET}, timeout=30)
        valid = {f["follower_id"] for f in answer.json()["followers"] if f["session_status"] == "VALID"}
        waiting -= valid
        if waiting:
            time.sleep(0.5)
    if waiting:
        raise BenchError(f"{len(waiting)} follower sessions not verified after {timeout:.0f} s")


def prime_risk_snapshots(group: ProcessGroup, sim_url: str, followers: int) -> str:
    """What beat does every REPLICATION_RISK_SNAPSHOT_INTERVAL: refresh each follower's risk snapshot (P&L and
    opening cash for the loss rules), so the fan-out reads them from the database instead of the broker.
    Beat itself is not run (its periodic syncs would add unrelated load to the measurement)."""
    python = str(Path(sys.executable))
    group.run(
        "risk_snapshot_refresh",
        [python, "-m", "celery", "-A", "copytrade", "call", "replication.risk_snapshot_refresh"],
        timeout=60,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        log = requests.get(f"{sim_url}/sim/requests", timeout=10).json()["requests"]
        positions = sum(1 for r in log if r["path"].endswith("/positions") and r["status"])
        limits = sum(1 for r in log if "/limits" in r["path"] and r["status"])
        if positions >= followers and limits >= followers:
            time.sleep(0.5)  # the last snapshot rows are written after the broker answers
            return f"refreshed for {followers} followers"
        time.sleep(0.2)
    return f"not refreshed (positions reads {positions}, limits reads {limits}): the fan-out reads live"


# -- one run -------------------------------------------------------------------------------------------------


def replicate_run(
    *, api: str, sim_url: str, http: requests.Session, trade_id: str, followers: int, label: str
) -> RunResult:
    headers = {"x-qa-secret": QA_SECRET}
    body = {
        "trade": {
            "id": trade_id,
            "symbol": "SBIN",
            "side": "BUY",
            "quantity": 10,
            "exchange": "NSE",
            "product_type": "MIS",
            "order_type": "MARKET",
        }
    }
    http.delete(f"{sim_url}/bench/acks", timeout=10).raise_for_status()
    t0 = time.time()
    answer = http.post(f"{api}/api/trades/replicate", json=body, headers=headers, timeout=60)
    api_answer = time.time() - t0
    if answer.status_code != 200:
        raise BenchError(f"replicate {trade_id}: HTTP {answer.status_code} {answer.text[:500]}")
    summary = answer.json()["summary"]
    if summary["successful"] != followers:
        raise BenchError(f"replicate {trade_id}: expected {followers} SUCCESS, got {summary}")

    mappings = http.get(
        f"{api}/api/trades/replicate", params={"masterOrderId": trade_id}, headers=headers, timeout=30
    ).json()["mappings"]
    tags = {m["order_tag"]: m for m in mappings}
    if len(mappings) != followers or len(tags) != followers:
        raise BenchError(f"{trade_id}: {len(mappings)} mappings with {len(tags)} distinct tags")
    not_active = [m for m in mappings if m["status"] != "ACTIVE" or not m["follower_order_id"]]
    if not_active:
        raise BenchError(f"{trade_id}: {len(not_active)} mappings not ACTIVE, e.g. {not_active[0]}")

    ledger = [
        o for o in http.get(f"{sim_url}/sim/orders", timeout=30).json()["orders"] if o["orderTag"] in tags
    ]
    users = {o["userId"] for o in ledger}
    if (
        len(ledger) != followers
        or len(users) != followers
        or len({o["orderTag"] for o in ledger}) != followers
    ):
        raise BenchError(
            f"{trade_id}: ledger has {len(ledger)} orders for {len(users)} users (want {followers})"
        )
    for order in ledger:
        if tags[order["orderTag"]]["follower_order_id"] != order["orderId"]:
            raise BenchError(f"{trade_id}: mapping/ledger order id mismatch for tag {order['orderTag']}")

    acks = [
        a
        for a in http.get(f"{sim_url}/bench/acks", timeout=30).json()["acks"]
        if set(a["tags"]) & tags.keys()
    ]
    if len(acks) != followers or any(a["status"] != 200 for a in acks):
        raise BenchError(f"{trade_id}: {len(acks)} place-order requests (want {followers}, all HTTP 200)")
    return RunResult(
        label=label,
        last_ack=max(a["acked"] for a in acks) - t0,
        first_sent=min(a["arrived"] for a in acks) - t0,
        last_sent=max(a["arrived"] for a in acks) - t0,
        api_answer=api_answer,
        orders=len(ledger),
    )


# -- main ----------------------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def main() -> int:
    args = parse_args()
    args.worker_concurrency = args.worker_concurrency or max(args.followers, 8)
    started = time.monotonic()
    use_mysql = not args.sqlite and mysql_available()
    use_redis = not args.sqlite and tcp_open("127.0.0.1", 6379)
    tmp = Path(tempfile.mkdtemp(prefix="fanout-bench-"))
    (tmp / "logs").mkdir()
    web_port, sim_port = free_port(), free_port()
    sim_url, api = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{web_port}"
    env = stack_env(
        tmp=tmp, sim_url=sim_url, use_mysql=use_mysql, use_redis=use_redis, pool=max(200, 2 * args.followers)
    )
    group = ProcessGroup(ROOT, env, tmp / "logs")

    def on_term(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    print(
        f"stack: db={'mariadb' if use_mysql else 'sqlite'} broker={'redis' if use_redis else 'filesystem'} "
        f"web=gunicorn {args.web_workers}x{args.web_threads} threads "
        f"worker={args.worker_processes}x celery threads -c {args.worker_concurrency} "
        f"LOG_LEVEL=WARNING cores={os.cpu_count()}",
        flush=True,
    )
    ok = False
    try:
        if use_mysql:
            mysql_recreate()
        if use_redis:
            redis_flush()
        sim, web, workers = start_stack(group, args, web_port=web_port, sim_port=sim_port)
        setup_start = time.monotonic()
        create_followers(api, sim_url, args.followers)
        requests.post(
            f"{sim_url}/sim/faults", json={"endpoint": "placeorder", "latencyMs": args.latency_ms}, timeout=10
        ).raise_for_status()
        print(f"setup: {args.followers} followers in {time.monotonic() - setup_start:.1f} s", flush=True)
        if not args.no_risk_snapshot:
            print(f"risk snapshots: {prime_risk_snapshots(group, sim_url, args.followers)}", flush=True)

        http = requests.Session()
        stamp = time.strftime("%H%M%S")
        warm = replicate_run(
            api=api,
            sim_url=sim_url,
            http=http,
            trade_id=f"BENCH-{stamp}-W",
            followers=args.followers,
            label="warm-up",
        )
        print(
            f"warm-up (not counted): last ack {ms(warm.last_ack)} ms, API answer {ms(warm.api_answer)} ms",
            flush=True,
        )

        profilers = []
        if args.py_spy:
            for name, proc in (("web", web), *((f"worker{i}", w) for i, w in enumerate(workers))):
                out = tmp / "logs" / f"profile-{name}.txt"
                argv = [
                    args.py_spy,
                    "record",
                    "-p",
                    str(proc.pid),
                    "-o",
                    str(out),
                    "-f",
                    "raw",
                    "-r",
                    "250",
                ] + (["--gil"] if os.environ.get("PYSPY_GIL") else [])
                profilers.append(group.start(f"py-spy-{name}", [*argv, "--subprocesses"]))
            time.sleep(1.0)
        web_before = tree_cpu_seconds(web.pid)
        worker_before = sum(tree_cpu_seconds(w.pid) for w in workers)
        sim_before = tree_cpu_seconds(sim.pid)
        infra_names = (("mariadbd", "mysqld") if use_mysql else ()) + (("redis-server",) if use_redis else ())
        infra = pids_named(*infra_names) if infra_names else []
        infra_before = sum(tree_cpu_seconds(pid) for pid in infra)
        results: list[RunResult] = []
        for run in range(1, args.runs + 1):
            if time.monotonic() - started > TOTAL_BUDGET:
                print(f"budget: stopping after {run - 1} runs (time limit)", flush=True)
                break
            result = replicate_run(
                api=api,
                sim_url=sim_url,
                http=http,
                trade_id=f"BENCH-{stamp}-{run}",
                followers=args.followers,
                label=f"run {run}",
            )
            results.append(result)
            print(
                f"run {run}: last ack {ms(result.last_ack)} ms "
                f"(ratio {result.last_ack * 1000 / args.latency_ms:.2f}), "
                f"first order sent {ms(result.first_sent)} ms, last sent {ms(result.last_sent)} ms, "
                f"API answered {ms(result.api_answer)} ms, {result.orders} orders, 0 duplicates",
                flush=True,
            )
        if not results:
            raise BenchError("no measured run")
        orders = sum(r.orders for r in results)
        web_cpu = tree_cpu_seconds(web.pid) - web_before
        worker_cpu = sum(tree_cpu_seconds(w.pid) for w in workers) - worker_before
        ours = web_cpu + worker_cpu
        for profiler in profilers:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(timeout=30)
            group.forget(profiler)
        sim_cpu = tree_cpu_seconds(sim.pid) - sim_before
        infra_cpu = sum(tree_cpu_seconds(pid) for pid in infra) - infra_before
        group.check_alive()

        lasts = [r.last_ack * 1000 for r in results]
        median = statistics.median(lasts)
        L = args.latency_ms
        print(
            f"first order sent after: median {statistics.median(r.first_sent for r in results) * 1000:.1f} ms"
        )
        print(
            f"last order sent after: median {statistics.median(r.last_sent for r in results) * 1000:.1f} ms"
        )
        print(
            f"API answer (all SUCCESS, upper bound): min {min(r.api_answer for r in results) * 1000:.1f} "
            f"median {statistics.median(r.api_answer for r in results) * 1000:.1f} "
            f"max {max(r.api_answer for r in results) * 1000:.1f} ms"
        )
        print(
            f"web cpu: {web_cpu / orders * 1000:.2f} ms per order; "
            f"worker cpu: {worker_cpu / orders * 1000:.2f} ms per order"
        )
        print(f"simulator cpu: {sim_cpu / orders * 1000:.2f} ms per order (not ours)")
        if infra:
            print(
                f"{'+'.join(infra_names)} cpu: {infra_cpu / orders * 1000:.2f} ms per order "
                "(shared servers, not counted)"
            )
        print(
            f"correctness: {orders} orders in {len(results)} runs, "
            f"exactly {args.followers} per run, 0 duplicates"
        )
        print(f"cpu: {ours / orders * 1000:.2f} ms per follower order (web+worker), target <= 2.00")
        print(
            f"fanout: followers={args.followers} L={L}ms runs={len(results)} min={min(lasts):.1f} "
            f"median={median:.1f} max={max(lasts):.1f} ms ratio_median={median / L:.2f} "
            f"ratio_max={max(lasts) / L:.2f} target<=2.00",
            flush=True,
        )
        ok = True
        return 0
    except KeyboardInterrupt:
        print("fanout: interrupted", file=sys.stderr)
        return 130
    except (BenchError, RuntimeError, requests.RequestException) as exc:
        print(f"fanout: FAILED: {exc}", file=sys.stderr)
        for name in ("web", "worker", "simulator"):
            tail = group.log_tail(name, 2000)
            if tail.strip():
                print(f"--- {name} log (tail)\n{tail}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        group.stop()
        if use_redis:
            try:
                redis_flush()
            except Exception as exc:  # teardown must not hide the result
                print(f"fanout: redis cleanup failed: {exc}", file=sys.stderr)
        if use_mysql and not args.keep:
            try:
                mysql_recreate(drop_only=True)
            except Exception as exc:
                print(f"fanout: database cleanup failed: {exc}", file=sys.stderr)
        if args.keep or not ok:
            print(f"fanout: logs kept in {tmp / 'logs'}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
