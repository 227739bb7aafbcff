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
