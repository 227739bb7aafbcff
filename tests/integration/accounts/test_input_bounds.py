"""Bad input on every accounts POST/PATCH route is a 400 JSON answer naming the field, and writes nothing:
out-of-range numbers (MariaDB answered DataError 1264, a 500), 10 KB strings, control characters, and tokens
that cannot be sent in an HTTP header (the next broker call answered 500)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Max

from accounts.models import Account, AuditEvent, BrokerCredential, Consent, MasterSettings, RiskConfig
from tests.factories.accounts import BrokerCredentialFactory, FollowerFactory

pytestmark = pytest.mark.django_db

HUGE = 10**30
OVERFLOW = 4504172226  # above MariaDB's INT UNSIGNED
TEN_KB = "x" * 10_240
NON_ASCII_TOKEN = "tökén€"


def _state() -> dict:
    """Every row the accounts routes write, and when they were last changed."""
    return {
        model.__name__: (model.objects.count(), model.objects.aggregate(m=Max("updated_at"))["m"])
        for model in (Account, BrokerCredential, RiskConfig, Consent, MasterSettings)
    } | {"AuditEvent": AuditEvent.objects.count()}


FOLLOWER = {"followerId": "TEST-USER-1"}
NEW_FOLLOWER = {"followerId": "TEST-USER-2", "clientId": "AB2002"}
CREDENTIALS = {**FOLLOWER, "accessToken": "token-abcdefghijklmnop"}
OPERATOR_CONSENT = {**FOLLOWER, "recordedByOperator": True, "reference": "signed form #1"}

CASES = [
    # /api/followers
    ("post", "/api/followers", {**NEW_FOLLOWER, "followerId": TEN_KB}, "followerId"),
    ("post", "/api/followers", {**NEW_FOLLOWER, "followerId": "TEST\x00USER"}, "followerId"),
    ("post", "/api/followers", {**NEW_FOLLOWER, "followerId": "TEST USER"}, "followerId"),
    ("post", "/api/followers", {**NEW_FOLLOWER, "followerId": {"a": 1}}, "followerId"),
    ("post", "/api/followers", {**NEW_FOLLOWER, "clientId": "AB\u00e72"}, "clientId"),
    ("post", "/api/followers", {**NEW_FOLLOWER, "clientId": "x" * 65}, "clientId"),
    ("post", "/api/followers", {**NEW_FOLLOWER, "name": "x" * 256}, "name"),
    ("post", "/api/followers", {**NEW_FOLLOWER, "name": "Asha\x1b[31m"}, "name"),
    ("post", "/api/followers", {**NEW_FOLLOWER, "accessToken": NON_ASCII_TOKEN}, "accessToken"),
    ("post", "/api/followers", {**NEW_FOLLOWER, "apiKey": "k" * 513}, "apiKey"),
    ("post", "/api/followers", {**NEW_FOLLOWER, "paper": "sometimes"}, "paper"),
    # /api/followers/credentials
    ("post", "/api/followers/credentials", {**CREDENTIALS, "accessToken": NON_ASCII_TOKEN}, "accessToken"),
    ("post", "/api/followers/credentials", {**CREDENTIALS, "accessToken": "t" * 4097}, "accessToken"),
    ("post", "/api/followers/credentials", {**CREDENTIALS, "accessToken": "two words"}, "accessToken"),
    ("post", "/api/followers/credentials", {**CREDENTIALS, "accessToken": "tab\there"}, "accessToken"),
    (
        "post",
        "/api/followers/credentials",
        {**CREDENTIALS, "brokerSessionId": "s\u00e9ssion"},
        "brokerSessionId",
    ),
    ("post", "/api/followers/credentials", {**CREDENTIALS, "apiKey": "k" * 513}, "apiKey"),
    ("post", "/api/followers/credentials", {**CREDENTIALS, "apiSecret": "s\u20ac"}, "apiSecret"),
    ("post", "/api/followers/credentials", {**CREDENTIALS, "clientId": "AB 1"}, "clientId"),
    ("post", "/api/followers/credentials", {**CREDENTIALS, "followerId": TEN_KB}, "followerId"),
    # /api/followers/risk-config
    ("post", "/api/followers/risk-config", {**FOLLOWER, "max_quantity": OVERFLOW}, "max_quantity"),
    ("post", "/api/followers/risk-config", {**FOLLOWER, "max_quantity": HUGE}, "max_quantity"),
    ("post", "/api/followers/risk-config", {**FOLLOWER, "max_quantity": 10_000_001}, "max_quantity"),
    ("post", "/api/followers/risk-config", {**FOLLOWER, "max_quantity": -5}, "max_quantity"),
    ("post", "/api/followers/risk-config", {**FOLLOWER, "max_quantity": "many"}, "max_quantity"),
    (
        "post",
        "/api/followers/risk-config",
        {**FOLLOWER, "sizing_mode": "FIXED_QTY", "fixed_quantity": HUGE},
        "fixed_quantity",
    ),
    (
        "post",
        "/api/followers/risk-config",
        {**FOLLOWER, "sizing_mode": "FIXED_QTY", "fixed_quantity": OVERFLOW},
        "fixed_quantity",
    ),
    ("post", "/api/followers/risk-config", {**FOLLOWER, "lot_multiplier": HUGE}, "lot_multiplier"),
    ("post", "/api/followers/risk-config", {**FOLLOWER, "lot_multiplier": "NaN"}, "lot_multiplier"),
    ("post", "/api/followers/risk-config", {**FOLLOWER, "lot_multiplier": "0.00001"}, "lot_multiplier"),
    ("post", "/api/followers/risk-config", {**FOLLOWER, "max_order_value": HUGE}, "max_order_value"),
    ("post", "/api/followers/risk-config", {**FOLLOWER, "max_daily_loss": "Infinity"}, "max_daily_loss"),
    (
        "post",
        "/api/followers/risk-config",
        {**FOLLOWER, "allowed_instruments": [TEN_KB]},
        "allowed_instruments",
    ),
    (
        "post",
        "/api/followers/risk-config",
        {**FOLLOWER, "allowed_instruments": ["SB\x00IN"]},
        "allowed_instruments",
    ),
    (
        "post",
        "/api/followers/risk-config",
        {**FOLLOWER, "allowed_instruments": ["S"] * 501},
        "allowed_instruments",
    ),
    (
        "post",
        "/api/followers/risk-config",
        {**FOLLOWER, "allowed_product_types": ["MIS", "BOGUS"]},
        "allowed_product_types",
    ),
    (
        "post",
        "/api/followers/risk-config",
        {**FOLLOWER, "allowed_order_types": ["FOK"]},
        "allowed_order_types",
    ),
    # /api/followers/consent, consent/revoke, consent-link
    ("post", "/api/followers/consent", {**OPERATOR_CONSENT, "reference": TEN_KB}, "reference"),
    ("post", "/api/followers/consent", {**OPERATOR_CONSENT, "reference": "form\x00#1"}, "reference"),
    ("post", "/api/followers/consent", {**OPERATOR_CONSENT, "consentToken": "x" * 256}, "consentToken"),
    ("post", "/api/followers/consent", {**OPERATOR_CONSENT, "termsVersion": "v" * 33}, "termsVersion"),
    (
        "post",
        "/api/followers/consent",
        {**OPERATOR_CONSENT, "recordedByOperator": "yes please"},
        "recordedByOperator",
    ),
    ("post", "/api/followers/consent", {**OPERATOR_CONSENT, "followerId": "\x7f"}, "followerId"),
    ("post", "/api/followers/consent/revoke", {"followerId": TEN_KB}, "followerId"),
    ("post", "/api/followers/consent-link", {"followerId": "TEST\nUSER-1"}, "followerId"),
    # /api/followers/stop-copy-trading
    ("patch", "/api/followers/stop-copy-trading", {**FOLLOWER, "action": TEN_KB}, "action"),
    ("patch", "/api/followers/stop-copy-trading", {"followerId": "\x01", "action": "stop"}, "followerId"),
    # /api/admin/settings
    ("post", "/api/admin/settings", {"maxQuantityPerTrade": OVERFLOW}, "maxQuantityPerTrade"),
    ("post", "/api/admin/settings", {"maxQuantityPerTrade": HUGE}, "maxQuantityPerTrade"),
    ("post", "/api/admin/settings", {"maxQuantityPerTrade": "1" * 2000}, "maxQuantityPerTrade"),
    ("post", "/api/admin/settings", {"minLotSize": OVERFLOW}, "minLotSize"),
    ("post", "/api/admin/settings", {"maxConcurrentTrades": OVERFLOW}, "maxConcurrentTrades"),
    ("post", "/api/admin/settings", {"maxConcurrentTrades": 0}, "maxConcurrentTrades"),
    ("post", "/api/admin/settings", {"defaultLotMultiplier": HUGE}, "defaultLotMultiplier"),
    ("post", "/api/admin/settings", {"maxDailyLossPercentage": HUGE}, "maxDailyLossPercentage"),
    ("post", "/api/admin/settings", {"autoReplicateNewTrades": [True]}, "autoReplicateNewTrades"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"), CASES, ids=[f"{c[1]}:{c[3]}:{i}" for i, c in enumerate(CASES)]
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(api, method, path, body, field):
    # given: a follower with a working credential, and the settings row
    follower = FollowerFactory(account_id="TEST-USER-1")
    BrokerCredentialFactory(account=follower, access_token="stored-token-abcdefgh1234")
    MasterSettings.objects.create()
    before = _state()
    # when
    response = getattr(api, method)(path, body, format="json")
    # then
    assert response.status_code == 400, response.content
    assert response["content-type"].startswith("application/json")
    assert response.json()["ok"] is False
    assert field in response.json()["message"]
    assert _state() == before
    assert NON_ASCII_TOKEN not in response.content.decode()


def test_a_bare_json_list_or_garbage_body_is_a_400(api):
    # given
    FollowerFactory(account_id="TEST-USER-1")
    before = _state()
    # when
    listed = api.post("/api/followers/credentials", [1, 2], format="json")
    garbage = api.generic("POST", "/api/followers/risk-config", b"{not json", content_type="application/json")
    # then
    assert (listed.status_code, garbage.status_code) == (400, 400)
    assert listed.json()["ok"] is False
    assert garbage.json()["ok"] is False
    assert _state() == before


def test_the_largest_allowed_values_are_stored(api):
    # given
    FollowerFactory(account_id="TEST-USER-1")
    # when
    risk = api.post(
        "/api/followers/risk-config",
        {
            "followerId": "TEST-USER-1",
            "sizing_mode": "FIXED_QTY",
            "fixed_quantity": 10_000_000,
            "max_quantity": 10_000_000,
            "lot_multiplier": "99999999.9999",
            "max_order_value": "9999999999999.99",
        },
        format="json",
    )
    settings = api.post(
        "/api/admin/settings",
        {"maxQuantityPerTrade": 10_000_000, "maxConcurrentTrades": 10_000},
        format="json",
    )
    credentials = api.post(
        "/api/followers/credentials",
        {"followerId": "TEST-USER-1", "accessToken": "t" * 4096, "apiKey": "k" * 512},
        format="json",
    )
    # then
    assert (risk.status_code, settings.status_code, credentials.status_code) == (200, 200, 200)
    assert RiskConfig.objects.get().max_quantity == 10_000_000
    assert MasterSettings.objects.get().max_quantity_per_trade == 10_000_000
    assert len(BrokerCredential.objects.get().access_token) == 4096


# ------------------------------------------------------------------------- tokens the CLI is given
def test_tokens_add_refuses_a_non_ascii_token():
    # given
    FollowerFactory(account_id="TEST-USER-1")
    import sys

    old, sys.stdin = sys.stdin, io.StringIO(NON_ASCII_TOKEN + "\n")
    # when / then
    try:
        with pytest.raises(CommandError, match="printable ASCII"):
            call_command("tokens", "add", "TEST-USER-1", "--token-stdin", stdout=io.StringIO())
    finally:
        sys.stdin = old
    assert not BrokerCredential.objects.exists()


def test_tokens_import_refuses_a_file_with_an_unsendable_token(tmp_path):
    # given
    FollowerFactory(account_id="TEST-USER-1")
    FollowerFactory(account_id="TEST-USER-2")
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"TEST-USER-1": "good-token-123456789", "TEST-USER-2": NON_ASCII_TOKEN}))
    # when / then: all or nothing, naming the user, never the token
    with pytest.raises(CommandError, match="TEST-USER-2") as refused:
        call_command("tokens", "import", str(path), stdout=io.StringIO())
    assert NON_ASCII_TOKEN not in str(refused.value)
    assert not BrokerCredential.objects.exists()


@pytest.mark.integration
def test_test_connect_with_a_legacy_unsendable_token_is_not_a_500(sim, sim_settings, api):
    # given: a token stored before this check existed
    sim.create_account("AB1001")
    follower = FollowerFactory(account_id="TEST-USER-1", client_id="AB1001")
    BrokerCredentialFactory(account=follower, access_token=NON_ASCII_TOKEN, broker_session_id="")
    # when
    response = api.get("/api/followers/test-connect", {"followerId": "TEST-USER-1"})
    # then
    assert response.status_code == 502
    assert "printable ASCII" in response.json()["message"]
    assert BrokerCredential.objects.get(account=follower).session_status == "EXPIRED"
