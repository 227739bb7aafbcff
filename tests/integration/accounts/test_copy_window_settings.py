"""The copy window and price guard fields in the risk-config API, the master settings API and the admin:
stored through the services, bad input refused (400 / form error) with nothing written."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import AuditEvent, MasterSettings, RiskConfig
from tests.factories.accounts import FollowerFactory
from tests.integration.accounts.test_admin_pages import _change_form_data, _settings_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, django_user_model, otp_login):
    user = django_user_model.objects.create_superuser(username="root", password="pw-root-123", email="r@x.io")
    otp_login(client, user)
    return client


def test_risk_config_api_stores_the_window_and_the_guard(api):
    # given
    FollowerFactory(account_id="TEST-USER-1")
    body = {
        "followerId": "TEST-USER-1",
        "window_start": "10:00",
        "window_end": "14:30:30",
        "price_guard_percent": "1.5",
        "price_guard_action": "MARKET",
    }
    # when
    saved = api.post("/api/followers/risk-config", body, format="json")
    fetched = api.get("/api/followers/risk-config", {"followerId": "TEST-USER-1"}).json()["config"]
    # then
    assert saved.status_code == 200, saved.content
    config = RiskConfig.objects.get(account__account_id="TEST-USER-1")
    assert (config.window_start, config.window_end) == (time(10, 0), time(14, 30, 30))
    assert (config.price_guard_percent, config.price_guard_action) == (Decimal("1.50"), "MARKET")
    assert {
        k: fetched[k] for k in ("window_start", "window_end", "price_guard_percent", "price_guard_action")
    } == {
        "window_start": "10:00:00",
        "window_end": "14:30:30",
        "price_guard_percent": "1.50",
        "price_guard_action": "MARKET",
    }


def test_risk_config_api_omitted_fields_go_back_to_the_defaults(api):
    # given a follower with a window and a guard
    FollowerFactory(account_id="TEST-USER-1")
    api.post(
        "/api/followers/risk-config",
        {"followerId": "TEST-USER-1", "window_start": "10:00", "price_guard_percent": 3},
        format="json",
    )
    # when the full replace omits them
    api.post("/api/followers/risk-config", {"followerId": "TEST-USER-1"}, format="json")
    # then
    config = RiskConfig.objects.get(account__account_id="TEST-USER-1")
    assert (
        config.window_start,
        config.window_end,
        config.price_guard_percent,
        config.price_guard_action,
    ) == (
        time(9, 15),
        time(15, 20),
        None,
        "SKIP",
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"window_start": "25:00"}, "window_start"),
        ({"window_start": 915}, "window_start"),
        ({"window_start": "9:15"}, "window_start"),
        ({"window_end": "15:20:00Z"}, "window_end"),
        ({"window_end": "15:20:00.5"}, "window_end"),
        ({"price_guard_percent": -1}, "price_guard_percent"),
        ({"price_guard_percent": 101}, "price_guard_percent"),
        ({"price_guard_percent": "1.234"}, "price_guard_percent"),
        ({"price_guard_action": "LIMIT"}, "price_guard_action"),
        ({"price_guard_action": "market"}, "price_guard_action"),
    ],
)
def test_risk_config_api_refuses_bad_window_and_guard_and_writes_nothing(api, body, field):
    # given
    follower = FollowerFactory(account_id="TEST-USER-1")
    before = RiskConfig.objects.get(account=follower).updated_at
    # when
    response = api.post("/api/followers/risk-config", {"followerId": "TEST-USER-1", **body}, format="json")
    # then
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert field in response.json()["message"]
    assert RiskConfig.objects.get(account=follower).updated_at == before
    assert not AuditEvent.objects.filter(action="risk_config.replaced").exists()


def test_master_settings_api_switches_the_rule_and_keeps_extra_days(api):
    # when
    response = api.post(
        "/api/admin/settings",
        {
            "enforceCopyWindow": True,
            "extraClosedDays": ["2026-12-31", "2026-12-30", "2026-12-31"],
            "extraTradingDays": ["2026-11-08"],
        },
        format="json",
    )
    settings = api.get("/api/admin/settings").json()["settings"]
    # then
    assert response.status_code == 200, response.content
    assert settings["enforce_copy_window"] is True
    assert settings["extra_closed_days"] == ["2026-12-30", "2026-12-31"]
    assert settings["extra_trading_days"] == ["2026-11-08"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"enforceCopyWindow": "yes"}, "enforceCopyWindow"),
        ({"extraClosedDays": ["2026-13-01"]}, "extraClosedDays"),
        ({"extraTradingDays": "2026-11-08"}, "extraTradingDays"),
    ],
)
def test_master_settings_api_refuses_bad_rule_values(api, body, field):
    # when
    response = api.post("/api/admin/settings", body, format="json")
    # then
    assert response.status_code == 400
    assert field in response.json()["message"]
    assert not MasterSettings.objects.exists()


def test_admin_shows_and_saves_the_window_and_the_guard(admin_client):
    # given
    follower = FollowerFactory(account_id="TEST-USER-1")
    url = reverse("admin:accounts_account_change", args=[follower.pk])
    page = admin_client.get(url)
    html = page.content.decode()
    data = _change_form_data(
        page,
        **{
            "risk_config-0-window_start": "09:30:00",
            "risk_config-0-window_end": "15:00:00",
            "risk_config-0-price_guard_percent": "2.5",
            "risk_config-0-price_guard_action": "MARKET",
        },
    )
    # when
    response = admin_client.post(url, data)
    # then the page had time inputs, a percent input, the choices and the help
    assert 'type="time" name="risk_config-0-window_start"' in html
    assert 'type="number" name="risk_config-0-price_guard_percent"' in html
    assert 'type="radio" name="risk_config-0-price_guard_action" value="MARKET"' in html
    assert "Empty or 0: off." in html
    assert response.status_code == 302
    config = RiskConfig.objects.get(account=follower)
    assert (config.window_start, config.window_end) == (time(9, 30), time(15, 0))
    assert (config.price_guard_percent, config.price_guard_action) == (Decimal("2.50"), "MARKET")
    assert AuditEvent.objects.filter(action="risk_config.replaced", target="TEST-USER-1").exists()


def test_admin_refuses_a_time_that_is_not_one(admin_client):
    # given
    follower = FollowerFactory(account_id="TEST-USER-1")
    url = reverse("admin:accounts_account_change", args=[follower.pk])
    before = RiskConfig.objects.get(account=follower).updated_at
    data = _change_form_data(admin_client.get(url), **{"risk_config-0-window_end": "25:61"})
    # when
    response = admin_client.post(url, data)
    # then
    assert response.status_code == 200
    assert "Enter a valid time." in response.content.decode()
    assert RiskConfig.objects.get(account=follower).updated_at == before


def test_master_settings_admin_saves_the_rule_and_refuses_a_bad_day(admin_client):
    # given
    add_url = reverse("admin:accounts_mastersettings_add")
    # when
    bad = admin_client.post(add_url, _settings_form(enforce_copy_window="on", extra_closed_days="2026-02-30"))
    good = admin_client.post(
        add_url,
        _settings_form(
            enforce_copy_window="on", extra_closed_days="2026-12-31, 2026-12-30", extra_trading_days=""
        ),
    )
    # then
    assert bad.status_code == 200
    assert bad.context["adminform"].form.errors["extra_closed_days"] == [
        "Not a date (YYYY-MM-DD): 2026-02-30"
    ]
    assert good.status_code == 302
    row = MasterSettings.objects.get()
    assert (row.enforce_copy_window, row.extra_closed_days, row.extra_trading_days) == (
        True,
        ["2026-12-30", "2026-12-31"],
        [],
    )
