"""Fixtures for the admin-security tests: a staff user with a password, and their TOTP device."""

from __future__ import annotations

import pytest
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
