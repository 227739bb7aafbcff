"""Admin, master and auth behaviour of the accounts API; the OpenAPI schema documents every endpoint."""

from __future__ import annotations

import logging

import pytest
from django.core.management import call_command

from accounts.models import AuditEvent, BrokerCredential, MasterSettings
from tests.factories.accounts import BrokerCredentialFactory, FollowerFactory, MasterFactory

pytestmark = pytest.mark.django_db

LONG_TOKEN = "abc1234567" + "x" * 30 + "8901"

ENDPOINTS = [
    ("get", "/api/followers"),
    ("post", "/api/followers"),
    ("get", "/api/followers/credentials?followerId=TEST-USER-1"),
    ("post", "/api/followers/credentials"),
    ("get", "/api/followers/risk-config?followerId=TEST-USER-1"),
    ("post", "/api/followers/risk-config"),
    ("get", "/api/followers/consent?followerId=TEST-USER-1"),
    ("post", "/api/followers/consent"),
    ("post", "/api/followers/consent/revoke"),
    ("post", "/api/followers/consent-link"),
    ("get", "/api/followers/stop-copy-trading?followerId=TEST-USER-1"),
    ("patch", "/api/followers/stop-copy-trading"),
    ("get", "/api/followers/test-connect?followerId=TEST-USER-1"),
    ("get", "/api/admin/accounts"),
    ("get", "/api/admin/settings"),
    ("post", "/api/admin/settings"),
    ("get", "/api/master/status"),
    ("post", "/api/master/disconnect"),
    ("get", "/api/alice/oauth/vendor/start?accountId=TEST-USER-1"),
]


# ------------------------------------------------------------------------------------------- auth
@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
@pytest.mark.parametrize(
    "secret",
    [None, "bogus-Zq81", "test-qa-secret-0123456789abcdeX", "old-rotated-secret-value"],
    ids=["missing", "wrong", "same-length-wrong", "old-rotated"],
)
def test_every_endpoint_refuses_missing_or_wrong_secret(anon, settings, caplog, method, url, secret):
    # given: the secret was rotated away from "old-rotated-secret-value"
    settings.QUANTUM_ALPHA_SECRET = "test-qa-secret-0123456789abcdef"
    FollowerFactory(account_id="TEST-USER-1")
    headers = {"x-qa-secret": secret} if secret is not None else {}
    caplog.set_level(logging.WARNING, logger="copytrade.core.auth")
    # when
    response = getattr(anon, method)(
        url, {"followerId": "TEST-USER-1"} if method != "get" else None, format="json", headers=headers
    )
    # then
    assert response.status_code == 401
    assert response.json()["ok"] is False
    assert response.json()["message"] == "Unauthorized"
    assert response.headers["WWW-Authenticate"]
    assert "api auth failed" in caplog.text
    if secret:
        assert secret not in caplog.text
    assert not AuditEvent.objects.exists()


def test_same_length_wrong_secret_is_refused_and_right_one_accepted(anon, settings):
    # given
    settings.QUANTUM_ALPHA_SECRET = "new-secret-value-after-rotation"
    # when
    same_length = anon.get("/api/admin/accounts", headers={"x-qa-secret": "new-secret-value-after-rotatioX"})
    new = anon.get("/api/admin/accounts", headers={"x-qa-secret": "new-secret-value-after-rotation"})
    # then
    assert same_length.status_code == 401
    assert new.status_code == 200


@pytest.mark.parametrize(("method", "url"), [e for e in ENDPOINTS if e[0] == "get"])
def test_staff_session_can_use_every_read_endpoint(staff_client, method, url):
    # given
    follower = FollowerFactory(account_id="TEST-USER-1")
    BrokerCredentialFactory(account=follower)
    # when
    response = staff_client.get(url)
    # then: authenticated (a 502/404 from the broker side is fine here, a 401/403 is not)
    assert response.status_code not in (401, 403)


def test_staff_session_can_write_and_is_recorded_as_actor(staff_client):
    # given
    FollowerFactory(account_id="TEST-USER-1")
    # when
    response = staff_client.patch(
        "/api/followers/stop-copy-trading", {"followerId": "TEST-USER-1", "action": "stop"}, format="json"
    )
    # then
    assert response.status_code == 200
    assert response.json()["consent"]["stoppedBy"] == "ops"
    assert AuditEvent.objects.get(action="copy_trading.stopped").actor == "ops"


def test_non_staff_session_is_refused(db, django_user_model, anon):
    # given
    user = django_user_model.objects.create_user(username="viewer", password="pw-viewer-1", is_staff=False)
    anon.force_login(user)
    # when
    response = anon.get("/api/followers")
    # then
    assert response.status_code == 401


# --------------------------------------------------------------------------------- admin accounts
def test_admin_accounts_lists_token_masks(api):
    # given
    master = MasterFactory(account_id="trader1@example.com")
    BrokerCredentialFactory(account=master, access_token=LONG_TOKEN)
    follower = FollowerFactory(account_id="follower1@example.com")
    BrokerCredentialFactory(account=follower, access_token="", broker_session_id="")
    # when
    response = api.get("/api/admin/accounts")
    # then
    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "accounts": 1,
        "list": [{"userId": "trader1@example.com", "tokenMask": "abc1234567...8901"}],
    }


# --------------------------------------------------------------------------------- admin settings
def test_admin_settings_defaults_and_update(api):
    # when
    before = api.get("/api/admin/settings")
    updated = api.post(
        "/api/admin/settings",
        {"maxQuantityPerTrade": 500, "autoReplicateNewTrades": False, "maxDailyLossPercentage": 2.5},
        format="json",
    )
    after = api.get("/api/admin/settings")
    # then
    assert before.json() == {
        "ok": True,
        "settings": {
            "max_quantity_per_trade": 1000,
            "max_daily_loss_percentage": "5.00",
            "min_lot_size": 1,
            "default_lot_multiplier": "1.0000",
            "auto_liquidate_on_loss": False,
            "max_concurrent_trades": 10,
            "auto_replicate_new_trades": True,
            "poll_interval_seconds": "2.00",
            "poll_interval_with_stream_seconds": "15.00",
            "enforce_copy_window": False,  # tests/settings.py: COPYTRADE_COPY_WINDOW_DEFAULT off
            "allow_amo": False,
            "extra_closed_days": [],
            "extra_trading_days": [],
        },
    }
    assert updated.json() == {"ok": True, "message": "Settings updated successfully"}
    settings_after = after.json()["settings"]
    assert settings_after["max_quantity_per_trade"] == 500
    assert settings_after["auto_replicate_new_trades"] is False
    assert settings_after["max_daily_loss_percentage"] == "2.50"
    assert settings_after["min_lot_size"] == 1
    assert MasterSettings.objects.count() == 1
    assert (
        AuditEvent.objects.get(action="master_settings.updated").details["changed"]["max_quantity_per_trade"]
        == 500
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"maxQuantityPerTrade": 0}, "maxQuantityPerTrade"),
        ({"minLotSize": "x"}, "minLotSize"),
        ({"maxDailyLossPercentage": 150}, "maxDailyLossPercentage"),
        ({"autoLiquidateOnLoss": "perhaps"}, "autoLiquidateOnLoss"),
        ({"defaultLotMultiplier": 0}, "defaultLotMultiplier"),
        ({"maxConcurrentTrades": -1}, "maxConcurrentTrades"),
    ],
)
def test_admin_settings_validation(api, body, field):
    # when
    response = api.post("/api/admin/settings", {"maxQuantityPerTrade": 7, **body}, format="json")
    # then
    assert response.status_code == 400
    assert field in response.json()["message"]
    assert not MasterSettings.objects.exists()


# --------------------------------------------------------------------------------------- master
def test_master_status_and_disconnect(api):
    # given
    master = MasterFactory(account_id="trader@example.com")
    BrokerCredentialFactory(account=master, access_token=LONG_TOKEN)
    # when
    status = api.get("/api/master/status")
    disconnected = api.post("/api/master/disconnect")
    status_after = api.get("/api/master/status")
    # then
    assert status.json() == {
        "ok": True,
        "master": {"userId": "trader@example.com", "tokenMask": "abc1234567...8901"},
    }
    assert disconnected.json() == {"ok": True, "message": "Master account disconnected"}
    assert status_after.json() == {"ok": True, "master": None}
    master.refresh_from_db()
    credential = BrokerCredential.objects.get(account=master)
    assert master.role == "MASTER"
    assert master.status == "ACTIVE"
    assert credential.access_token == ""
    assert credential.session_status == "MISSING"
    assert AuditEvent.objects.filter(action="master.disconnected").exists()


def test_master_status_without_master(api):
    # when
    response = api.get("/api/master/status")
    disconnect = api.post("/api/master/disconnect")
    # then
    assert response.json() == {"ok": True, "master": None}
    assert disconnect.json()["ok"] is True


# --------------------------------------------------------------------------------------- schema
def test_openapi_schema_documents_every_accounts_endpoint(api):
    # when
    response = api.get("/api/schema", headers={"accept": "application/json"})
    # then
    assert response.status_code == 200
    paths = response.json()["paths"] if response["content-type"].startswith("application/json") else None
    if paths is None:
        import yaml

        paths = yaml.safe_load(response.content)["paths"]
    for _, url in ENDPOINTS:
        assert url.split("?")[0] in paths
    assert "/api/alice/oauth/vendor/callback" in paths


def test_schema_generation_has_no_warnings_from_accounts(capsys):
    # when
    call_command("spectacular", "--validate", "--file", "/dev/null")
    # then
    # (the authenticator extensions for x-qa-secret/staff session belong to copytrade.core)
    lines = [
        line for line in capsys.readouterr().err.splitlines() if "could not resolve authenticator" not in line
    ]
    assert not [line for line in lines if "accounts" in line], lines
