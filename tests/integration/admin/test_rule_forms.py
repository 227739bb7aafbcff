"""The issue-11 admin forms against bad input (a form error, nothing written, nothing audited) and their
widgets (time inputs, number inputs, checkboxes for the notification events)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Account, AuditEvent, MasterSettings, NotificationChannel, RiskConfig
from replication.models import FreezeQuantity
from tests.factories.accounts import FollowerFactory, MasterFactory
from tests.integration.accounts.test_admin_pages import _change_form_data, _settings_form

pytestmark = pytest.mark.django_db


# ------------------------------------------------------------------------------------ freeze quantities
@pytest.mark.parametrize(
    ("symbol", "quantity"),
    [
        ("NIFTY 50", "1800"),
        ("<b>NIFTY</b>", "1800"),
        ("NIFTY\x00", "1800"),
        ("ＮＩＦＴＹ", "1800"),
        ("BANKNIFTY", "99999999999"),
        ("BANKNIFTY", "1.5"),
        ("BANKNIFTY", ""),
    ],
)
def test_freeze_quantity_form_refuses_what_no_underlying_is(operator, symbol, quantity):
    # when
    response = operator.post(
        reverse("admin:replication_freezequantity_add"),
        {"exchange": "NFO", "symbol": symbol, "freeze_quantity": quantity},
    )
    # then
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert not FreezeQuantity.objects.exists()
    assert not AuditEvent.objects.exists()


def test_freeze_quantity_form_has_a_number_input(operator):
    # when
    html = operator.get(reverse("admin:replication_freezequantity_add")).content.decode()
    # then
    assert 'type="number" name="freeze_quantity"' in html
    assert 'min="1"' in html


# ------------------------------------------------------------------------------ notification channels
def _channel(**overrides) -> dict:
    return {"name": "Ops", "kind": "TELEGRAM", "target": "123456789", "events": ["KILL_SWITCH"], **overrides}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (_channel(target="not a chat"), "target"),
        (_channel(target="https://api.telegram.org/bot1:x/"), "target"),
        (_channel(kind="EMAIL", target="not-an-address"), "target"),
        (_channel(kind="SMS"), "kind"),
        (_channel(events=["NOT_AN_EVENT"]), "events"),
        (_channel(events=["TEST"]), "events"),
        (_channel(name=""), "name"),
        (_channel(name="Ops\x07"), "name"),
        (_channel(name="x" * 101), "name"),
        (_channel(account="MASTER"), "account"),
        (_channel(account="FOLLOWER", events=["KILL_SWITCH"]), "events"),
    ],
)
def test_notification_channel_form_refuses_bad_input(operator, data, field):
    # given
    accounts = {"MASTER": MasterFactory(account_id="MASTER-1"), "FOLLOWER": FollowerFactory(account_id="F-1")}
    if "account" in data:
        data = {**data, "account": accounts[data["account"]].pk}
    # when
    response = operator.post(reverse("admin:accounts_notificationchannel_add"), data)
    # then
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not NotificationChannel.objects.exists()
    assert not AuditEvent.objects.exists()


def test_notification_channel_form_has_a_checkbox_per_event(operator):
    # when
    html = operator.get(reverse("admin:accounts_notificationchannel_add")).content.decode()
    # then
    for event in ("FOLLOWER_NOT_READY", "ORDER_FAILED", "LOSS_LIMIT", "CAPTURE_DOWN", "KILL_SWITCH"):
        assert f'type="checkbox" name="events" value="{event}"' in html, event
    assert 'value="TEST"' not in html


# ------------------------------------------------------------------- account: capital, risk config
@pytest.mark.parametrize(
    "overrides",
    [
        {"capital_source": "FIXED", "fixed_capital": ""},
        {"capital_source": "FIXED", "fixed_capital": "0"},
        {"capital_source": "FIXED", "fixed_capital": "-100000"},
        {"capital_source": "FIXED", "fixed_capital": "1e20"},
        {"capital_source": "FIXED", "fixed_capital": "abc"},
        {"capital_source": "SALARY"},
        {"risk_config-0-price_guard_percent": "-1"},
        {"risk_config-0-price_guard_percent": "100.01"},
        {"risk_config-0-price_guard_percent": "NaN"},
        {"risk_config-0-price_guard_action": "LIMIT"},
        {"risk_config-0-window_start": "9:15am"},
        {"risk_config-0-window_start": ""},
        {"risk_config-0-symbol_multipliers": "NIFTY"},
        {"risk_config-0-symbol_multipliers": "NIFTY=0"},
        {"risk_config-0-symbol_multipliers": "NIFTY=-2"},
        {"risk_config-0-symbol_multipliers": "NIFTY 50=2"},
        {"risk_config-0-symbol_multipliers": "NIFTY=2, NIFTY=3"},
        {"risk_config-0-symbol_multipliers": "NIFTY=1e400"},
        {"risk_config-0-sizing_mode": "KELLY"},
    ],
)
def test_account_form_refuses_bad_capital_and_rule_values_and_writes_nothing(operator, overrides):
    # given
    follower = FollowerFactory(account_id="TEST-USER-1")
    url = reverse("admin:accounts_account_change", args=[follower.pk])
    before = RiskConfig.objects.get(account=follower).updated_at
    data = _change_form_data(operator.get(url), **overrides)
    # when
    response = operator.post(url, data)
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert "errorlist" in html
    assert RiskConfig.objects.get(account=follower).updated_at == before
    account = Account.objects.get(pk=follower.pk)
    assert account.capital_source == follower.capital_source
    assert account.fixed_capital == follower.fixed_capital
    assert not AuditEvent.objects.exists()


def test_account_form_has_number_and_time_inputs(operator):
    # given
    follower = FollowerFactory(account_id="TEST-USER-1")
    # when
    html = operator.get(reverse("admin:accounts_account_change", args=[follower.pk])).content.decode()
    # then
    assert 'type="number" name="fixed_capital"' in html
    assert 'type="time" name="risk_config-0-window_end"' in html
    assert 'name="risk_config-0-symbol_multipliers"' in html


# --------------------------------------------------------------------------------- master settings
@pytest.mark.parametrize(
    "overrides",
    [
        {"extra_closed_days": "tomorrow"},
        {"extra_closed_days": "2026-12-31; 2027-01-01"},
        {"extra_trading_days": "2026-11-08, 2026-11-31"},
        {"extra_trading_days": "99999-01-01"},
    ],
)
def test_master_settings_form_refuses_bad_days_and_writes_nothing(operator, overrides):
    # when
    response = operator.post(reverse("admin:accounts_mastersettings_add"), _settings_form(**overrides))
    # then
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert not AuditEvent.objects.exists()
    assert not MasterSettings.objects.exists()


def test_master_settings_form_has_checkboxes_for_the_switches(operator):
    # when
    html = operator.get(reverse("admin:accounts_mastersettings_add")).content.decode()
    # then
    assert 'type="checkbox" name="enforce_copy_window"' in html
    assert 'type="checkbox" name="allow_amo"' in html
