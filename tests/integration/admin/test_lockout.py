"""Repeated failed admin logins (wrong password, or the right one with a wrong code) lock that username out
from that address for the cool-off, even with the right password and code; other addresses are not."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.utils import timezone

from tests.integration.admin.admin_logins import STAFF_PASSWORD, admin_login, current_token, wrong_token

pytestmark = pytest.mark.django_db

ATTACKER_IP = "203.0.113.7"
OPERATOR_IP = "198.51.100.20"


@pytest.fixture(autouse=True)
def _production_login(settings):
    settings.COPYTRADE_ADMIN_REQUIRE_OTP = True
    return settings


def _fail(client, times: int, *, ip: str = ATTACKER_IP) -> list:
    return [
        admin_login(client, username="alice", password=f"guess-{n}", REMOTE_ADDR=ip) for n in range(times)
    ]


def test_limit_and_cool_off_defaults(settings):
    # then
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60


def test_right_credentials_are_refused_after_the_failure_limit(client, staff, device, settings):
    # given the limit of failed logins from one address
    answers = _fail(client, settings.AXES_FAILURE_LIMIT)
    # when the right password and code follow
    answer = admin_login(
        client,
        username="alice",
        password=STAFF_PASSWORD,
        token=current_token(device),
        REMOTE_ADDR=ATTACKER_IP,
    )
    # then
    assert [a.status_code for a in answers[:-1]] == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert answers[-1].status_code == 429
    assert answer.status_code == 429
    page = answer.content.decode()
    assert "Too many failed logins" in page
    assert "0:15:00" in page
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/", REMOTE_ADDR=ATTACKER_IP).status_code == 302


def test_fewer_failures_than_the_limit_still_let_the_operator_in(client, staff, device, settings):
    # given
    _fail(client, settings.AXES_FAILURE_LIMIT - 1)
    # when
    answer = admin_login(
        client,
        username="alice",
        password=STAFF_PASSWORD,
        token=current_token(device),
        REMOTE_ADDR=ATTACKER_IP,
    )
    # then
    assert answer.status_code == 302
    assert client.get("/admin/", REMOTE_ADDR=ATTACKER_IP).status_code == 200


def test_wrong_codes_count_as_failed_logins(client, staff, device, settings):
    # given django-otp's own back-off off, so every code is checked
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    for _ in range(settings.AXES_FAILURE_LIMIT):
        admin_login(
            client,
            username="alice",
            password=STAFF_PASSWORD,
            token=wrong_token(device),
            REMOTE_ADDR=ATTACKER_IP,
        )
    # when
    answer = admin_login(
        client,
        username="alice",
        password=STAFF_PASSWORD,
        token=current_token(device),
        REMOTE_ADDR=ATTACKER_IP,
    )
    # then
    assert answer.status_code == 429
    assert "_auth_user_id" not in client.session


def test_lockout_of_one_address_does_not_lock_the_operator_out_elsewhere(client, staff, device, settings):
    # given an attacker at the limit for alice
    _fail(client, settings.AXES_FAILURE_LIMIT)
    # when alice logs in from her own address
    answer = admin_login(
        client,
        username="alice",
        password=STAFF_PASSWORD,
        token=current_token(device),
        REMOTE_ADDR=OPERATOR_IP,
    )
    # then
    assert answer.status_code == 302
    assert client.get("/admin/", REMOTE_ADDR=OPERATOR_IP).status_code == 200


def test_lockout_ends_after_the_cool_off(client, staff, device, settings):
    # given failures older than the cool-off
    _fail(client, settings.AXES_FAILURE_LIMIT)
    AccessAttempt.objects.update(
        attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    )
    # when
    answer = admin_login(
        client,
        username="alice",
        password=STAFF_PASSWORD,
        token=current_token(device),
        REMOTE_ADDR=ATTACKER_IP,
    )
    # then
    assert answer.status_code == 302


def test_lockout_applies_without_the_second_factor_too(client, staff, settings):
    # given
    settings.COPYTRADE_ADMIN_REQUIRE_OTP = False
    _fail(client, settings.AXES_FAILURE_LIMIT)
    # when
    answer = admin_login(client, username="alice", password=STAFF_PASSWORD, REMOTE_ADDR=ATTACKER_IP)
    # then
    assert answer.status_code == 429
    assert "_auth_user_id" not in client.session
