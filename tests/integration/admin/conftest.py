"""Fixtures for the admin-security tests: a staff user with a password, and their TOTP device."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.integration.admin.admin_logins import STAFF_PASSWORD


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    # API rate-limit counters live in the per-process cache; each test starts with a clean budget.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def staff(db, django_user_model):
    return django_user_model.objects.create_superuser(
        username="alice", password=STAFF_PASSWORD, email="alice@example.com"
    )


@pytest.fixture
def device(staff) -> TOTPDevice:
    return TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)


@pytest.fixture
def operator(client, django_user_model, otp_login):
    """A superuser's browser, past the second factor."""
    user = django_user_model.objects.create_superuser(username="ops", password="pw-ops-123", email="o@x.io")
    otp_login(client, user)
    return client


@pytest.fixture
def viewer(client, django_user_model, otp_login):
    """Staff with every view permission and nothing else."""
    user = django_user_model.objects.create_user(username="watcher", password="pw-watch-123", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    otp_login(client, user)
    return client
