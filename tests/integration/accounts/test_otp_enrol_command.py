"""manage.py otp_enrol: a staff user's TOTP device, printed once for an app, audited without its key."""

from __future__ import annotations

import base64
import io
import logging
import re
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.management import CommandError, call_command
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AuditEvent

pytestmark = pytest.mark.django_db


def _enrol(*args: str) -> str:
    out = io.StringIO()
    call_command("otp_enrol", *args, stdout=out)
    return out.getvalue()


def _printed_key(output: str) -> str:
    return re.search(r"^Key: ([A-Z2-7=]+)", output, re.MULTILINE).group(1)


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(username="alice", password="pw-alice-123", is_staff=True)


def test_enrols_a_confirmed_device_and_prints_it_for_an_app(staff, caplog):
    # when
    with caplog.at_level(logging.DEBUG):
        output = _enrol("alice")
    # then a confirmed device exists, and what was printed is its key
    device = TOTPDevice.objects.get(user=staff)
    assert device.confirmed
    assert device.name == "authenticator"
    key = _printed_key(output)
    assert base64.b32decode(key) == device.bin_key
    uri = re.search(r"^URI: (\S+)", output, re.MULTILINE).group(1)
    assert uri.startswith("otpauth://totp/copytrade%3Aalice?")
    assert parse_qs(urlparse(uri).query)["secret"] == [key]
    assert "█" in output or "▀" in output or "▄" in output  # the QR code
    # and a code from an app holding the printed key verifies
    assert device.verify_token(totp(base64.b32decode(key)))
    # and the audit log and the logs never hold the key
    event = AuditEvent.objects.get(action="otp.enrolled")
    assert (event.target, event.details) == ("alice", {"device": "authenticator", "replaced": []})
    assert event.actor.startswith("cli")
    assert key not in caplog.text
    assert device.key not in caplog.text


def test_device_name_is_chosen_with_name(staff):
    # when
    _enrol("alice", "--name", "alice's phone")
    # then
    assert TOTPDevice.objects.get(user=staff).name == "alice's phone"


def test_unknown_user_is_refused():
    # when / then
    with pytest.raises(CommandError, match="No user 'nobody'"):
        _enrol("nobody")
    assert not TOTPDevice.objects.exists()


@pytest.mark.parametrize(
    "flags", [{"is_staff": False}, {"is_staff": True, "is_active": False}], ids=["not-staff", "inactive"]
)
def test_user_who_may_not_use_the_admin_is_refused(django_user_model, flags):
    # given
    django_user_model.objects.create_user(username="bob", password="pw-bob-123", **flags)
    # when / then
    with pytest.raises(CommandError, match="not an active staff user"):
        _enrol("bob")
    assert not TOTPDevice.objects.exists()
    assert not AuditEvent.objects.filter(action="otp.enrolled").exists()


def test_existing_device_is_kept_without_force(staff):
    # given
    _enrol("alice")
    first = TOTPDevice.objects.get(user=staff)
    # when / then
    with pytest.raises(CommandError, match="--force"):
        _enrol("alice")
    assert list(TOTPDevice.objects.filter(user=staff)) == [first]


def test_force_replaces_the_device(staff):
    # given
    old_key = _printed_key(_enrol("alice"))
    # when
    output = _enrol("alice", "--force", "--name", "new phone")
    # then
    device = TOTPDevice.objects.get(user=staff)
    assert device.name == "new phone"
    assert _printed_key(output) != old_key
    assert "replacing 1 old device" in output
    assert AuditEvent.objects.filter(action="otp.enrolled").latest("id").details == {
        "device": "new phone",
        "replaced": ["authenticator"],
    }


def test_admin_device_pages_never_show_the_key(staff, django_user_model, otp_login, client):
    # given an enrolled device and a superuser browsing the admin's TOTP devices
    key = _printed_key(_enrol("alice"))
    device = TOTPDevice.objects.get(user=staff)
    root = django_user_model.objects.create_superuser(username="root", password="pw-root-123", email="r@x.io")
    otp_login(client, root)
    # when
    pages = [
        client.get("/admin/otp_totp/totpdevice/"),
        client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/"),
    ]
    # then
    for page in pages:
        assert page.status_code == 200
        assert device.key not in page.content.decode()
        assert key not in page.content.decode()
    assert client.get(f"/admin/otp_totp/totpdevice/{device.pk}/config/").status_code in (403, 404)
