"""Fixtures: a fresh simulator account with a session, seen through each API flavour."""

from __future__ import annotations

import pytest

from tests.integration.simulator.broker_calls import Legacy, OpenApi
from tests.integration.webhook_receiver import webhook_receiver  # noqa: F401 - a shared fixture

USER = "AB1001"


@pytest.fixture
def user(sim) -> str:
    """An account with a known API key and app secret."""
    sim.create_account(USER, api_key="user-api-key", api_secret="user-app-secret", cash=1_000_000)
    return USER


@pytest.fixture
def openapi(sim, user) -> OpenApi:
    """Open-api calls with a live session for `user`."""
    return OpenApi(sim.base_url, sim.issue_session(user))


@pytest.fixture
def legacy(sim, user) -> Legacy:
    """Legacy calls with a live session for `user`."""
    return Legacy(sim.base_url, user, sim.issue_session(user))
