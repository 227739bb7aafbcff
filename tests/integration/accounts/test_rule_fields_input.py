"""The new rule fields of the risk-config and master settings APIs against hostile input: wrong types, huge
numbers, bad times and days, unicode, nulls; each a 400 JSON answer naming the field, nothing written."""

from __future__ import annotations

import pytest

from accounts.models import AuditEvent, MasterSettings, RiskConfig
from tests.factories.accounts import FollowerFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"window_start": "9:15am"}, "window_start"),
        ({"window_start": ""}, "window_start"),
        ({"window_start": "09:15\n"}, "window_start"),
        ({"window_start": "٠٩:١٥"}, "window_start"),
        ({"window_start": "24:00"}, "window_start"),
        ({"window_end": "15:60"}, "window_end"),
        ({"window_end": ["15:20"]}, "window_end"),
        ({"window_end": {"h": 15}}, "window_end"),
        ({"window_end": True}, "window_end"),
        ({"price_guard_percent": "1e400"}, "price_guard_percent"),
        ({"price_guard_percent": 10**30}, "price_guard_percent"),
        ({"price_guard_percent": "NaN"}, "price_guard_percent"),
        ({"price_guard_percent": "Infinity"}, "price_guard_percent"),
        ({"price_guard_percent": "-0.01"}, "price_guard_percent"),
        ({"price_guard_percent": "５"}, "price_guard_percent"),
        ({"price_guard_percent": True}, "price_guard_percent"),
        ({"price_guard_percent": [1]}, "price_guard_percent"),
        ({"price_guard_action": "SKIP\u200b"}, "price_guard_action"),
        ({"price_guard_action": 1}, "price_guard_action"),
        ({"symbol_multipliers": [{"symbol": "NİFTY", "multiplier": "2"}]}, "symbol_multipliers"),
        ({"symbol_multipliers": [{"symbol": "NIFTY", "multiplier": "1e400"}]}, "symbol_multipliers"),
        ({"symbol_multipliers": [{"symbol": "NIFTY", "multiplier": "NaN"}]}, "symbol_multipliers"),
        ({"symbol_multipliers": [None]}, "symbol_multipliers"),
        ({"symbol_multipliers": "NIFTY=2"}, "symbol_multipliers"),
    ],
)
def test_risk_config_refuses_hostile_rule_values_and_writes_nothing(api, body, field):
    # given
    follower = FollowerFactory(account_id="TEST-USER-1")
    before = RiskConfig.objects.get(account=follower)
    audits = AuditEvent.objects.count()
    # when
    response = api.post("/api/followers/risk-config", {"followerId": "TEST-USER-1", **body}, format="json")
    # then
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")
    answer = response.json()
    assert answer["ok"] is False
    assert field in answer["message"]
    after = RiskConfig.objects.get(account=follower)
    assert (after.updated_at, after.window_start, after.window_end) == (
        before.updated_at,
        before.window_start,
        before.window_end,
    )
    assert (after.price_guard_percent, after.symbol_multipliers) == (
        before.price_guard_percent,
        before.symbol_multipliers,
    )
    assert AuditEvent.objects.count() == audits


def test_risk_config_nulls_mean_the_defaults(api):
    # given
    FollowerFactory(account_id="TEST-USER-1")
    body = {
        "followerId": "TEST-USER-1",
        "window_start": None,
        "window_end": None,
        "price_guard_percent": None,
        "price_guard_action": None,
        "symbol_multipliers": None,
    }
    # when
    saved = api.post("/api/followers/risk-config", body, format="json")
    config = api.get("/api/followers/risk-config", {"followerId": "TEST-USER-1"}).json()["config"]
    # then
    assert saved.status_code == 200, saved.content
    assert (config["window_start"], config["window_end"]) == ("09:15:00", "15:20:00")
    assert (config["price_guard_percent"], config["price_guard_action"]) == (None, "SKIP")
    assert config["symbol_multipliers"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"enforceCopyWindow": None}, "enforceCopyWindow"),
        ({"enforceCopyWindow": 1}, "enforceCopyWindow"),
        ({"allowAmo": "true"}, "allowAmo"),
        ({"allowAmo": None}, "allowAmo"),
        ({"extraClosedDays": None}, "extraClosedDays"),
        ({"extraClosedDays": [None]}, "extraClosedDays"),
        ({"extraClosedDays": ["2026-02-30"]}, "extraClosedDays"),
        ({"extraClosedDays": ["2026-12-01T00:00:00"]}, "extraClosedDays"),
        ({"extraClosedDays": ["01-12-2026"]}, "extraClosedDays"),
        ({"extraClosedDays": [""]}, "extraClosedDays"),
        ({"extraClosedDays": [20261201]}, "extraClosedDays"),
        ({"extraClosedDays": ["２０２６-１２-０１"]}, "extraClosedDays"),
        ({"extraClosedDays": ["2026-12-01\n"]}, "extraClosedDays"),
        ({"extraClosedDays": ["20261201"]}, "extraClosedDays"),
        ({"extraTradingDays": {"2026-11-08": True}}, "extraTradingDays"),
        ({"extraTradingDays": ["2026-11-08"] * 501}, "extraTradingDays"),
        ({"extraTradingDays": ["99999-01-01"]}, "extraTradingDays"),
    ],
)
def test_master_settings_refuse_hostile_rule_values_and_write_nothing(api, body, field):
    # given
    audits = AuditEvent.objects.count()
    # when
    response = api.post("/api/admin/settings", body, format="json")
    # then
    assert response.status_code == 400, response.content
    answer = response.json()
    assert answer["ok"] is False
    assert field in answer["message"]
    assert not MasterSettings.objects.exists()
    assert AuditEvent.objects.count() == audits


def test_schema_describes_the_new_rule_fields_as_answered(api):
    # when
    schemas = api.get("/api/schema", {"format": "json"}).json()["components"]["schemas"]
    # then
    config = schemas["RiskConfigOutput"]["properties"]
    assert config["window_start"]["example"] == "09:15"
    assert config["window_end"]["example"] == "15:20"
    action = config["price_guard_action"]
    enum = schemas[action["$ref"].rsplit("/", 1)[-1]]["enum"] if "$ref" in action else action.get("enum")
    assert enum == ["SKIP", "MARKET"]
    assert schemas["RiskConfigInput"]["properties"]["window_end"]["example"] == "15:20"
    days = schemas["MasterSettingsOutput"]["properties"]["extra_closed_days"]
    assert days["items"] == {"type": "string", "format": "date"}
