"""Fan-out benchmark (DESIGN.md section 9, issue 10): master trades replicated to followers on the real stack.

Starts, on loopback only and on free ports: the Alice Blue simulator (its own process, place-order latency
L injected through /sim/faults, wrapped by bench/_timed_sim.py for sub-millisecond acknowledgement times),
gunicorn (the Django API) and Celery workers (threads pool), on MariaDB and Redis when they answer on
127.0.0.1:3306 / :6379 (database --mysql-db, Redis db --redis-db), else SQLite and the filesystem broker in
a temp dir. Followers are created once, through the REST API, each a distinct simulator account with its own
session: as many as the largest phase needs (1,000 for the whole benchmark). A run replicates to the first N
of them: `POST /api/trades/copy-selected` up to its limit of 500 ids, `POST /api/trades/replicate` (every
active follower) when N is all of them. A run's latency is t0 (just before the request) -> the simulator's
last place-order acknowledgement.

Phases (`--only` runs some of them):
- target: 100 followers, L = 100 ms, a warm-up and 5 runs: last acknowledgement (<= 1.5 x L median,
  <= 2 x L worst), first order on the wire (<= 20 ms), the API's answer (<= L + 50 ms median) and our CPU
  (web + worker process trees, <= 1 ms per follower order).
- curve: 10 / 100 / 500 / 1,000 followers (a warm-up per size, then 5 runs up to 100 followers and 3 above;
  the 100 row is the target runs when both phases run); 1,000 followers <= 3 x L median. A PNG under var/
  when matplotlib is importable.
- load: 500 followers x 20 master trades in one minute (one every 3 s, each a distinct master order id, each
  sent from its own thread with `?wait=0` so no request waits on another): every order acknowledged within
  2 s of its trade, nothing left unacknowledged at the end of the minute, 0 duplicates, 0 lost.

Every run and the load are checked against the simulator, not assumed: one order in the ledger per mapping's
tag, one place-order request per tag (the /bench/acks records), no other order added to the ledger, every
mapping ACTIVE with the ledger's order id. A failed check fails the benchmark (exit status 1); a missed
target is a figure (its ratio above 1.00).

CPU per follower order = user+sys CPU of the web and worker process trees (from /proc) from just before each
request to 0.2 s after its answer (the benchmark's own checks afterwards are not counted), divided by the
orders placed; the simulator's CPU is printed separately (it is not ours). Beat is not run (its periodic
work would add unrelated load): the follower risk snapshots it refreshes every 30 s are primed once and kept
fresh for the whole benchmark with REPLICATION_RISK_SNAPSHOT_MAX_AGE. The max-concurrent-trades rule is
raised to its maximum (the load gives each follower 20 open trades), so it is still evaluated every time.

Run: .venv/bin/python bench/fanout_bench.py [--only target,curve,load] [--followers 100] [--runs 5]
     [--latency-ms 100] [--curve 10,100,500,1000] [--load-followers 500 --load-trades 20 --load-interval 3]
     [--mysql-db copytrade_bench] [--redis-db 14] [--keep]
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
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
QA_SECRET = secrets.token_urlsafe(24)
HEADERS = {"x-qa-secret": QA_SECRET}
TOTAL_BUDGET = 480.0  # seconds: the default benchmark (every phase) stays under 8 minutes
PHASES = ("target", "curve", "load")
COPY_SELECTED_MAX = 500  # replication/serializers.py MAX_SELECTED_FOLLOWERS
MAX_CONCURRENT_TRADES = 10_000  # accounts/validators.py CONCURRENT_TRADES_MAX
SNAPSHOT_MAX_AGE = 3600  # seconds: the primed risk snapshots stay fresh for the whole benchmark
CREATE_THREADS = 16  # gunicorn's 2 workers x 8 threads
CPU_SETTLE = 0.2  # seconds after a run's answer before its CPU window closes

# DESIGN.md section 9 targets
LAST_ACK_MEDIAN_X_L = 1.5
LAST_ACK_WORST_X_L = 2.0
FIRST_SENT_MS = 20.0
API_ANSWER_PLUS_MS = 50.0  # the API answers within L + 50 ms (median)
CPU_MS_PER_ORDER = 1.0
CURVE_1000_MEDIAN_X_L = 3.0
LOAD_ACK_WITHIN_S = 2.0


@dataclass
class RunResult:
    label: str
    followers: int
    endpoint: str
    last_ack: float  # t0 -> last place-order acknowledged by the simulator (s)
    first_sent: float  # t0 -> first place-order request arrived at the simulator
    last_sent: float  # t0 -> last place-order request arrived at the simulator
    api_answer: float  # t0 -> the API answered (all SUCCESS: an upper bound)
    orders: int
    web_cpu: float  # CPU seconds of the web tree from just before the request to CPU_SETTLE after its answer
    worker_cpu: float  # the same for the worker trees

    @property
    def cpu_ms_per_order(self) -> float:
        return (self.web_cpu + self.worker_cpu) / self.orders * 1000


@dataclass
class CurveRow:
    followers: int
    endpoint: str
    runs: list[RunResult]

    @property
    def orders(self) -> int:
        return sum(r.orders for r in self.runs)

    def median(self, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in self.runs)

    def worst(self, attr: str) -> float:
        return max(getattr(r, attr) for r in self.runs)

    @property
    def cpu_ms_per_order(self) -> float:
        return sum(r.web_cpu + r.worker_cpu for r in self.runs) / self.orders * 1000


@dataclass
class LoadTrade:
    trade_id: str
    scheduled: float  # seconds after the load's start
    late: float = 0.0  # how long after its scheduled time the request went out
    t0: float = 0.0  # wall clock just before the request
    api_answer: float = 0.0
    error: str = ""
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExactlyOnce:
    """What the simulator's ledger and request records say about a set of follower orders."""

    # ledger orders beyond the first per tag, plus place-order requests beyond one per tag
    duplicates: int = 0
    missing: int = 0  # (trade, follower) pairs expected with no order in the ledger
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.duplicates and not self.missing


class BenchError(RuntimeError):
    pass


def int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: {text!r}") from exc
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"want positive integers: {text!r}")
    return values


def phase_list(text: str) -> list[str]:
    phases = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [p for p in phases if p not in PHASES]
    if unknown or not phases:
        raise argparse.ArgumentTypeError(f"phases are {', '.join(PHASES)} (comma-separated), not {text!r}")
    return phases


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only",
        type=phase_list,
        default=list(PHASES),
        metavar="PHASES",
        help="comma-separated subset of target,curve,load (default: all three)",
    )
    parser.add_argument("--followers", type=int, default=100, help="followers of the target runs")
    parser.add_argument("--runs", type=int, default=5, help="measured target runs (after one warm-up)")
    parser.add_argument("--latency-ms", type=int, default=100, help="L: injected on every place-order")
    parser.add_argument(
        "--curve", type=int_list, default=[10, 100, 500, 1000], help="follower counts of the scaling curve"
    )
    parser.add_argument(
        "--curve-runs",
        type=int,
        default=0,
        help="measured runs per curve size (default: 5 up to 100 followers, 3 above)",
    )
    parser.add_argument("--load-followers", type=int, default=500)
    parser.add_argument("--load-trades", type=int, default=20)
    parser.add_argument("--load-interval", type=float, default=3.0, help="seconds between load trades")
    parser.add_argument(
        "--mysql-db", default="copytrade_bench", help="MariaDB database (dropped and made anew)"
    )
    parser.add_argument("--redis-db", type=int, default=14, help="Redis database number (flushed)")
    parser.add_argument(
        "--budget", type=float, default=TOTAL_BUDGET, help="seconds before runs are cut short"
    )
    parser.add_argument(
        "--plot",
        default=str(ROOT / "var" / "fanout-curve.png"),
        help="PNG of the curve (only when matplotlib is importable; '' for none)",
    )
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
        help="py-spy binary: record web and worker during the measured target runs",
    )
    args = parser.parse_args()
    if args.curve_runs < 0 or args.runs < 1 or args.followers < 1:
        parser.error("--runs and --followers must be positive, --curve-runs not negative")
    if args.load_trades < 1 or args.load_followers < 1 or args.load_interval <= 0:
        parser.error("--load-followers, --load-trades and --load-interval must be positive")
    sizes = follower_sizes(args)
    total = max(sizes)
    too_many = sorted({n for n in sizes if COPY_SELECTED_MAX < n < total})
    if too_many:
        parser.error(
            f"{too_many}: above copy-selected's {COPY_SELECTED_MAX} ids a run replicates to every follower, "
            f"so such a size must be the largest ({total})"
        )
    return args


def follower_sizes(args: argparse.Namespace) -> list[int]:
    sizes = []
    if "target" in args.only:
        sizes.append(args.followers)
    if "curve" in args.only:
        sizes.extend(args.curve)
    if "load" in args.only:
        sizes.append(args.load_followers)
    return sizes


def curve_runs(args: argparse.Namespace, followers: int) -> int:
    return args.curve_runs or (5 if followers <= 100 else 3)


# -- backends ------------------------------------------------------------------------------------------------


def mysql_available() -> bool:
    if not tcp_open("127.0.0.1", 3306):
        return False
    try:
        import MySQLdb  # noqa: F401 - installed with the `mysql` extra only
    except ImportError:
        return False
    return True


def mysql_recreate(database: str, drop_only: bool = False) -> None:
    import MySQLdb

    conn = MySQLdb.connect(host="127.0.0.1", port=3306, user="root")
    try:
        cursor = conn.cursor()
        cursor.execute(f"DROP DATABASE IF EXISTS `{database}`")
        if not drop_only:
            cursor.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    finally:
        conn.close()


def redis_client(db: int) -> Any:
    import redis

    return redis.Redis(host="127.0.0.1", port=6379, db=db)


def queue_depth(args: argparse.Namespace, use_redis: bool, tmp: Path) -> int:
    """Celery messages waiting in the broker (not yet taken by a worker)."""
    if use_redis:
        client = redis_client(args.redis_db)
        return sum(
            client.llen(key) for key in client.scan_iter("celery*") if client.type(key) in (b"list", "list")
        )
    folder = tmp / "celery-broker" / "queue"
    return sum(1 for _ in folder.iterdir()) if folder.exists() else 0


# -- the stack -----------------------------------------------------------------------------------------------


def stack_env(
    *, args: argparse.Namespace, tmp: Path, sim_url: str, use_mysql: bool, use_redis: bool, pool: int
) -> dict[str, str]:
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
            # The bench runs at any hour: the copy window (on by default in a real install) would skip
            # every entry outside NSE hours.
            "COPYTRADE_COPY_WINDOW_DEFAULT": "0",
            "DATABASE_URL": (
                f"mysql://root@127.0.0.1:3306/{args.mysql_db}"
                if use_mysql
                else f"sqlite:///{tmp / 'bench.sqlite3'}"
            ),
            "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{args.redis_db}" if use_redis else "filesystem://",
            "CELERY_BROKER_FOLDER": str(tmp / "celery-broker"),
            "ALICE_API_FLAVOR": "openapi",
            "ALICE_API_BASE_URL": sim_url,
            "ALICE_CONTRACT_MASTER_URL": f"{sim_url}/restpy/static/contract_master/V2/",
            "ALICE_HTTP_POOL_SIZE": str(pool),
            "REPLICATION_SYNC_TIMEOUT": "10",
            "REPLICATION_RISK_SNAPSHOT_MAX_AGE": str(SNAPSHOT_MAX_AGE),
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


@dataclass
class Bench:
    """The running stack and what every phase needs of it."""

    api: str
    sim_url: str
    latency_ms: int
    followers: list[str]  # every follower created, sorted
    web: Any
    workers: list[Any]
    group: ProcessGroup
    http: requests.Session

    def cpu(self) -> tuple[float, float]:
        """CPU seconds so far of the web tree and of the worker trees."""
        return tree_cpu_seconds(self.web.pid), sum(tree_cpu_seconds(w.pid) for w in self.workers)

    def ledger_total(self) -> int:
        return int(self.http.get(f"{self.sim_url}/bench/ledger", timeout=30).json()["total"])


# -- followers -----------------------------------------------------------------------------------------------


def create_followers(api: str, sim_url: str, count: int) -> list[str]:
    """Each follower: its own simulator account and session, created through the REST API."""
    local = threading.local()

    def one(index: int) -> str:
        http = getattr(local, "http", None)
        if http is None:
            http = local.http = requests.Session()
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
                {
                    "followerId": follower_id,
                    "clientId": user_id,
                    "name": f"Bench follower {index}",
                    "accessToken": session_id,
                },
            ),
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
            answer = http.post(f"{api}/api/{path}", json=body, headers=HEADERS, timeout=30)
            if answer.status_code >= 300:
                raise BenchError(
                    f"POST /api/{path} for {follower_id}: {answer.status_code} {answer.text[:300]}"
                )
        return follower_id

    with ThreadPoolExecutor(max_workers=CREATE_THREADS) as pool:
        created = list(pool.map(one, range(1, count + 1)))
    wait_sessions_verified(api, set(created), timeout=max(120.0, count * 0.2))
    return sorted(created)


def wait_sessions_verified(api: str, follower_ids: set[str], timeout: float) -> None:
    """A stored token is UNVERIFIED until the workers' background check proves it: wait for every one."""
    deadline = time.monotonic() + timeout
    waiting = set(follower_ids)
    while waiting and time.monotonic() < deadline:
        answer = requests.get(f"{api}/api/followers", headers=HEADERS, timeout=30)
        valid = {f["follower_id"] for f in answer.json()["followers"] if f["session_status"] == "VALID"}
        waiting -= valid
        if waiting:
            time.sleep(0.5)
    if waiting:
        raise BenchError(f"{len(waiting)} follower sessions not verified after {timeout:.0f} s")


def raise_concurrent_trades_limit(api: str) -> None:
    """Every follower gets more open copied trades here than the default limit of 10 allows."""
    answer = requests.post(
        f"{api}/api/admin/settings",
        json={"maxConcurrentTrades": MAX_CONCURRENT_TRADES},
        headers=HEADERS,
        timeout=30,
    )
    if answer.status_code != 200:
        raise BenchError(f"POST /api/admin/settings: {answer.status_code} {answer.text[:300]}")


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

    def answered(path: str) -> int:
        log = requests.get(f"{sim_url}/sim/requests", params={"path": path}, timeout=30).json()["requests"]
        return sum(1 for r in log if r["status"])

    deadline = time.monotonic() + max(20.0, followers * 0.05)
    positions = limits = 0
    while time.monotonic() < deadline:
        positions, limits = answered("/positions"), answered("/limits")
        if positions >= followers and limits >= followers:
            time.sleep(0.5)  # the last snapshot rows are written after the broker answers
            return f"refreshed for {followers} followers"
        time.sleep(0.5)
    return f"not refreshed (positions reads {positions}, limits reads {limits}): the fan-out reads live"


# -- checks --------------------------------------------------------------------------------------------------


def mappings_of(bench: Bench, trade_id: str) -> list[dict[str, Any]]:
    answer = bench.http.get(
        f"{bench.api}/api/trades/replicate", params={"masterOrderId": trade_id}, headers=HEADERS, timeout=60
    )
    answer.raise_for_status()
    return answer.json()["mappings"]


def settled_mappings(bench: Bench, trade_ids: list[str], settle: float = 20.0) -> list[dict[str, Any]]:
    """Every trade's mappings, read again while some are not ACTIVE yet (the worker writes ACTIVE just after
    the broker's answer), for at most `settle` seconds."""
    deadline = time.monotonic() + settle
    rows = {trade_id: mappings_of(bench, trade_id) for trade_id in trade_ids}
    while time.monotonic() < deadline:
        waiting = [t for t, mappings in rows.items() if any(m["status"] != "ACTIVE" for m in mappings)]
        if not waiting:
            break
        time.sleep(0.5)
        rows.update({trade_id: mappings_of(bench, trade_id) for trade_id in waiting})
    return [m for mappings in rows.values() for m in mappings]


def exactly_once(
    bench: Bench,
    *,
    mappings: list[dict[str, Any]],
    expected: dict[str, set[str]],
    acks: list[dict[str, Any]],
    ledger_before: int,
) -> ExactlyOnce:
    """Check the follower orders of one or more trades (`expected`: trade id -> follower ids) against the
    simulator's ledger and its place-order records: one order and one request per mapping's tag, no other
    order added to the ledger since `ledger_before`, every mapping ACTIVE with the ledger's order id."""
    result = ExactlyOnce()
    by_trade: dict[str, list[dict[str, Any]]] = {}
    for m in mappings:
        by_trade.setdefault(m["master_order_id"], []).append(m)
    for trade_id, followers in expected.items():
        rows = by_trade.get(trade_id, [])
        got = {m["follower_id"] for m in rows}
        if len(rows) != len(followers) or got != followers:
            result.problems.append(
                f"{trade_id}: {len(rows)} mappings for {len(got)} followers (want {len(followers)}, "
                f"{len(followers - got)} without one, {len(got - followers)} not selected)"
            )
    tags = {m["order_tag"]: m for m in mappings}
    if len(tags) != len(mappings):
        result.problems.append(f"{len(mappings)} mappings share {len(tags)} distinct tags")

    answer = bench.http.post(f"{bench.sim_url}/bench/ledger", json={"tags": sorted(tags)}, timeout=60)
    answer.raise_for_status()
    ledger = answer.json()
    per_tag = Counter(o["orderTag"] for o in ledger["orders"])
    result.duplicates += sum(count - 1 for count in per_tag.values() if count > 1)
    placed = {
        (m["master_order_id"], m["follower_id"])
        for m in mappings
        if per_tag[m["order_tag"]] and m["follower_id"] in expected.get(m["master_order_id"], ())
    }
    result.missing = sum(len(ids) for ids in expected.values()) - len(placed)
    added = ledger["total"] - ledger_before
    if added != len(ledger["orders"]):
        result.problems.append(
            f"the ledger grew by {added} orders, {len(ledger['orders'])} of them with these trades' tags"
        )
    order_ids = {o["orderTag"]: o["orderId"] for o in ledger["orders"]}
    not_active = [m for m in mappings if m["status"] != "ACTIVE" or not m["follower_order_id"]]
    if not_active:
        statuses = Counter(m["status"] for m in not_active)
        result.problems.append(f"{len(not_active)} mappings not ACTIVE with an order id: {dict(statuses)}")
    mismatched = [
        m
        for m in mappings
        if m["order_tag"] in order_ids and m["follower_order_id"] != order_ids[m["order_tag"]]
    ]
    if mismatched:
        result.problems.append(f"{len(mismatched)} mappings' order ids differ from the ledger's")

    requests_per_tag = Counter(tag for a in acks for tag in a["tags"] if tag in tags)
    result.duplicates += sum(count - 1 for count in requests_per_tag.values() if count > 1)
    unexpected = sum(1 for a in acks for tag in a["tags"] if tag not in tags)
    if unexpected:
        result.problems.append(f"{unexpected} place-order requests with a tag of no mapping here")
    refused = sum(1 for a in acks if a["status"] != 200 and set(a["tags"]) & tags.keys())
    if refused:
        result.problems.append(f"{refused} place-order requests answered other than HTTP 200")
    unplaced = sum(1 for tag in tags if not per_tag[tag])
    no_request = sum(1 for tag in tags if not requests_per_tag[tag])
    if no_request != unplaced:
        result.problems.append(
            f"{no_request} tags without a place-order request, {unplaced} without an order"
        )
    return result


# -- one run -------------------------------------------------------------------------------------------------


def trade_body(trade_id: str) -> dict[str, Any]:
    return {
        "id": trade_id,
        "symbol": "SBIN",
        "side": "BUY",
        "quantity": 10,
        "exchange": "NSE",
        "product_type": "MIS",
        "order_type": "MARKET",
    }


def send_trade(
    bench: Bench,
    http: requests.Session,
    trade_id: str,
    followers: Sequence[str],
    *,
    wait: float | None = None,
) -> tuple[str, requests.Response]:
    """POST the trade to `followers`: copy-selected up to its limit, replicate when they are all of them."""
    params = {} if wait is None else {"wait": str(wait)}
    if len(followers) <= COPY_SELECTED_MAX:
        body = {"trade": trade_body(trade_id), "follower_ids": list(followers)}
        path = "trades/copy-selected"
    elif list(followers) == bench.followers:
        body = {"trade": trade_body(trade_id)}
        path = "trades/replicate"
    else:
        raise BenchError(f"{len(followers)} followers: neither a copy-selected selection nor all of them")
    answer = http.post(f"{bench.api}/api/{path}", json=body, params=params, headers=HEADERS, timeout=60)
    return path.split("/")[1], answer


def replicate_run(bench: Bench, *, trade_id: str, followers: Sequence[str], label: str) -> RunResult:
    http = bench.http
    http.delete(f"{bench.sim_url}/bench/acks", timeout=10).raise_for_status()
    ledger_before = bench.ledger_total()
    web_before, worker_before = bench.cpu()
    t0 = time.time()
    endpoint, answer = send_trade(bench, http, trade_id, followers)
    api_answer = time.time() - t0
    time.sleep(CPU_SETTLE)  # the last placement tasks finish (task acknowledgement) just after the answer
    web_after, worker_after = bench.cpu()
    if answer.status_code != 200:
        raise BenchError(f"{endpoint} {trade_id}: HTTP {answer.status_code} {answer.text[:500]}")
    body = answer.json()
    summary = body["summary"]
    answered_ids = {r["follower_id"] for r in body["results"]}
    if summary["successful"] + summary["pending"] != len(followers) or answered_ids != set(followers):
        raise BenchError(
            f"{endpoint} {trade_id}: expected {len(followers)} SUCCESS for the selected followers, "
            f"got {summary} for {len(answered_ids & set(followers))} of them"
        )
    if summary["pending"]:
        print(f"  {label}: answered with {summary['pending']} PENDING (REPLICATION_SYNC_TIMEOUT)", flush=True)

    mappings = settled_mappings(bench, [trade_id])
    acks = bench.http.get(f"{bench.sim_url}/bench/acks", timeout=60).json()["acks"]
    check = exactly_once(
        bench,
        mappings=mappings,
        expected={trade_id: set(followers)},
        acks=acks,
        ledger_before=ledger_before,
    )
    if not check.ok:
        raise BenchError(
            f"{label} ({trade_id}, {len(followers)} followers): duplicates {check.duplicates}, "
            f"missing {check.missing}; {'; '.join(check.problems)}"
        )
    return RunResult(
        label=label,
        followers=len(followers),
        endpoint=endpoint,
        last_ack=max(a["acked"] for a in acks) - t0,
        first_sent=min(a["arrived"] for a in acks) - t0,
        last_sent=max(a["arrived"] for a in acks) - t0,
        api_answer=api_answer,
        orders=len(acks),
        web_cpu=web_after - web_before,
        worker_cpu=worker_after - worker_before,
    )


def run_line(result: RunResult, latency_ms: int) -> str:
    return (
        f"{result.label}: {result.followers} followers ({result.endpoint}): last ack "
        f"{ms(result.last_ack)} ms ({result.last_ack * 1000 / latency_ms:.2f} x L), first order sent "
        f"{ms(result.first_sent)} ms, last sent {ms(result.last_sent)} ms, API answered "
        f"{ms(result.api_answer)} ms, cpu {result.cpu_ms_per_order:.2f} ms/order, {result.orders} orders, "
        "exactly once"
    )


def warm_up(bench: Bench, *, followers: int, prefix: str, stamp: str) -> None:
    """One run to the first `followers` followers, checked like the others but not counted (the first orders
    to a follower open its HTTP connection in each worker process)."""
    warm = replicate_run(
        bench, trade_id=f"BENCH-{stamp}-{prefix}W", followers=bench.followers[:followers], label="warm-up"
    )
    print(
        f"  warm-up (not counted): {followers} followers, last ack {ms(warm.last_ack)} ms, "
        f"API answer {ms(warm.api_answer)} ms",
        flush=True,
    )


def measured_runs(
    bench: Bench, *, followers: int, runs: int, prefix: str, stamp: str, deadline: float
) -> list[RunResult]:
    """Up to `runs` runs to the first `followers` followers (fewer when past the deadline)."""
    selected = bench.followers[:followers]
    results: list[RunResult] = []
    for run in range(1, runs + 1):
        if time.monotonic() > deadline:
            print(f"  budget: stopping after {run - 1} of {runs} runs (time limit)", flush=True)
            break
        result = replicate_run(
            bench, trade_id=f"BENCH-{stamp}-{prefix}{run}", followers=selected, label=f"  run {run}"
        )
        results.append(result)
        print(run_line(result, bench.latency_ms), flush=True)
    if not results:
        raise BenchError(f"no measured run with {followers} followers")
    return results


# -- phases --------------------------------------------------------------------------------------------------


def phase_target(
    bench: Bench,
    args: argparse.Namespace,
    *,
    sim: Any,
    use_mysql: bool,
    use_redis: bool,
    stamp: str,
    deadline: float,
) -> tuple[CurveRow, list[str]]:
    print(f"== target: {args.followers} followers, L = {args.latency_ms} ms, {args.runs} runs", flush=True)
    warm_up(bench, followers=args.followers, prefix="T", stamp=stamp)
    profilers = []
    if args.py_spy:
        logs = bench.group.log_dir
        for name, proc in (("web", bench.web), *((f"worker{i}", w) for i, w in enumerate(bench.workers))):
            argv = [args.py_spy, "record", "-p", str(proc.pid), "-o", str(logs / f"profile-{name}.txt")]
            argv += ["-f", "raw", "-r", "250"] + (["--gil"] if os.environ.get("PYSPY_GIL") else [])
            profilers.append(bench.group.start(f"py-spy-{name}", [*argv, "--subprocesses"]))
        time.sleep(1.0)
    sim_before = tree_cpu_seconds(sim.pid)
    infra_names = (("mariadbd", "mysqld") if use_mysql else ()) + (("redis-server",) if use_redis else ())
    infra = pids_named(*infra_names) if infra_names else []
    infra_before = sum(tree_cpu_seconds(pid) for pid in infra)
    web_before, worker_before = bench.cpu()
    results = measured_runs(
        bench, followers=args.followers, runs=args.runs, prefix="T", stamp=stamp, deadline=deadline
    )
    web_after, worker_after = bench.cpu()
    for profiler in profilers:
        profiler.send_signal(signal.SIGINT)
        profiler.wait(timeout=30)
        bench.group.forget(profiler)
    sim_cpu = tree_cpu_seconds(sim.pid) - sim_before
    infra_cpu = sum(tree_cpu_seconds(pid) for pid in infra) - infra_before
    row = CurveRow(followers=args.followers, endpoint=results[0].endpoint, runs=results)
    orders = row.orders
    web_cpu = sum(r.web_cpu for r in results)
    worker_cpu = sum(r.worker_cpu for r in results)
    print(
        f"  cpu: web {web_cpu / orders * 1000:.2f} + worker {worker_cpu / orders * 1000:.2f} ms per order; "
        f"simulator {sim_cpu / orders * 1000:.2f} ms per order (not ours, whole runs)"
        + (
            f"; {'+'.join(infra_names)} {infra_cpu / orders * 1000:.2f} ms per order (shared servers, "
            "not counted)"
            if infra
            else ""
        ),
        flush=True,
    )
    whole = web_after - web_before + worker_after - worker_before
    print(
        f"  cpu over the runs with the benchmark's read-backs between them (the earlier method): "
        f"{whole / orders * 1000:.2f} ms per order",
        flush=True,
    )
    print(f"  correctness: {orders} orders in {len(results)} runs, each exactly once", flush=True)
    return row, target_figures(row, args.latency_ms, web_cpu=web_cpu, worker_cpu=worker_cpu)


def phase_curve(
    bench: Bench, args: argparse.Namespace, *, reuse: CurveRow | None, stamp: str, deadline: float
) -> tuple[list[CurveRow], list[str]]:
    print(
        f"== curve: {', '.join(str(n) for n in args.curve)} followers, L = {args.latency_ms} ms", flush=True
    )
    rows = []
    for followers in args.curve:
        if reuse is not None and reuse.followers == followers:
            print(f"  {followers} followers: the target runs ({len(reuse.runs)})", flush=True)
            rows.append(reuse)
            continue
        if time.monotonic() > deadline:
            print(f"  budget: {followers} followers skipped (time limit)", flush=True)
            continue
        print(f"  {followers} followers: warm-up + {curve_runs(args, followers)} runs", flush=True)
        warm_up(bench, followers=followers, prefix=f"C{followers}-", stamp=stamp)
        results = measured_runs(
            bench,
            followers=followers,
            runs=curve_runs(args, followers),
            prefix=f"C{followers}-",
            stamp=stamp,
            deadline=deadline,
        )
        rows.append(CurveRow(followers=followers, endpoint=results[0].endpoint, runs=results))
    print_curve_table(rows, args.latency_ms)
    figures = []
    for row in rows:
        if row.followers == 1000:
            median = row.median("last_ack") * 1000
            target = CURVE_1000_MEDIAN_X_L * args.latency_ms
            figures.append(
                figure(
                    "curve_1000_last_ack",
                    f"followers=1000 L={args.latency_ms}ms runs={len(row.runs)} median={median:.1f}ms "
                    f"({median / args.latency_ms:.2f}xL) max={row.worst('last_ack') * 1000:.1f}ms",
                    ratio_median=median / target,
                    target=f" median<={target:.0f}ms({CURVE_1000_MEDIAN_X_L:.1f}xL)",
                )
            )
    plot_curve(rows, args)
    return rows, figures


def print_curve_table(rows: list[CurveRow], latency_ms: int) -> None:
    header = (
        f"{'followers':>9} {'runs':>4} {'endpoint':>13} {'median ms':>9} {'worst ms':>8} {'median xL':>9} "
        f"{'worst xL':>8} {'1st sent ms':>11} {'API ms':>7} {'cpu ms/order':>12}"
    )
    print(header)
    for row in rows:
        median, worst = row.median("last_ack") * 1000, row.worst("last_ack") * 1000
        print(
            f"{row.followers:>9} {len(row.runs):>4} {row.endpoint:>13} {median:>9.1f} {worst:>8.1f} "
            f"{median / latency_ms:>9.2f} {worst / latency_ms:>8.2f} "
            f"{row.median('first_sent') * 1000:>11.1f} {row.median('api_answer') * 1000:>7.1f} "
            f"{row.cpu_ms_per_order:>12.2f}",
            flush=True,
        )
    print("  (last ack: median and worst of the runs; first order sent and API answer: medians)")


def plot_curve(rows: list[CurveRow], args: argparse.Namespace) -> None:
    """The curve as a PNG, when matplotlib is importable (an optional extra, not a dependency)."""
    if not args.plot or not rows:
        return
    try:
        importlib.import_module("matplotlib").use(
            "Agg"
        )  # imported by name: no stubs needed where it is absent
        plt = importlib.import_module("matplotlib.pyplot")
    except ImportError:
        print("  plot: skipped (matplotlib is not installed; it is optional)")
        return
    latency = args.latency_ms
    xs = [row.followers for row in rows]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(xs, [row.median("last_ack") * 1000 / latency for row in rows], "o-", label="median")
    ax.plot(xs, [row.worst("last_ack") * 1000 / latency for row in rows], "x--", label="worst")
    ax.axhline(1.0, color="grey", linewidth=0.8, label="1 x L (all orders in flight at once)")
    ax.plot([100], [LAST_ACK_MEDIAN_X_L], "g^", label="target at 100: median <= 1.5 x L")
    ax.plot([1000], [CURVE_1000_MEDIAN_X_L], "gv", label="target at 1,000: median <= 3 x L")
    ax.set_xscale("log")
    ax.set_xlabel("followers")
    ax.set_ylabel(f"request -> last acknowledgement (x L, L = {latency} ms)")
    ax.set_title("Fan-out: last follower order acknowledged")
    ax.legend(fontsize="small")
    ax.grid(True, which="both", linewidth=0.3)
    path = Path(args.plot)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"  plot: {path}")


def phase_load(
    bench: Bench, args: argparse.Namespace, *, use_redis: bool, tmp: Path, stamp: str
) -> tuple[list[str], ExactlyOnce]:
    count, interval = args.load_followers, args.load_interval
    selected = bench.followers[:count]
    load = [
        LoadTrade(trade_id=f"BENCH-{stamp}-L{i + 1:02d}", scheduled=i * interval)
        for i in range(args.load_trades)
    ]
    expected, minute = count * len(load), len(load) * interval
    print(
        f"== load: {count} followers x {len(load)} trades, one every {interval:g} s ({expected} orders in "
        f"{minute:g} s), L = {args.latency_ms} ms",
        flush=True,
    )
    bench.http.delete(f"{bench.sim_url}/bench/acks", timeout=10).raise_for_status()
    ledger_before = bench.ledger_total()
    web_before, worker_before = bench.cpu()
    start = time.monotonic() + 0.5
    threads = [
        threading.Thread(target=load_fire, args=(bench, trade, selected, start), daemon=True)
        for trade in load
    ]
    for thread in threads:
        thread.start()
    watch = load_watch(
        bench, load, depth=lambda: queue_depth(args, use_redis, tmp), start=start, minute=minute, count=count
    )
    for thread in threads:
        thread.join(timeout=30)
    web_after, worker_after = bench.cpu()

    acks = bench.http.get(f"{bench.sim_url}/bench/acks", timeout=120).json()["acks"]
    mappings = settled_mappings(bench, [t.trade_id for t in load])
    check = exactly_once(
        bench,
        mappings=mappings,
        expected={t.trade_id: set(selected) for t in load},
        acks=acks,
        ledger_before=ledger_before,
    )
    check.problems.extend(f"{t.trade_id}: {t.error}" for t in load if t.error)
    latency = order_latencies(load, mappings, acks)
    completion: dict[str, float] = {}  # per trade: its request -> its last acknowledgement
    first_sent: dict[str, float] = {}  # per trade: its request -> its first order at the simulator
    trade_of_tag = {m["order_tag"]: m["master_order_id"] for m in mappings}
    for tag, (sent, acked) in latency.items():
        trade_id = trade_of_tag[tag]
        completion[trade_id] = max(completion.get(trade_id, 0.0), acked)
        first_sent[trade_id] = min(first_sent.get(trade_id, sent), sent)
    done, ordered = sorted(completion.values()), sorted(acked for _sent, acked in latency.values())
    over = sum(1 for seconds in ordered if seconds > LOAD_ACK_WITHIN_S) + max(0, expected - len(ordered))
    cpu = (web_after - web_before + worker_after - worker_before) / max(1, len(ordered)) * 1000
    answers = sorted(t.api_answer for t in load if t.t0)
    print(
        f"  trades: {len(load)} sent, each at most {max(t.late for t in load) * 1000:.1f} ms after its "
        f"scheduled time, {sum(1 for t in load if t.error)} with errors; API answered (wait=0) "
        f"median {ms(statistics.median(answers)) if answers else '-'} ms, "
        f"max {ms(answers[-1]) if answers else '-'} ms",
        flush=True,
    )
    if done:
        print(
            f"  per-trade completion (request -> its last ack): p50 {ms(percentile(done, 50))} ms, "
            f"p95 {ms(percentile(done, 95))} ms, max {ms(done[-1])} ms over {len(done)} trades; first order "
            f"on the wire median {ms(statistics.median(first_sent.values()))} ms, "
            f"max {ms(max(first_sent.values()))} ms",
            flush=True,
        )
        print(
            f"  per order (its trade's request -> its ack): p50 {ms(percentile(ordered, 50))} ms, "
            f"p95 {ms(percentile(ordered, 95))} ms, max {ms(ordered[-1])} ms; {over} of {expected} over "
            f"{LOAD_ACK_WITHIN_S:g} s (an order never acknowledged counts)",
            flush=True,
        )
    print(
        f"  all acknowledged {watch.drained:.1f} s after the minute; cpu {cpu:.2f} ms per order (web+worker, "
        f"the whole load); exactly once: duplicates {check.duplicates}, missing {check.missing}"
        + (f"; PROBLEMS: {'; '.join(check.problems)}" if check.problems else ""),
        flush=True,
    )

    limit_ms = LOAD_ACK_WITHIN_S * 1000
    figures = []
    if done:
        figures.append(
            figure(
                "load_trade_completion",
                f"followers={count} trades={len(load)} every={interval:g}s "
                f"p50={percentile(done, 50) * 1000:.1f}ms p95={percentile(done, 95) * 1000:.1f}ms "
                f"max={done[-1] * 1000:.1f}ms",
                ratio_median=percentile(done, 50) * 1000 / limit_ms,
                ratio_max=done[-1] * 1000 / limit_ms,
                target=f"<={limit_ms:.0f}ms(every order)",
            )
        )
    figures += [
        count_figure("load_orders_over_2s", over, f"of {expected} orders"),
        count_figure(
            "load_backlog",
            watch.backlog,
            f"orders unacknowledged at t={minute:g}s (broker queue {watch.queue_at_end})",
        ),
        count_figure("load_duplicates", check.duplicates, "(ledger orders and requests beyond one per tag)"),
        count_figure("load_missing", check.missing, f"of {expected} (no order in the ledger)"),
    ]
    return figures, check


def load_fire(bench: Bench, trade: LoadTrade, followers: Sequence[str], start: float) -> None:
    """One load trade, sent at its scheduled time from its own thread without waiting for the placements."""
    http = requests.Session()
    try:
        time.sleep(max(0.0, start + trade.scheduled - time.monotonic()))
        trade.late = time.monotonic() - start - trade.scheduled
        trade.t0 = time.time()
        endpoint, answer = send_trade(bench, http, trade.trade_id, followers, wait=0)
        trade.api_answer = time.time() - trade.t0
        if answer.status_code != 200:
            trade.error = f"{endpoint}: HTTP {answer.status_code} {answer.text[:300]}"
            return
        trade.summary = answer.json()["summary"]
        summary = trade.summary
        if summary["total_followers"] != len(followers) or summary["skipped"] or summary["failed"]:
            trade.error = f"{endpoint}: {summary}"
    except Exception as exc:  # reported with the trade; the load goes on
        trade.error = f"{type(exc).__name__}: {exc}"
    finally:
        http.close()


@dataclass
class LoadWatch:
    backlog: int  # orders not acknowledged at the end of the minute
    queue_at_end: int  # Celery messages waiting then
    drained: float  # seconds after the minute until every order was acknowledged (or the wait gave up)


def load_watch(
    bench: Bench,
    load: list[LoadTrade],
    *,
    depth: Callable[[], int],
    start: float,
    minute: float,
    count: int,
    drain: float = 60.0,
) -> LoadWatch:
    """Progress every 5 s; what is unacknowledged at the end of the minute; then wait for the rest."""
    expected = count * len(load)

    def acked() -> int:
        answer = bench.http.get(f"{bench.sim_url}/bench/acks", params={"countOnly": 1}, timeout=30)
        return int(answer.json()["count"])

    max_queue, next_report = 0, 5.0
    while (elapsed := time.monotonic() - start) < minute:
        max_queue = max(max_queue, depth())
        if elapsed >= next_report:
            sent = sum(1 for t in load if t.t0)
            print(
                f"  t={elapsed:4.1f}s: {sent} trades sent, {acked()}/{sent * count} orders acknowledged, "
                f"broker queue {depth()}",
                flush=True,
            )
            next_report += 5.0
        time.sleep(0.25)
    backlog, queue_at_end = expected - acked(), depth()
    print(
        f"  end of the minute (t={minute:g}s): {expected - backlog}/{expected} orders acknowledged, "
        f"{backlog} not yet; broker queue {queue_at_end} (at most {max(max_queue, queue_at_end)} seen)",
        flush=True,
    )
    deadline = time.monotonic() + drain
    while acked() < expected and time.monotonic() < deadline:
        time.sleep(0.25)
    return LoadWatch(backlog=backlog, queue_at_end=queue_at_end, drained=time.monotonic() - start - minute)


def order_latencies(
    load: list[LoadTrade], mappings: list[dict[str, Any]], acks: list[dict[str, Any]]
) -> dict[str, tuple[float, float]]:
    """Per order tag: its trade's request -> the order arriving at the simulator, and -> its acknowledgement
    (HTTP 200 answers only; the latest where a tag was sent twice)."""
    trade_t0 = {t.trade_id: t.t0 for t in load}
    t0_of_tag = {m["order_tag"]: trade_t0[m["master_order_id"]] for m in mappings}
    latency: dict[str, tuple[float, float]] = {}
    for ack in acks:
        for tag in ack["tags"]:
            if tag in t0_of_tag and ack["status"] == 200:
                times = (ack["arrived"] - t0_of_tag[tag], ack["acked"] - t0_of_tag[tag])
                latency[tag] = max(latency.get(tag, times), times)
    return latency


# -- figures -------------------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def percentile(ordered: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending sequence."""
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def figure(
    name: str, detail: str, *, target: str, ratio_median: float | None = None, ratio_max: float | None = None
) -> str:
    ratios = [r for r in (ratio_median, ratio_max) if r is not None]
    parts = [f"figure {name}: {detail}"]
    if ratio_median is not None:
        parts.append(f"ratio_median={ratio_median:.2f}")
    if ratio_max is not None:
        parts.append(f"ratio_max={ratio_max:.2f}")
    parts.append(f"target{target}")
    parts.append("met" if all(r <= 1.0 for r in ratios) else "MISSED")
    return " ".join(parts)


def count_figure(name: str, count: int, detail: str) -> str:
    return f"figure {name}: {count} {detail} target=0 {'met' if count == 0 else 'MISSED'}"


def target_figures(row: CurveRow, latency_ms: int, *, web_cpu: float, worker_cpu: float) -> list[str]:
    L = latency_ms
    n = f"followers={row.followers} L={L}ms runs={len(row.runs)}"
    median, worst = row.median("last_ack") * 1000, row.worst("last_ack") * 1000
    first_median, first_worst = row.median("first_sent") * 1000, row.worst("first_sent") * 1000
    api_median, api_worst = row.median("api_answer") * 1000, row.worst("api_answer") * 1000
    cpu_runs = [r.cpu_ms_per_order for r in row.runs]
    api_target = L + API_ANSWER_PLUS_MS
    return [
        figure(
            f"last_ack_{row.followers}",
            f"{n} median={median:.1f}ms ({median / L:.2f}xL) max={worst:.1f}ms ({worst / L:.2f}xL)",
            ratio_median=median / (LAST_ACK_MEDIAN_X_L * L),
            ratio_max=worst / (LAST_ACK_WORST_X_L * L),
            target=f" median<={LAST_ACK_MEDIAN_X_L * L:.0f}ms({LAST_ACK_MEDIAN_X_L:.1f}xL) "
            f"max<={LAST_ACK_WORST_X_L * L:.0f}ms({LAST_ACK_WORST_X_L:.1f}xL)",
        ),
        figure(
            f"first_order_sent_{row.followers}",
            f"{n} median={first_median:.1f}ms max={first_worst:.1f}ms",
            ratio_median=first_median / FIRST_SENT_MS,
            ratio_max=first_worst / FIRST_SENT_MS,
            target=f"<={FIRST_SENT_MS:.0f}ms",
        ),
        figure(
            f"api_answer_{row.followers}",
            f"{n} endpoint={row.endpoint} median={api_median:.1f}ms max={api_worst:.1f}ms",
            ratio_median=api_median / api_target,
            ratio_max=api_worst / api_target,
            target=f" median<={api_target:.0f}ms(L+{API_ANSWER_PLUS_MS:.0f}ms)",
        ),
        figure(
            f"cpu_per_order_{row.followers}",
            f"{n} {(web_cpu + worker_cpu) / row.orders * 1000:.2f}ms (web {web_cpu / row.orders * 1000:.2f} "
            f"+ worker {worker_cpu / row.orders * 1000:.2f}) per follower order; runs median "
            f"{statistics.median(cpu_runs):.2f} max {max(cpu_runs):.2f}",
            ratio_median=statistics.median(cpu_runs) / CPU_MS_PER_ORDER,
            ratio_max=max(cpu_runs) / CPU_MS_PER_ORDER,
            target=f"<={CPU_MS_PER_ORDER:.2f}ms",
        ),
    ]


# -- main ----------------------------------------------------------------------------------------------------


def main() -> int:
    args = parse_args()
    args.worker_concurrency = args.worker_concurrency or max(args.followers, 8)
    started = time.monotonic()
    deadline = started + args.budget
    total = max(follower_sizes(args))
    use_mysql = not args.sqlite and mysql_available()
    use_redis = not args.sqlite and tcp_open("127.0.0.1", 6379)
    tmp = Path(tempfile.mkdtemp(prefix="fanout-bench-"))
    (tmp / "logs").mkdir()
    web_port, sim_port = free_port(), free_port()
    sim_url, api = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{web_port}"
    env = stack_env(
        args=args,
        tmp=tmp,
        sim_url=sim_url,
        use_mysql=use_mysql,
        use_redis=use_redis,
        pool=max(200, 2 * total),
    )
    group = ProcessGroup(ROOT, env, tmp / "logs")

    def on_term(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    print(
        f"stack: db={f'mariadb/{args.mysql_db}' if use_mysql else 'sqlite'} "
        f"broker={f'redis/{args.redis_db}' if use_redis else 'filesystem'} "
        f"web=gunicorn {args.web_workers}x{args.web_threads} threads "
        f"worker={args.worker_processes}x celery threads -c {args.worker_concurrency} "
        f"LOG_LEVEL=WARNING cores={os.cpu_count()} phases={','.join(args.only)}",
        flush=True,
    )
    ok = False
    try:
        if use_mysql:
            mysql_recreate(args.mysql_db)
        if use_redis:
            redis_client(args.redis_db).flushdb()
        sim, web, workers = start_stack(group, args, web_port=web_port, sim_port=sim_port)
        setup_start = time.monotonic()
        followers = create_followers(api, sim_url, total)
        raise_concurrent_trades_limit(api)
        requests.post(
            f"{sim_url}/sim/faults", json={"endpoint": "placeorder", "latencyMs": args.latency_ms}, timeout=10
        ).raise_for_status()
        print(
            f"setup: {total} followers in {time.monotonic() - setup_start:.1f} s "
            f"(stack up after {setup_start - started:.1f} s); maxConcurrentTrades {MAX_CONCURRENT_TRADES}",
            flush=True,
        )
        if not args.no_risk_snapshot:
            print(f"risk snapshots: {prime_risk_snapshots(group, sim_url, total)}", flush=True)
        bench = Bench(
            api=api,
            sim_url=sim_url,
            latency_ms=args.latency_ms,
            followers=followers,
            web=web,
            workers=workers,
            group=group,
            http=requests.Session(),
        )
        stamp = time.strftime("%H%M%S")
        figures: list[str] = []
        target_row = None
        load_check = None
        if "target" in args.only:
            target_row, lines = phase_target(
                bench, args, sim=sim, use_mysql=use_mysql, use_redis=use_redis, stamp=stamp, deadline=deadline
            )
            figures += lines
        if "curve" in args.only:
            _rows, lines = phase_curve(bench, args, reuse=target_row, stamp=stamp, deadline=deadline)
            figures += lines
        if "load" in args.only:
            lines, load_check = phase_load(bench, args, use_redis=use_redis, tmp=tmp, stamp=stamp)
            figures += lines
        group.check_alive()

        print(
            f"== figures (ratio = measured / target; <= 1.00 met), {time.monotonic() - started:.0f} s in all"
        )
        for line in figures:
            print(line, flush=True)
        if load_check is not None and not load_check.ok:
            raise BenchError(
                f"load: duplicates {load_check.duplicates}, missing {load_check.missing}"
                + (f"; {'; '.join(load_check.problems)}" if load_check.problems else "")
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
                redis_client(args.redis_db).flushdb()
            except Exception as exc:  # teardown must not hide the result
                print(f"fanout: redis cleanup failed: {exc}", file=sys.stderr)
        if use_mysql and not args.keep:
            try:
                mysql_recreate(args.mysql_db, drop_only=True)
            except Exception as exc:
                print(f"fanout: database cleanup failed: {exc}", file=sys.stderr)
        if args.keep or not ok:
            print(f"fanout: logs kept in {tmp / 'logs'}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
