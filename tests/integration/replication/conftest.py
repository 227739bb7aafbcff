"""Fixtures for the replication tests: simulator-backed followers, a real Celery worker, an API client."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from celery.contrib.testing.worker import start_worker
from celery.worker import WorkController
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Account, BrokerCredential, Consent, RiskConfig
from broker.instrument_store import instrument_cache_clear, instruments_sync
from broker.transport import close_http_sessions
from copytrade.celery import app
from replication import states
from replication.models import OrderMapping

QA_SECRET = "test-qa-secret-0123456789abcdef"

requires_mysql = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("mysql"),
    reason="needs MariaDB/MySQL (TEST_DATABASE_URL); SQLite ignores row locks",
)


@pytest.fixture(autouse=True)
def _fresh_state() -> Iterator[None]:
    cache.clear()
    instrument_cache_clear()
    yield
    cache.clear()
    instrument_cache_clear()
    close_http_sessions()


@pytest.fixture
def engine(settings, sim):
    """Settings pointing the broker client at the simulator, with short engine timings for tests."""
    settings.QUANTUM_ALPHA_SECRET = QA_SECRET
    settings.ALICE_API_BASE_URL = sim.base_url
    settings.ALICE_LEGACY_BASE_URL = sim.base_url
    settings.ALICE_API_FLAVOR = "openapi"
    settings.COPYTRADE_REQUIRE_CONSENT = True
    settings.REPLICATION_SYNC_TIMEOUT = 10.0
    settings.REPLICATION_RETRY_BACKOFF = 0.2
    settings.REPLICATION_RETRY_BACKOFF_MAX = 0.5
    settings.REPLICATION_RECONCILE_DELAY = 0.2
    settings.REPLICATION_RECONCILE_GRACE = 1.5
    settings.REPLICATION_ACTION_WAIT = 0.2
    settings.REPLICATION_SWEEP_AFTER = 1.0
    settings.REPLICATION_SUBMITTING_STUCK_AFTER = 5.0
    _load_contract_master(sim.base_url + "/restpy/static/contract_master/V2/")
    return settings


def _load_contract_master(base_url: str) -> None:
    instruments_sync(base_url=base_url, exchanges=["NSE", "NFO"])


@pytest.fixture
def worker(engine) -> Iterator[None]:
    """A real Celery worker (threads) consuming the configured broker, in this process: both queues, as a
    worker started without -Q does.

    SQLite (a file test database, see tests/settings.py) serialises writers, so it gets fewer threads; the
    concurrency tests run on MariaDB.
    """
    try:
        with running_worker(concurrency=4 if connection.vendor == "sqlite" else 16):
            yield
    finally:
        purge_broker()


@contextlib.contextmanager
def running_worker(*, concurrency: int) -> Iterator[WorkController]:
    """A Celery worker (threads pool) in a thread of this process, consuming both queues (no -Q). Tests that
    need a worker per queue start `celery worker` processes (`workers.WorkerProcess`), as production does."""
    options = app.conf.broker_transport_options
    saved_options = dict(options)
    if app.conf.broker_url.startswith("filesystem"):
        options["polling_interval"] = 0.05  # the filesystem broker polls once a second by default
    try:
        with start_worker(
            app, pool="threads", concurrency=concurrency, perform_ping_check=False, shutdown_timeout=15
        ) as started:
            yield started
    finally:
        options.clear()
        options.update(saved_options)


def purge_broker() -> None:
    """Drop every message a test left in the broker (retries with a countdown, unacknowledged ones), so no
    later test's worker runs them against its own rows."""
    app.control.purge()
    if app.conf.broker_url.startswith("redis"):
        import redis

        client = redis.Redis.from_url(app.conf.broker_url)
        client.delete("unacked", "unacked_index", "unacked_mutex")


@pytest.fixture
def api(engine) -> APIClient:
    return APIClient(headers={"x-qa-secret": QA_SECRET})


@pytest.fixture
def make_follower(sim, engine) -> Callable[..., Account]:
    """A follower with a simulator account, a live session, consent and a risk config (overridable)."""
    counter = iter(range(1, 10_000))

    def make(
        account_id: str | None = None,
        *,
        consent: bool = True,
        paper: bool = False,
        session: bool = True,
        **risk,
    ) -> Account:
        n = next(counter)
        account_id = account_id or f"TEST-USER-{n}"
        user_id = f"CT{2000 + n}"
        sim.create_account(user_id, cash=Decimal("100000000"))
        account = Account.objects.create(
            account_id=account_id,
            role=Account.Role.FOLLOWER,
            client_id=user_id,
            api_flavor="openapi",
            paper=paper,
        )
        if session:
            BrokerCredential.objects.create(
                account=account,
                access_token=sim.issue_session(user_id),
                session_status=BrokerCredential.SessionStatus.VALID,
                session_obtained_at=timezone.now(),
                last_verified_at=timezone.now(),
            )
        RiskConfig.objects.create(account=account, **risk)
        if consent:
            Consent.objects.create(
                account=account, trade_replication_enabled=True, consent_given_at=timezone.now()
            )
        return account

    return make


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def settled(master_order_id: str) -> bool:
    return not OrderMapping.objects.filter(
        master_order_id=master_order_id, status__in=states.IN_FLIGHT
    ).exists()


def trade(trade_id: str = "M-TEST-001", **fields) -> dict:
    return {"id": trade_id, "symbol": "SBIN", "side": "BUY", "quantity": 100, "exchange": "NSE", **fields}
