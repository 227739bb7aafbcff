import logging

import pytest

from copytrade.core.logging import RedactSecretsFilter, redact


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ('{"accessToken": "tok-CANARY-123456"}', "tok-CANARY-123456"),
        ("api_key=KEY-CANARY-999 next", "KEY-CANARY-999"),
        ("Authorization: Bearer AB1234 SESSIONCANARY0123456789", "SESSIONCANARY0123456789"),
        ("Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl", "eyJhbGci"),
        ("checkSum=" + "a" * 64, "a" * 64),
        ("x-qa-secret: super-secret-value", "super-secret-value"),
        # urllib3's DEBUG line and a requests error name the Telegram URL, which holds the bot token
        (
            'https://api.telegram.org:443 "POST /bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage '
            'HTTP/1.1" 200 None',
            "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
        ),
        (
            "Max retries exceeded with url: /bot7:AA-x_CANARYtoken/sendMessage (Caused by ConnectionError)",
            "AA-x_CANARYtoken",
        ),
        # EMAIL_URL holds the SMTP password
        ("EMAIL_URL smtp+tls://mailer:SMTP-CANARY-pw@smtp.example.com:587", "SMTP-CANARY-pw"),
    ],
)
def test_redact_masks_credentials(text, secret):
    # when
    result = redact(text)
    # then
    assert secret not in result
    assert "***" in result


def test_redact_keeps_ordinary_text():
    # given
    text = "[ALICE-BLUE] Order placed successfully for TEST-USER-1: 261121000000001"
    # when / then
    assert redact(text) == text


def test_filter_rewrites_formatted_record():
    # given
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "session %s", ("sessionId=abc123SECRET",), None
    )
    # when
    kept = RedactSecretsFilter().filter(record)
    # then
    assert kept is True
    assert "abc123SECRET" not in record.getMessage()


def test_redact_hides_the_webhook_urls_secret_part():
    # given a log line naming the webhook URL (its last part is the deployment's secret)
    text = (
        "unhandled error on POST /api/alice/webhook/0f3c9a7be21d44c1a9d0e5b6c7d8e9f0a1b2c3d4 (request id 1)"
    )
    # when
    result = redact(text)
    # then
    assert "0f3c9a7be21d44c1a9d0e5b6c7d8e9f0a1b2c3d4" not in result
    assert "/api/alice/webhook/***" in result
