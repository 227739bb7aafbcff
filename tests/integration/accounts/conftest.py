"""Fixtures for the accounts integration tests: API clients, simulator-backed settings."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

QA_SECRET = "test-qa-secret-0123456789abcdef"


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    # Rate-limit counters live in the (per-process) cache; each test starts with a clean budget.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api(settings) -> APIClient:
    """An API client authenticated with x-qa-secret."""
    settings.QUANTUM_ALPHA_SECRET = QA_SECRET
    return APIClient(headers={"x-qa-secret": QA_SECRET})


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def staff_client(db, django_user_model, otp_login) -> APIClient:
    user = django_user_model.objects.create_user(
        username="ops", password="pw-ops-123", is_staff=True, is_superuser=True
    )
    client = APIClient()
    otp_login(client, user)
    return client


@pytest.fixture
def sim_settings(settings, sim):
    """Point the broker client at the test simulator."""
    settings.ALICE_API_BASE_URL = sim.base_url
    settings.ALICE_LEGACY_BASE_URL = sim.base_url
    settings.ALICE_APP_CODE = "COPYTRADE"
    settings.ALICE_API_SECRET = "sim-app-secret"
    settings.ALICE_LOGIN_URL = sim.base_url + "/"
    return settings


@pytest.fixture
def worker(sim_settings):
    """A real Celery worker (threads) in this process, consuming the configured broker (Redis or files).

    Needs `django_db(transaction=True)`: the worker's threads only see committed rows. Messages left in the
    queue by an earlier run are purged first, so they cannot act on this run's rows.
    """
    from celery.contrib.testing.worker import start_worker

    from copytrade.celery import app

    options = app.conf.broker_transport_options
    saved = dict(options)
    if app.conf.broker_url.startswith("filesystem"):
        options["polling_interval"] = 0.05
    app.control.purge()
    try:
        with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=15):
            yield
    finally:
        options.clear()
        options.update(saved)
