"""The admin login asks for a TOTP code when COPYTRADE_ADMIN_REQUIRE_OTP is on (production), and a staff
session that has not passed it is refused by the admin and by the API alike."""

from __future__ import annotations

import pytest

from tests.integration.admin.admin_logins import STAFF_PASSWORD, admin_login, current_token, wrong_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def otp_required(settings):
    settings.COPYTRADE_ADMIN_REQUIRE_OTP = True
    return settings


@pytest.fixture
def otp_not_required(settings):
    settings.COPYTRADE_ADMIN_REQUIRE_OTP = False
    return settings


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


# ------------------------------------------------------------------------------ second factor on
def test_login_page_asks_for_the_code(otp_required, client):
    # when
    page = client.get("/admin/login/")
    # then
    assert page.status_code == 200
    assert 'name="otp_token"' in page.content.decode()
    assert "copytrade control panel" in page.content.decode()


def test_right_password_without_a_code_does_not_reach_the_admin(otp_required, client, staff, device):
    # when
    answer = admin_login(client, username="alice", password=STAFF_PASSWORD)
    # then
    assert answer.status_code == 200
    assert "token" in answer.content.decode().lower()
    assert not _logged_in(client)
    assert client.get("/admin/").status_code == 302


def test_right_password_with_a_wrong_code_does_not_reach_the_admin(otp_required, client, staff, device):
    # when
    answer = admin_login(client, username="alice", password=STAFF_PASSWORD, token=wrong_token(device))
    # then
    assert answer.status_code == 200
    assert "Invalid token" in answer.content.decode()
    assert not _logged_in(client)
    assert client.get("/admin/").status_code == 302


def test_right_password_and_code_reach_the_admin_index(otp_required, client, staff, device):
    # when
    answer = admin_login(client, username="alice", password=STAFF_PASSWORD, token=current_token(device))
    index = client.get("/admin/")
    # then
    assert answer.status_code == 302
    assert answer["Location"] == "/admin/"
    assert index.status_code == 200
    page = index.content.decode()
    assert "Dashboard" in page
    assert "copytrade control panel" in page


def test_the_same_code_does_not_log_in_twice(otp_required, client, staff, device):
    # given a login with the current code
    token = current_token(device)
    admin_login(client, username="alice", password=STAFF_PASSWORD, token=token)
    client.logout()
    # when the code is replayed
    answer = admin_login(client, username="alice", password=STAFF_PASSWORD, token=token)
    # then
    assert answer.status_code == 200
    assert not _logged_in(client)


def test_staff_without_an_enrolled_device_is_told_how_to_get_one(otp_required, client, staff):
    # when
    answer = admin_login(client, username="alice", password=STAFF_PASSWORD, token="123456")
    # then
    assert answer.status_code == 200
    assert "No second-factor device is enrolled for this user" in answer.content.decode()
    assert "manage.py otp_enrol" in answer.content.decode()
    assert not _logged_in(client)


def test_password_only_session_is_refused_by_admin_and_api(otp_required, client, staff):
    # given a session that passed the password but not the second factor
    client.force_login(staff)
    # when
    admin_page = client.get("/admin/")
    api_answer = client.get("/api/followers")
    # then
    assert admin_page.status_code == 302
    assert admin_page["Location"].startswith("/admin/login/")
    assert api_answer.status_code == 401
    assert api_answer.json()["ok"] is False


def test_session_that_passed_the_second_factor_can_use_the_api(otp_required, client, staff, device):
    # given a login through the form with the password and the current code
    admin_login(client, username="alice", password=STAFF_PASSWORD, token=current_token(device))
    # when
    answer = client.get("/api/followers")
    # then
    assert answer.status_code == 200
    assert answer.json()["ok"] is True


def test_shared_secret_header_does_not_need_the_second_factor(otp_required, client, settings):
    # given
    settings.QUANTUM_ALPHA_SECRET = "test-qa-secret-0123456789abcdef"
    # when
    answer = client.get("/api/followers", headers={"x-qa-secret": "test-qa-secret-0123456789abcdef"})
    # then
    assert answer.status_code == 200


def test_removing_the_device_ends_the_verified_session(otp_required, client, staff, device):
    # given a verified session
    admin_login(client, username="alice", password=STAFF_PASSWORD, token=current_token(device))
    assert client.get("/admin/").status_code == 200
    # when the device is replaced (a lost phone)
    device.delete()
    # then
    assert client.get("/admin/").status_code == 302
    assert client.get("/api/followers").status_code == 401


# ------------------------------------------------------------------------------ second factor off
def test_password_login_works_without_the_second_factor_in_debug(otp_not_required, client, staff):
    # when
    page = client.get("/admin/login/")
    answer = admin_login(client, username="alice", password=STAFF_PASSWORD)
    # then
    assert 'name="otp_token"' not in page.content.decode()
    assert answer.status_code == 302
    assert client.get("/admin/").status_code == 200
    assert client.get("/api/followers").status_code == 200


def test_wrong_password_is_refused_without_the_second_factor(otp_not_required, client, staff):
    # when
    answer = admin_login(client, username="alice", password="not-the-password")
    # then
    assert answer.status_code == 200
    assert not _logged_in(client)
