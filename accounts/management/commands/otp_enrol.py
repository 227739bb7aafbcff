"""Enrol a staff user's TOTP device (the admin's second factor); print its key once for an app."""

from __future__ import annotations

import getpass
import io

import qrcode
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services.staff import DEFAULT_DEVICE_NAME, staff_totp_device_enrol
from copytrade.core.exceptions import ApplicationError


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli"


def _ascii_qr(data: str) -> str:
    qr = qrcode.QRCode(border=2)
    qr.add_data(data)
    out = io.StringIO()
    # Light blocks on a dark terminal read as a normal (dark-on-light) code.
    qr.print_ascii(out=out, invert=True)
    return out.getvalue()


class Command(BaseCommand):
    help = (
        "Give a staff user a TOTP device for the admin's second factor and print its otpauth:// URI, key and "
        "QR code once (to this terminal only, never to a log)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="an active staff user")
        parser.add_argument("--name", default=DEFAULT_DEVICE_NAME, help="device name (default: %(default)s)")
        parser.add_argument("--force", action="store_true", help="replace the user's existing device")

    def handle(self, *args, username: str, name: str, force: bool, **options) -> None:
        try:
            enrolment = staff_totp_device_enrol(
                username=username.strip(), actor=_actor(), device_name=name.strip(), replace=force
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        replaced = f", replacing {enrolment.replaced} old device(s)" if enrolment.replaced else ""
        self.stdout.write(
            self.style.SUCCESS(f"✅ TOTP device {enrolment.device_name!r} enrolled for {username}{replaced}.")
        )
        self.stdout.write(
            "Scan the code (or paste the URI or key) into an authenticator app now; it is not shown again:\n"
        )
        self.stdout.write(_ascii_qr(enrolment.config_url))
        self.stdout.write(f"URI: {enrolment.config_url}")
        self.stdout.write(f"Key: {enrolment.secret}  (TOTP, SHA1, 6 digits, every 30 s)")
        self.stdout.write("Log in to /admin/ with the password and the app's current 6-digit code.")
