"""Fixtures for the Alice Blue client tests against the simulator over real HTTP."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from decimal import Decimal

import pytest

from broker.transport import close_http_sessions
from tests.integration.webhook_receiver import webhook_receiver  # noqa: F401 - a shared fixture

API_KEY = "ak-test-0123456789abcdef0123456789abcdef"
USER = "CT1001"


@pytest.fixture
def account(sim) -> str:
    """A simulator account with cash; returns its user id."""
    sim.create_account(USER, api_key=API_KEY, cash=Decimal("1000000"))
    return USER


@pytest.fixture
def closed_port() -> int:
    """A local port nobody listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def broker_logs(caplog) -> pytest.LogCaptureFixture:
    """Every broker.* (and urllib3) log record at DEBUG, for asserting that no secret is logged."""
    caplog.set_level(logging.DEBUG, logger="broker")
    caplog.set_level(logging.DEBUG, logger="urllib3")
    return caplog


@pytest.fixture(autouse=True)
def _fresh_pools() -> Iterator[None]:
    """No pooled connection survives into the next test (the simulator drops some on purpose)."""
    yield
    close_http_sessions()


@pytest.fixture
def assert_no_secret_logged(broker_logs):
    """A checker: no log record (message, args, exception text) contains any of the given secrets."""

    def check(*secrets: str) -> None:
        assert broker_logs.records, "expected broker log records"
        for record in broker_logs.records:
            text = record.getMessage() + (record.exc_text or "")
            for secret in secrets:
                assert secret not in text, f"secret leaked in log record {record.name}: {record.msg}"

    return check
