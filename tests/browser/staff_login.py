"""Logging in to the admin as staff do: password, and the code their authenticator app shows for the TOTP key
`manage.py otp_enrol` printed."""

from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass

from django_otp.oath import TOTP
from playwright.sync_api import Page

STEP_SECONDS = 30
# A code read this close to the end of its step may reach the server in the next one.
MARGIN_SECONDS = 3


def enrolled_key(otp_enrol_output: str) -> str:
    """The base32 key from otp_enrol's "Key: ..." line."""
    found = re.search(r"^Key: ([A-Z2-7]+=*)", otp_enrol_output, re.MULTILINE)
    assert found, f"otp_enrol printed no key:\n{otp_enrol_output}"
    return found.group(1)


class Authenticator:
    """One staff user's authenticator app.

    The admin refuses a code whose time step was already used (django-otp keeps the last step it verified), so
    every code given here is from a step not given before: a second login within the same 30 s waits for the
    next step.
    """

    def __init__(self, key_base32: str) -> None:
        self._key = base64.b32decode(key_base32)
        self._last_step: int | None = None

    def _at(self, step: int) -> str:
        totp = TOTP(self._key, step=STEP_SECONDS)
        totp.time = step * STEP_SECONDS
        return f"{totp.token():06d}"

    def code(self) -> str:
        """The code of the current step, waiting for a step not used yet and not about to end."""
        while True:
            now = time.time()
            step = int(now) // STEP_SECONDS
            fresh = self._last_step is None or step > self._last_step
            if fresh and STEP_SECONDS - now % STEP_SECONDS > MARGIN_SECONDS:
                self._last_step = step
                return self._at(step)
            time.sleep(0.5)

    def wrong_code(self) -> str:
        """A code the admin accepts at no step near now (it allows a step of drift either way)."""
        step = int(time.time()) // STEP_SECONDS
        near = {self._at(step + offset) for offset in range(-3, 4)}
        return next(code for code in (f"{n:06d}" for n in range(1_000_000)) if code not in near)


@dataclass(frozen=True)
class StaffLogin:
    username: str
    password: str
    authenticator: Authenticator


def submit_login(page: Page, login: StaffLogin, *, code: str) -> None:
    """Fill the admin login form (username, password, second-factor code) and send it."""
    page.goto("/admin/login/?next=/admin/")
    page.fill('input[name="username"]', login.username)
    page.fill('input[name="password"]', login.password)
    page.fill('input[name="otp_token"]', code)
    page.locator('input[type="submit"], button[type="submit"]').first.click()
    page.wait_for_load_state()
