"""Notification targets are validated per kind, and senders' error texts never carry the bot token or the
SMTP password."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from accounts.services.notify_channels import ChannelDown, scrub
from accounts.validators import validate_notification_target


@pytest.mark.parametrize(
    ("kind", "target"),
    [
        ("TELEGRAM", "123456789"),
        ("TELEGRAM", "-1001234567890"),
        ("TELEGRAM", "@copytrade_ops"),
        ("EMAIL", "ops@example.com"),
    ],
)
def test_good_targets_pass(kind, target):
    validate_notification_target(kind, target)


@pytest.mark.parametrize(
    ("kind", "target"),
    [
        ("TELEGRAM", ""),
        ("TELEGRAM", "12 34"),
        ("TELEGRAM", "@ab"),
        ("TELEGRAM", "ops@example.com"),
        ("EMAIL", "nobody@"),
        ("EMAIL", "123456789"),
        ("SMS", "123"),
    ],
)
def test_bad_targets_are_refused(kind, target):
    with pytest.raises(ValidationError):
        validate_notification_target(kind, target)


def test_the_bot_token_and_smtp_password_are_masked_in_error_texts(settings):
    # given
    settings.TELEGRAM_BOT_TOKEN = "123:secret-bot-token"
    settings.EMAIL_HOST_PASSWORD = "smtp-secret"
    # when
    error = ChannelDown("failed POST /bot123:secret-bot-token/sendMessage as user with smtp-secret")
    # then
    assert error.message == "failed POST /bot***/sendMessage as user with ***"
    assert scrub("nothing secret") == "nothing secret"
