"""Shared fixtures: the Alice Blue simulator over real HTTP; staff logins that passed the second factor."""

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


@pytest.fixture
def otp_login(db):
    """Log a test client in as staff whose session passed the second factor, as the admin login does.

    Tests run with COPYTRADE_ADMIN_REQUIRE_OTP on (the production default): a bare `force_login` is a
    password-only session, which the admin and the API refuse.
    """
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    def login(client, user):
        client.force_login(user)
        device, _ = TOTPDevice.objects.get_or_create(user=user, defaults={"name": "test", "confirmed": True})
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
        return device

    return login
