"""Logging filters: credentials masked before anything is written, and the request id on every record."""

from __future__ import annotations

import logging
import re

from django_guid import get_guid

# key=value, "key": "value" and Authorization headers for the secrets we handle.
_SENSITIVE_NAMES = (
    r"api[_-]?key|api[_-]?secret|apikey|apisecret|access[_-]?token|accesstoken|session[_-]?id|sessionid|"
    r"usersession|user[_-]?session|authorization|checksum|userdata|enckey|auth[_-]?code|authcode|password|"
    r"x-qa-secret|secret|token"
)
_KEY_VALUE = re.compile(
    rf"""(?P<key>["']?(?:{_SENSITIVE_NAMES})["']?\s*[:=]\s*)(?P<quote>["']?)(?P<value>[^"'\s,}}&]+)""",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(Bearer\s+)([^\s\"']+(?:\s+[^\s\"']{16,})?)", re.IGNORECASE)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+")
# The webhook URL's last part is this deployment's secret (replication.services.capture_inbound).
_WEBHOOK_PATH = re.compile(r"(/api/alice/webhook/)[^\s/?\"']+")
# A Telegram Bot API path holds the bot token (/bot<id>:<secret>/sendMessage): urllib3 logs it at DEBUG and
# requests' connection errors repeat it.
_TELEGRAM_BOT_PATH = re.compile(r"(/bot)[0-9]+:[A-Za-z0-9_-]+")
# A URL's user:password@ (EMAIL_URL, a broker or database URL).
_URL_PASSWORD = re.compile(r"(://[^/\s:@]+:)[^/\s@]+@")


def redact(text: str) -> str:
    """Return text with credential values replaced by '***'."""
    text = _JWT.sub("***", text)
    text = _WEBHOOK_PATH.sub(r"\1***", text)
    text = _TELEGRAM_BOT_PATH.sub(r"\1***", text)
    text = _URL_PASSWORD.sub(r"\1***@", text)
    text = _BEARER.sub(r"\1***", text)
    return _KEY_VALUE.sub(lambda m: f"{m.group('key')}{m.group('quote')}***", text)


class RedactSecretsFilter(logging.Filter):
    """Rewrites each record's final message through redact(); never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True


class HealthProbeFilter(logging.Filter):
    """Drops django.request's line for an unhealthy /api/health answer: the 503 is the probe's answer, not
    a server error (its body says which check fails), and load balancers and `make run` poll it."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        return not (
            getattr(record, "status_code", None) == 503 and getattr(request, "path", "") == "/api/health"
        )


class RequestIdFilter(logging.Filter):
    """Puts the request id (django-guid's correlation id, carried into Celery tasks) on every record as
    `request_id`: "-" outside a request or task."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = get_guid() or "-"
        return True
