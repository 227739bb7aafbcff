"""The two ways a notification leaves: Telegram's Bot API (sendMessage) and e-mail (Django's SMTP backend).

Each raises ChannelDown when trying again later may work (connection refused, timeout, 5xx, 429) and
ChannelRefused when it will not (a wrong chat id or address, no bot token). No error text ever holds the bot
token or the SMTP password: exception texts of the HTTP and SMTP libraries are not passed on (a connection
error's text names the URL, and the URL holds the token), only their kind and the server's own answer.
"""

from __future__ import annotations

import smtplib

import requests
from django.conf import settings
from django.core.mail import EmailMessage, get_connection

SUBJECT_PREFIX = "[copytrade] "
TELEGRAM_TEXT_MAX = 4096


class ChannelError(Exception):
    """A message was not delivered; `message` is safe to store and show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = scrub(message)[:500]


class ChannelDown(ChannelError):
    """Not delivered now; the same message may be tried again later."""


class ChannelRefused(ChannelError):
    """Not delivered, and trying again will not help (configuration or address)."""


def scrub(text: str) -> str:
    """`text` with the bot token and the SMTP password masked (defence in depth: they are never put in)."""
    for secret in (settings.TELEGRAM_BOT_TOKEN, getattr(settings, "EMAIL_HOST_PASSWORD", None)):
        if secret:
            text = text.replace(secret, "***")
    return text


def telegram_send(*, chat_id: str, text: str) -> None:
    """POST {TELEGRAM_API_BASE_URL}/bot<token>/sendMessage with a timeout; ChannelDown / ChannelRefused."""
    token = settings.TELEGRAM_BOT_TOKEN
    if not token:
        raise ChannelRefused("TELEGRAM_BOT_TOKEN is not set")
    url = f"{settings.TELEGRAM_API_BASE_URL.rstrip('/')}/bot{token}/sendMessage"
    payload = {"chat_id": chat_id, "text": text[:TELEGRAM_TEXT_MAX], "disable_web_page_preview": True}
    try:
        response = requests.post(
            url, json=payload, timeout=(settings.NOTIFY_CONNECT_TIMEOUT, settings.NOTIFY_READ_TIMEOUT)
        )
    except requests.Timeout:
        raise ChannelDown("Telegram did not answer in time") from None
    except requests.RequestException as exc:
        raise ChannelDown(f"Telegram unreachable ({type(exc).__name__})") from None
    if response.status_code == 200:
        return
    try:
        description = str(response.json().get("description", ""))[:200]
    except ValueError:
        description = ""
    what = f"Telegram answered {response.status_code}" + (f": {description}" if description else "")
    if response.status_code == 429 or response.status_code >= 500:
        raise ChannelDown(what)
    raise ChannelRefused(what)


def email_send(*, address: str, subject: str, body: str) -> None:
    """Send one e-mail through the configured backend (EMAIL_URL), with a timeout; ChannelDown / Refused."""
    connection = get_connection(timeout=settings.EMAIL_TIMEOUT)
    message = EmailMessage(
        subject=(SUBJECT_PREFIX + subject)[:200],
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[address],
        connection=connection,
    )
    try:
        message.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused:
        raise ChannelRefused("The mail server refused the address") from None
    except smtplib.SMTPAuthenticationError as exc:
        raise ChannelRefused(f"The mail server refused the login ({exc.smtp_code})") from None
    except smtplib.SMTPResponseException as exc:
        kind = ChannelDown if exc.smtp_code >= 400 and exc.smtp_code < 500 else ChannelRefused
        raise kind(f"The mail server answered {exc.smtp_code}") from None
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        raise ChannelDown(f"Mail server unreachable ({type(exc).__name__})") from None
