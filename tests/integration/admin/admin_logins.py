"""Logging in to the admin as a browser does, and the TOTP codes an authenticator app would show."""

from __future__ import annotations

from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

STAFF_PASSWORD = "pw-staff-correct-horse-1"


def current_token(device: TOTPDevice) -> str:
    """The code the user's authenticator app shows right now."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def wrong_token(device: TOTPDevice) -> str:
    """A code no authenticator app shows now (differs from the current, previous and next one)."""
    valid = set()
    for offset in (-1, 0, 1):
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift + offset)
        valid.add(f"{totp.token():0{device.digits}d}")
    return next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in valid)


def admin_login(client, *, username: str, password: str, token: str | None = None, **extra):
    """POST the admin login form, as a browser does."""
    data = {"username": username, "password": password}
    if token is not None:
        data["otp_token"] = token
    return client.post("/admin/login/?next=/admin/", data, **extra)
