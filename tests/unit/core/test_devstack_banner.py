"""`make run`'s banner says how to enrol a TOTP device and whether the admin asks for one."""

import pytest

from copytrade.devstack import _second_factor_hint


def test_banner_says_how_to_enrol_and_turn_the_second_factor_on():
    # when
    hint = _second_factor_hint({"DJANGO_DEBUG": "1"})
    # then
    assert hint.startswith("off (debug)")
    assert 'make manage ARGS="otp_enrol admin"' in hint
    assert "COPYTRADE_ADMIN_REQUIRE_OTP=1 make run" in hint


@pytest.mark.parametrize(
    "env",
    [
        {"DJANGO_DEBUG": "1", "COPYTRADE_ADMIN_REQUIRE_OTP": "1"},
        {"DJANGO_DEBUG": "1", "COPYTRADE_ADMIN_REQUIRE_OTP": "true"},
        {"DJANGO_DEBUG": "0"},
    ],
)
def test_banner_says_the_second_factor_is_on_when_the_settings_require_it(env):
    # when
    hint = _second_factor_hint(env)
    # then
    assert hint.startswith("on:")
    assert 'make manage ARGS="otp_enrol admin"' in hint
