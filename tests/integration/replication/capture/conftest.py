"""Fixtures for master capture: a master account on the simulator, the poll driven like beat drives it, the
order-update stream as its own process (`manage.py master_stream`), and helpers that wait on the simulator.
The replication fixtures (engine, worker, followers, API client) come from the parent conftest.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Account, BrokerCredential, MasterSettings
from copytrade.celery import app
from replication import dispatch
from replication.models import CaptureStatus
from tests.integration.replication.conftest import QA_SECRET, wait_for

ROOT = Path(__file__).resolve().parents[4]
MASTER_USER = "CTM9001"


def test_database_url() -> str:
    """The URL of the test database, for a process of our own started by a test."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"mysql://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 3306}/{db['NAME']}"


@pytest.fixture
def capture_engine(engine):
    """Engine settings plus short capture timings: fast polls, a stream whose lease lapses quickly."""
    engine.CAPTURE_POLL_TICK = 0.2
    engine.CAPTURE_STREAM_STALE_AFTER = 5.0
    return engine


@pytest.fixture
def master(sim, capture_engine) -> Account:
    """The active master: an account at the simulator with a live session."""
    sim.create_account(MASTER_USER, cash=Decimal("100000000"))
    account = Account.objects.create(
        account_id="MASTER-1", role=Account.Role.MASTER, client_id=MASTER_USER, api_flavor="openapi"
    )
    BrokerCredential.objects.create(
        account=account,
        access_token=sim.issue_session(MASTER_USER),
        session_status=BrokerCredential.SessionStatus.VALID,
        session_obtained_at=timezone.now(),
        last_verified_at=timezone.now(),
    )
    settings_row, _ = MasterSettings.objects.get_or_create(pk=MasterSettings.SINGLETON_ID)
    settings_row.poll_interval_seconds = Decimal("0.5")
    settings_row.poll_interval_with_stream_seconds = Decimal("0.5")
    settings_row.save()
    return account


class Ticker:
    """Sends the poll task to the broker every `tick` seconds, as beat's schedule does (a worker runs it)."""

    def __init__(self, tick: float = 0.2) -> None:
        self.tick = tick
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="poll-ticker", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            app.send_task(dispatch.MASTER_POLL, expires=self.tick * 5)
            self._stop.wait(self.tick)

    def start(self) -> Ticker:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@pytest.fixture
def poller(worker, master) -> Callable[..., Ticker]:
    """Start beat-like tickers of the poll task (two of them make two pollers)."""
    tickers: list[Ticker] = []

    def start(tick: float = 0.2) -> Ticker:
        ticker = Ticker(tick).start()
        tickers.append(ticker)
        return ticker

    yield start
    for ticker in tickers:
        ticker.stop()


class StreamProcess:
    """`manage.py master_stream` as its own process, on the test database, broker and simulator."""

    def __init__(self, sim_url: str, log: Path, **env: str) -> None:
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "TEST_DATABASE_URL": test_database_url(),
            "QUANTUM_ALPHA_SECRET": QA_SECRET,
            "ALICE_API_BASE_URL": sim_url,
            "ALICE_LEGACY_BASE_URL": sim_url,
            "CAPTURE_STREAM_LEASE_SECONDS": "3",
            "CAPTURE_STREAM_LEASE_RENEW": "0.5",
            "CAPTURE_STREAM_BACKOFF_MAX": "2",
            "CAPTURE_STREAM_NOT_ENABLED_RETRY": "2",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self) -> StreamProcess:
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", "master_stream"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


@pytest.fixture
def stream_process(sim, worker, master, tmp_path) -> Iterator[Callable[..., StreamProcess]]:
    """Start `manage.py master_stream` processes; `wait_connected` waits for one to be subscribed."""
    processes: list[StreamProcess] = []

    def start(**env: str) -> StreamProcess:
        process = StreamProcess(sim.base_url, tmp_path / f"stream-{len(processes)}.log", **env).start()
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.stop()


def stream_connected(sim, master: Account) -> bool:
    row = CaptureStatus.objects.filter(account=master, kind=CaptureStatus.Kind.STREAM).first()
    return bool(row and row.connected) and len(sim.streams(MASTER_USER)) >= 1


def sim_orders(sim, account: Account) -> list[dict[str, Any]]:
    return sim.orders(account.client_id)


def wait_orders(sim, account: Account, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
    wait_for(lambda: len(sim_orders(sim, account)) >= count, timeout=timeout)
    return sim_orders(sim, account)


def net_position(sim, account: Account, symbol: str = "SBIN") -> int:
    rows = sim.positions(account.client_id)
    return sum(int(row["netQuantity"]) for row in rows if row["tradingSymbol"].split("-")[0] == symbol)


__all__ = ["MASTER_USER", "net_position", "sim_orders", "stream_connected", "wait_for", "wait_orders"]
