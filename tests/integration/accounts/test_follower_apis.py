"""The follower APIs: the seed's paths, bodies, messages and keys; validation; 404; nothing half-written."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import Account, AuditEvent, BrokerCredential, Consent, RiskConfig
from tests.factories.accounts import (
    BrokerCredentialFactory,
    ConsentFactory,
    FollowerFactory,
    MasterFactory,
)

pytestmark = pytest.mark.django_db


# ------------------------------------------------------------------------------------ /api/followers
def test_create_follower_really_creates_it_with_defaults(api):
    # given
    body = {
        "followerId": "TEST-USER-1",
        "clientId": "AB1001",
        "name": "Asha",
        "apiKey": "key-1234567890abcd",
        "accessToken": "token-abcdefghijkl9876",
    }
    # when
    response = api.post("/api/followers", body, format="json")
    # then
    assert response.status_code == 201
    data = response.json()
    assert data["ok"] is True
    assert data["message"] == "Follower added successfully"
    assert data["follower"]["follower_id"] == "TEST-USER-1"
    assert data["follower"]["session_status"] == "UNVERIFIED"
    assert data["follower"]["session_ready_today"] is False
    assert "key-1234567890abcd" not in response.content.decode()
    account = Account.objects.get(account_id="TEST-USER-1")
    assert account.role == Account.Role.FOLLOWER
    assert account.client_id == "AB1001"
    assert account.risk_config.max_quantity == 100
    assert account.credential.api_key == "key-1234567890abcd"
    assert AuditEvent.objects.filter(action="follower.created", target="TEST-USER-1").exists()


def test_list_followers_shows_them_without_secrets(api):
    # given
    follower = FollowerFactory(account_id="TEST-USER-7")
    BrokerCredentialFactory(account=follower, access_token="secret-token-value-0007")
    MasterFactory()
    # when
    response = api.get("/api/followers")
    # then
    assert response.status_code == 200
    data = response.json()
    assert data["ok"] is True
    assert [f["follower_id"] for f in data["followers"]] == ["TEST-USER-7"]
    assert set(data["followers"][0]) >= {
        "follower_id",
        "name",
        "client_id",
        "status",
        "copy_trading_active",
        "session_status",
        "session_ready_today",
        "consent_given",
    }
    assert "secret-token-value" not in response.content.decode()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"clientId": "AB1"}, "followerId"),
        ({"followerId": "X"}, "clientId"),
        ({"followerId": "X", "clientId": "AB1", "apiFlavor": "fax"}, "apiFlavor"),
    ],
)
def test_create_follower_validation_names_the_field(api, body, field):
    # when
    response = api.post("/api/followers", body, format="json")
    # then
    assert response.status_code == 400
    assert response.json()["ok"] is False
    assert field in response.json()["message"]
    assert not Account.objects.exists()


def test_create_follower_twice_is_a_conflict(api):
    # given
    FollowerFactory(account_id="TEST-USER-1")
    # when
    response = api.post("/api/followers", {"followerId": "TEST-USER-1", "clientId": "AB1"}, format="json")
    # then
    assert response.status_code == 409
    assert response.json()["ok"] is False


# ------------------------------------------------------------------------ /api/followers/credentials
def test_credentials_post_stores_encrypted_and_get_shows_last4(api):
    # given
    FollowerFactory(account_id="TEST-USER-1", client_id="")
    body = {
        "followerId": "TEST-USER-1",
        "clientId": "AB1001",
        "apiKey": "apikey-000011112222",
        "accessToken": "access-token-abcdefgh5678",
        "apiSecret": "api-secret-999988887777",
    }
    # when
    saved = api.post("/api/followers/credentials", body, format="json")
    shown = api.get("/api/followers/credentials", {"followerId": "TEST-USER-1"})
    # then
    assert saved.status_code == 200
    assert saved.json() == {
        "ok": True,
        "message": "Credentials saved successfully",
        "credentialId": BrokerCredential.objects.get().pk,
        "sessionStatus": "UNVERIFIED",
        "replacementPending": False,
    }
    assert shown.status_code == 200
    credential = shown.json()["credential"]
    assert shown.json()["ok"] is True
    assert set(credential) >= {
        "follower_id",
        "client_id",
        "api_key_last4",
        "access_token_last4",
        "status",
        "created_at",
    }
    assert credential["session_status"] == "UNVERIFIED"
    assert credential["replacement_pending"] is False
    assert credential["last_verified_at"] is None
    assert credential["api_key_last4"] == "2222"
    assert credential["access_token_last4"] == "5678"
    assert credential["client_id"] == "AB1001"
    assert credential["status"] == "ACTIVE"
    assert "abcdefgh" not in shown.content.decode()
    event = AuditEvent.objects.get(action="credential.replaced")
    assert "apikey-000011112222" not in str(event.details)
    assert set(event.details["fields"]) >= {"api_key", "access_token", "api_secret", "client_id"}


def test_credentials_post_updates_in_place(api):
    # given
    follower = FollowerFactory(account_id="TEST-USER-1")
    first = BrokerCredentialFactory(account=follower, api_key="old-api-key-00000000")
    # when
    response = api.post(
        "/api/followers/credentials",
        {"followerId": "TEST-USER-1", "accessToken": "new-token-123456789012"},
        format="json",
    )
    # then
    assert response.json()["credentialId"] == first.pk
    credential = BrokerCredential.objects.get(pk=first.pk)
    assert credential.access_token == "new-token-123456789012"
    assert credential.api_key == "old-api-key-00000000"
    assert credential.session_status == "UNVERIFIED"
    assert credential.last_verified_at is None


@pytest.mark.parametrize(
    ("body", "field"), [({"accessToken": "t"}, "followerId"), ({"followerId": "TEST-USER-1"}, "accessToken")]
)
def test_credentials_post_validation(api, body, field):
    # given
    FollowerFactory(account_id="TEST-USER-1")
    # when
    response = api.post("/api/followers/credentials", body, format="json")
    # then
    assert response.status_code == 400
    assert field in response.json()["message"]
    assert not BrokerCredential.objects.exists()


def test_credentials_unknown_follower_is_404(api):
    # when
    posted = api.post("/api/followers/credentials", {"followerId": "NOPE", "accessToken": "t"}, format="json")
    fetched = api.get("/api/followers/credentials", {"followerId": "NOPE"})
    missing_param = api.get("/api/followers/credentials")
    # then
    assert posted.status_code == 404
    assert posted.json()["message"] == "Follower not found"
    assert fetched.status_code == 404
    assert fetched.json()["message"] == "Follower not found"
    assert missing_param.status_code == 400
    assert "followerId" in missing_param.json()["message"]


def test_credentials_get_without_credentials_is_404(api):
    # given
    FollowerFactory(account_id="TEST-USER-1")
    # when
    response = api.get("/api/followers/credentials", {"followerId": "TEST-USER-1"})
    # then
    assert response.status_code == 404
    assert response.json()["message"] == "Credentials not found"


def test_master_is_not_reachable_through_follower_endpoints(api):
    # given
    MasterFactory(account_id="MASTER-1")
    # when
    response = api.post(
        "/api/followers/credentials", {"followerId": "MASTER-1", "accessToken": "t"}, format="json"
    )
    # then
    assert response.status_code == 404


# ------------------------------------------------------------------------ /api/followers/risk-config
def test_risk_config_post_is_a_full_replace_with_seed_defaults(api):
    # given
    follower = FollowerFactory(account_id="TEST-USER-1")
    RiskConfig.objects.filter(account=follower).update(max_quantity=5, allowed_instruments=["SBIN"])
    # when
    response = api.post(
        "/api/followers/risk-config",
        {"followerId": "TEST-USER-1", "lot_multiplier": 0.5, "allowed_order_types": ["market"]},
        format="json",
    )
    # then
    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "message": "Risk config updated successfully",
        "configId": follower.risk_config.pk,
    }
    config = RiskConfig.objects.get(account=follower)
    assert config.lot_multiplier == Decimal("0.5")
    assert config.max_quantity == 100
    assert config.allowed_instruments == []
    assert config.allowed_order_types == ["MARKET"]
    assert config.allowed_product_types == ["MIS", "CNC", "NRML"]


def test_risk_config_get_has_the_seed_keys(api):
    # given
    FollowerFactory(account_id="TEST-USER-1")
    api.post(
        "/api/followers/risk-config",
        {
            "followerId": "TEST-USER-1",
            "sizing_mode": "FIXED_QTY",
            "fixed_quantity": 3,
            "max_order_value": "50000",
        },
        format="json",
    )
    # when
    response = api.get("/api/followers/risk-config", {"followerId": "TEST-USER-1"})
    # then
    assert response.status_code == 200
    config = response.json()["config"]
    assert response.json()["ok"] is True
    assert set(config) == {
        "follower_id",
        "lot_multiplier",
        "max_quantity",
        "max_order_value",
        "max_daily_loss",
        "allowed_instruments",
        "allowed_product_types",
        "allowed_order_types",
        "enabled",
        "sizing_mode",
        "fixed_quantity",
        "symbol_multipliers",
        "window_start",
        "window_end",
        "price_guard_percent",
        "price_guard_action",
    }
    assert config["follower_id"] == "TEST-USER-1"
    assert config["sizing_mode"] == "FIXED_QTY"
    assert config["fixed_quantity"] == 3
    assert config["max_order_value"] == "50000.00"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lot_multiplier": 0}, "lot_multiplier"),
        ({"lot_multiplier": "abc"}, "lot_multiplier"),
        ({"max_quantity": 0}, "max_quantity"),
        ({"sizing_mode": "RANDOM"}, "sizing_mode"),
        ({"sizing_mode": "FIXED_QTY"}, "fixed_quantity"),
        ({"allowed_instruments": "SBIN"}, "allowed_instruments"),
        ({"enabled": "maybe"}, "enabled"),
        ({"max_order_value": -1}, "max_order_value"),
        ({"sizing_mode": "capital"}, "sizing_mode"),
        ({"symbol_multipliers": {"NIFTY": 2}}, "symbol_multipliers"),
        ({"symbol_multipliers": ["NIFTY=2"]}, "symbol_multipliers"),
        ({"symbol_multipliers": [{"symbol": "NIFTY"}]}, "symbol_multipliers"),
        ({"symbol_multipliers": [{"symbol": "NIFTY", "multiplier": 0}]}, "symbol_multipliers"),
        ({"symbol_multipliers": [{"symbol": "NIFTY", "multiplier": "-1"}]}, "symbol_multipliers"),
        ({"symbol_multipliers": [{"symbol": "NIFTY", "multiplier": "abc"}]}, "symbol_multipliers"),
        ({"symbol_multipliers": [{"symbol": "NIFTY", "multiplier": True}]}, "symbol_multipliers"),
        ({"symbol_multipliers": [{"symbol": "NIFTY", "multiplier": None}]}, "symbol_multipliers"),
        ({"symbol_multipliers": [{"symbol": "NIFTY", "multiplier": "0.00001"}]}, "symbol_multipliers"),
        ({"symbol_multipliers": [{"symbol": "NIFTY", "multiplier": "100000000"}]}, "symbol_multipliers"),
        ({"symbol_multipliers": [{"symbol": "NIFTY 50", "multiplier": "2"}]}, "symbol_multipliers"),
        ({"symbol_multipliers": [{"symbol": "nifty", "multiplier": "2"}]}, "symbol_multipliers"),
        ({"symbol_multipliers": [{"symbol": "", "multiplier": "2"}]}, "symbol_multipliers"),
        ({"symbol_multipliers": [{"symbol": "N" * 65, "multiplier": "2"}]}, "symbol_multipliers"),
        (
            {"symbol_multipliers": [{"symbol": f"S{n}", "multiplier": 1} for n in range(501)]},
            "symbol_multipliers",
        ),
    ],
)
def test_risk_config_validation_names_the_field_and_writes_nothing(api, body, field):
    # given
    follower = FollowerFactory(account_id="TEST-USER-1")
    before = RiskConfig.objects.get(account=follower).updated_at
    # when
    response = api.post("/api/followers/risk-config", {"followerId": "TEST-USER-1", **body}, format="json")
    # then
    assert response.status_code == 400
    assert field in response.json()["message"]
    assert RiskConfig.objects.get(account=follower).updated_at == before
    assert not AuditEvent.objects.filter(action="risk_config.replaced").exists()


def test_risk_config_takes_capital_sizing_and_per_symbol_multipliers(api):
    # given
    FollowerFactory(account_id="TEST-USER-1")
    # when
    saved = api.post(
        "/api/followers/risk-config",
        {
            "followerId": "TEST-USER-1",
            "sizing_mode": "CAPITAL",
            "symbol_multipliers": [
                {"symbol": "NIFTY", "multiplier": 2},
                {"symbol": "RELIANCE-EQ", "multiplier": "0.5"},
                {"symbol": "M&M-EQ", "multiplier": 1.25},
                {"symbol": "NIFTY", "multiplier": "3"},
            ],
        },
        format="json",
    )
    response = api.get("/api/followers/risk-config", {"followerId": "TEST-USER-1"})
    # then multipliers are kept exactly (a symbol given twice takes its last multiplier)
    assert saved.status_code == 200, saved.content
    config = response.json()["config"]
    assert config["sizing_mode"] == "CAPITAL"
    assert config["symbol_multipliers"] == [
        {"symbol": "NIFTY", "multiplier": "3.0000"},
        {"symbol": "RELIANCE-EQ", "multiplier": "0.5000"},
        {"symbol": "M&M-EQ", "multiplier": "1.2500"},
    ]
    stored = RiskConfig.objects.get(account__account_id="TEST-USER-1")
    assert stored.symbol_multipliers == {"NIFTY": "3", "RELIANCE-EQ": "0.5", "M&M-EQ": "1.25"}
    replaced = AuditEvent.objects.get(action="risk_config.replaced")
    assert replaced.details["values"]["symbol_multipliers"] == stored.symbol_multipliers
    # and a full replace without them clears them
    api.post("/api/followers/risk-config", {"followerId": "TEST-USER-1"}, format="json")
    assert RiskConfig.objects.get(account__account_id="TEST-USER-1").symbol_multipliers == {}


def test_risk_config_unknown_follower_and_missing_config(api):
    # given
    FollowerFactory(account_id="TEST-USER-1", risk_config=None)
    # when
    unknown = api.post("/api/followers/risk-config", {"followerId": "NOPE"}, format="json")
    missing = api.get("/api/followers/risk-config", {"followerId": "TEST-USER-1"})
    # then
    assert unknown.status_code == 404
    assert unknown.json()["message"] == "Follower not found"
    assert missing.status_code == 404
    assert missing.json()["message"] == "Risk config not found"


# ---------------------------------------------------------------------------- /api/followers/consent
# (consent links and the operator's evidence rules: test_consent.py)
def test_consent_get_is_null_without_consent_and_validation(api):
    # given
    FollowerFactory(account_id="TEST-USER-1")
    # when
    fetched = api.get("/api/followers/consent", {"followerId": "TEST-USER-1"})
    no_id = api.post("/api/followers/consent", {}, format="json")
    unknown = api.post(
        "/api/followers/consent",
        {"followerId": "NOPE", "recordedByOperator": True, "reference": "form #1"},
        format="json",
    )
    # then
    assert fetched.json() == {"ok": True, "consent": None}
    assert no_id.status_code == 400
    assert "followerId" in no_id.json()["message"]
    assert unknown.status_code == 404
    assert unknown.json()["message"] == "Follower not found"
    assert not Consent.objects.exists()


# ------------------------------------------------------------------ /api/followers/stop-copy-trading
def test_stop_and_resume_copy_trading(api):
    # given
    follower = FollowerFactory(account_id="TEST-USER-1")
    ConsentFactory(account=follower)
    # when
    stopped = api.patch(
        "/api/followers/stop-copy-trading",
        {"followerId": "TEST-USER-1", "action": "stop"},
        format="json",
        headers={"x-master-id": "MASTER-1"},
    )
    state = api.get("/api/followers/stop-copy-trading", {"followerId": "TEST-USER-1"})
    resumed = api.patch(
        "/api/followers/stop-copy-trading", {"followerId": "TEST-USER-1", "action": "resume"}, format="json"
    )
    # then
    assert stopped.status_code == 200
    assert stopped.json()["message"] == "Copy trading stopped for TEST-USER-1"
    consent = stopped.json()["consent"]
    assert set(consent) == {"follower_id", "enabled", "copyTradingActive", "stoppedAt", "stoppedBy"}
    assert consent["copyTradingActive"] is False
    assert consent["stoppedBy"] == "MASTER-1"
    assert consent["enabled"]
    assert set(state.json()) == {"ok", "copyTradingActive", "stoppedAt", "stoppedBy"}
    assert state.json()["copyTradingActive"] is False
    assert state.json()["stoppedAt"]
    assert resumed.json()["message"] == "Copy trading resumed for TEST-USER-1"
    assert resumed.json()["consent"]["copyTradingActive"] is True
    assert resumed.json()["consent"]["stoppedBy"] is None
    assert Account.objects.get(pk=follower.pk).copy_trading_active is True
    assert AuditEvent.objects.filter(action="copy_trading.stopped").count() == 1


def test_stop_without_master_header_records_admin(api):
    # given
    FollowerFactory(account_id="TEST-USER-1")
    # when
    api.patch(
        "/api/followers/stop-copy-trading", {"followerId": "TEST-USER-1", "action": "stop"}, format="json"
    )
    # then
    assert Account.objects.get(account_id="TEST-USER-1").stopped_by == "admin"


def test_stop_copy_validation(api):
    # given
    FollowerFactory(account_id="TEST-USER-1")
    # when
    bad_action = api.patch(
        "/api/followers/stop-copy-trading", {"followerId": "TEST-USER-1", "action": "pause"}, format="json"
    )
    no_id = api.patch("/api/followers/stop-copy-trading", {"action": "stop"}, format="json")
    unknown = api.patch(
        "/api/followers/stop-copy-trading", {"followerId": "NOPE", "action": "stop"}, format="json"
    )
    unknown_get = api.get("/api/followers/stop-copy-trading", {"followerId": "NOPE"})
    # then
    assert bad_action.status_code == 400
    assert bad_action.json()["message"] == 'action must be either "stop" or "resume"'
    assert no_id.status_code == 400
    assert "followerId" in no_id.json()["message"]
    assert unknown.status_code == 404
    assert unknown_get.status_code == 404
    assert Account.objects.get(account_id="TEST-USER-1").copy_trading_active is True


# ----------------------------------------------------------------------- /api/followers/test-connect
def test_test_connect_validation_without_the_broker(api):
    # given
    FollowerFactory(account_id="TEST-USER-1")
    # when
    no_id = api.get("/api/followers/test-connect")
    unknown = api.get("/api/followers/test-connect", {"followerId": "NOPE"})
    no_token = api.get("/api/followers/test-connect", {"followerId": "TEST-USER-1"})
    # then
    assert no_id.status_code == 400
    assert no_id.json()["message"] == "followerId required"
    assert unknown.status_code == 404
    assert unknown.json()["message"] == "Follower not found"
    assert no_token.status_code == 404
    assert no_token.json()["ok"] is False
