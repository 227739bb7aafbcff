"""Shared fixtures: the Alice Blue simulator over real HTTP, on a free port, for the whole session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def simulator_server():
    """One simulator for the test session (a real aiohttp server in a background thread)."""
    from broker.simulator.testing import start_simulator

    handle = start_simulator(app_code="COPYTRADE", api_secret="sim-app-secret")
    yield handle
    handle.stop()


@pytest.fixture
def sim(simulator_server):
    """The simulator with fresh state (accounts, orders, faults, request log) for one test."""
    simulator_server.reset()
    return simulator_server


@pytest.fixture(autouse=True)
def _fresh_call_budget():
    """Each test starts with every account's budget of non-order calls unused (the storage may be Redis)."""
    from broker.conf import call_budget

    budget = call_budget()
    if budget is not None:
        budget.reset_all()
    return
