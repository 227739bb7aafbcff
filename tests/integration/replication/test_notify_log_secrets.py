"""The bot token is in the Telegram URL: what the HTTP libraries log about it (urllib3 at DEBUG, for an
operator who turns it on) and an unreachable Telegram's error leave with the token masked."""

from __future__ import annotations

import io
import logging
import socket

import pytest

from accounts.services.notify_channels import ChannelDown, telegram_send
from copytrade.core.logging import RedactSecretsFilter
from tests.integration.notify_servers import TelegramStandIn

TOKEN = "123456789:AAE-log-canary-token_never-shown"


@pytest.fixture
def http_log():
    """urllib3 and requests at DEBUG into a handler with the project's redaction filter (as LOGGING has)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactSecretsFilter())
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    loggers = [logging.getLogger(name) for name in ("urllib3", "requests")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
    yield out
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_urllib3_debug_lines_of_a_telegram_send_never_show_the_token(settings, http_log):
    # given
    server = TelegramStandIn(token=TOKEN).start()
    settings.TELEGRAM_BOT_TOKEN, settings.TELEGRAM_API_BASE_URL = TOKEN, server.base_url
    try:
        # when
        telegram_send(chat_id="42", text="hello")
    finally:
        server.stop()
    # then: urllib3 logged the request, with the token masked
    written = http_log.getvalue()
    assert "sendMessage" in written
    assert TOKEN.split(":")[1] not in written
    assert server.to("42") == ["hello"]


def test_an_unreachable_telegram_fails_without_the_token_in_the_error_or_the_log(settings, http_log):
    # given a port nothing listens on
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.TELEGRAM_BOT_TOKEN, settings.TELEGRAM_API_BASE_URL = TOKEN, f"http://127.0.0.1:{port}"
    # when
    with pytest.raises(ChannelDown) as failure:
        telegram_send(chat_id="42", text="hello")
    # then
    assert TOKEN.split(":")[1] not in str(failure.value)
    assert TOKEN.split(":")[1] not in repr(failure.value)
    assert failure.value.__cause__ is None
    assert failure.value.__suppress_context__
    assert TOKEN.split(":")[1] not in http_log.getvalue()
