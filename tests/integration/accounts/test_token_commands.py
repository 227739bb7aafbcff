"""manage.py tokens / create_master against the simulator and a tokens file."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Account, AuditEvent, BrokerCredential
from tests.factories.accounts import BrokerCredentialFactory, FollowerFactory, MasterFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]


def _run(*args: str, stdin: str | None = None) -> str:
    out = io.StringIO()
    if stdin is not None:
        import sys as _sys

        old = _sys.stdin
        _sys.stdin = io.StringIO(stdin)
        try:
            call_command(*args, stdout=out)
        finally:
            _sys.stdin = old
    else:
        call_command(*args, stdout=out)
    return out.getvalue()


# ------------------------------------------------------------------------------------------ import
def test_import_seed_tokens_file(tmp_path, settings):
    # given: the seed's .alice.tokens.json, at the default path
    FollowerFactory(account_id="follower1@example.com", client_id="AB1001")
    MasterFactory(account_id="trader1@example.com", client_id="MB0001")
    path = tmp_path / ".alice.tokens.json"
    path.write_text(
        json.dumps(
            {
                "trader1@example.com": "abc1234567-master-token-8901",
                "AB1001": "def1234567-follower-token-2345",
            },
            indent=2,
        )
    )
    settings.ALICE_OAUTH_TOKENS_FILE = str(path)
    # when
    output = _run("tokens", "import")
    # then
    assert "Imported 2 tokens" in output
    assert BrokerCredential.objects.get(account__account_id="trader1@example.com").access_token == (
        "abc1234567-master-token-8901"
    )
    follower_credential = BrokerCredential.objects.get(account__account_id="follower1@example.com")
    assert follower_credential.access_token == "def1234567-follower-token-2345"
    assert follower_credential.session_status == "UNVERIFIED"
    assert follower_credential.last_verified_at is None
    assert "UNVERIFIED until a check passes" in output
    assert "token-8901" not in output


def test_import_is_all_or_nothing_for_unknown_accounts(tmp_path):
    # given
    FollowerFactory(account_id="TEST-USER-1")
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"TEST-USER-1": "token-one-123456789", "UNKNOWN-9": "token-two-123456789"}))
    # when / then
    with pytest.raises(CommandError, match="UNKNOWN-9"):
        _run("tokens", "import", str(path))
    assert not BrokerCredential.objects.exists()
    # when: unknown accounts are explicitly created as followers
    _run("tokens", "import", str(path), "--create-followers")
    # then
    created = Account.objects.get(account_id="UNKNOWN-9")
    assert created.role == "FOLLOWER"
    assert created.client_id == "UNKNOWN-9"
    assert BrokerCredential.objects.count() == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"A": 5}', "without a token"),
        ("{}", "holds no tokens"),
    ],
)
def test_import_rejects_bad_files(tmp_path, content, message):
    # given
    path = tmp_path / "tokens.json"
    path.write_text(content)
    # when / then
    with pytest.raises(CommandError, match=message):
        _run("tokens", "import", str(path))
    assert not BrokerCredential.objects.exists()


def test_import_missing_file(tmp_path):
    with pytest.raises(CommandError, match="not found"):
        _run("tokens", "import", str(tmp_path / "nope.json"))


def test_cli_exit_codes_for_bad_json_and_unknown_command(tmp_path):
    # given
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    env_cmd = [sys.executable, "manage.py"]
    env = {"DJANGO_SETTINGS_MODULE": "tests.settings", "PATH": "/usr/bin:/bin"}
    # when
    bad_json = subprocess.run(
        [*env_cmd, "tokens", "import", str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    unknown = subprocess.run(
        [*env_cmd, "tokens", "frobnicate"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=60
    )
    # then
    assert bad_json.returncode != 0
    assert "not valid JSON" in bad_json.stderr
    assert unknown.returncode != 0
    assert "invalid choice" in unknown.stderr


# -------------------------------------------------------------------------------------------- list
def test_list_is_masked():
    # given
    follower = FollowerFactory(account_id="TEST-USER-1")
    BrokerCredentialFactory(account=follower, access_token="abc1234567-very-secret-8901")
    # when
    output = _run("tokens", "list")
    # then
    assert "📋 Stored tokens:" in output
    assert "  • TEST-USER-1: ***8901" in output
    assert "very-secret" not in output
    assert "abc1234567" not in output


def test_list_without_tokens():
    assert "No tokens stored." in _run("tokens", "list")


# ---------------------------------------------------------------------------- add / refresh (sim)
@pytest.mark.integration
def test_add_from_auth_code_on_stdin(sim, sim_settings):
    # given
    sim.create_account("AB1001")
    FollowerFactory(account_id="TEST-USER-1", client_id="AB1001")
    # when
    output = _run("tokens", "add", "TEST-USER-1", "--auth-code-stdin", stdin=sim.login("AB1001") + "\n")
    # then
    assert "Token saved for TEST-USER-1" in output
    credential = BrokerCredential.objects.get(account__account_id="TEST-USER-1")
    assert credential.session_status == "VALID"
    assert credential.last_verified_at is not None
    assert credential.access_token not in output


@pytest.mark.integration
def test_add_from_legacy_api_key_in_env(sim, sim_settings, monkeypatch):
    # given
    sim.create_account("AB1001", api_key="legacy-api-key-abcdef123456")
    FollowerFactory(account_id="TEST-USER-1", client_id="AB1001")
    sim.login("AB1001")
    monkeypatch.setenv("ALICE_USER_API_KEY", "legacy-api-key-abcdef123456")
    # when
    output = _run("tokens", "add", "AB1001")
    # then
    assert "legacy API key" in output
    assert BrokerCredential.objects.get(account__account_id="TEST-USER-1").session_status == "VALID"


def test_add_errors(monkeypatch):
    # given
    FollowerFactory(account_id="TEST-USER-1", client_id="AB1001")
    monkeypatch.delenv("ALICE_USER_API_KEY", raising=False)
    # when / then
    with pytest.raises(CommandError, match="No account NOPE"):
        _run("tokens", "add", "NOPE")
    with pytest.raises(CommandError, match="no API key"):
        _run("tokens", "add", "TEST-USER-1")
    with pytest.raises(CommandError, match="No value"):
        _run("tokens", "add", "TEST-USER-1", "--token-stdin", stdin="")
    assert not BrokerCredential.objects.exists()


def test_add_pasted_token_from_stdin():
    # given
    FollowerFactory(account_id="TEST-USER-1")
    # when
    _run("tokens", "add", "TEST-USER-1", "--token-stdin", stdin="pasted-token-value-123456\n")
    # then
    assert BrokerCredential.objects.get().access_token == "pasted-token-value-123456"


@pytest.mark.integration
def test_refresh_marks_valid_and_expired(sim, sim_settings):
    # given
    for user in ("AB1001", "AB2002"):
        sim.create_account(user)
    one = FollowerFactory(account_id="TEST-USER-1", client_id="AB1001")
    two = FollowerFactory(account_id="TEST-USER-2", client_id="AB2002")
    BrokerCredentialFactory(account=one, access_token=sim.issue_session("AB1001"), broker_session_id="")
    BrokerCredentialFactory(account=two, access_token=sim.issue_session("AB2002"), broker_session_id="")
    sim.expire_sessions("AB2002")
    # when
    output = _run("tokens", "refresh", "--all")
    # then
    assert "TEST-USER-1: VALID" in output
    assert "TEST-USER-2: EXPIRED" in output
    assert BrokerCredential.objects.get(account=one).session_status == "VALID"
    assert BrokerCredential.objects.get(account=two).session_status == "EXPIRED"
    # and a second run without --all only re-checks what is not ready today
    assert "TEST-USER-1" not in _run("tokens", "refresh")


# ---------------------------------------------------------------------------------- create_master
def test_create_master_and_refuse_a_second():
    # when
    output = _run("create_master", "MASTER-1", "--client-id", "MB0001", "--name", "Main")
    # then
    assert "MASTER-1 is the master" in output
    assert Account.objects.get(account_id="MASTER-1").role == "MASTER"
    with pytest.raises(CommandError, match="already the active master"):
        _run("create_master", "MASTER-2", "--client-id", "MB0002")
    _run("create_master", "MASTER-2", "--client-id", "MB0002", "--replace")
    assert Account.objects.get(account_id="MASTER-1").status == "INACTIVE"
    assert Account.objects.get(account_id="MASTER-2").status == "ACTIVE"
    assert AuditEvent.objects.filter(action="master.deactivated", target="MASTER-1").exists()


def test_create_master_never_promotes_a_follower():
    # given
    FollowerFactory(account_id="TEST-USER-1")
    # when / then
    with pytest.raises(CommandError, match="follower"):
        _run("create_master", "TEST-USER-1", "--client-id", "AB1")
    assert Account.objects.get(account_id="TEST-USER-1").role == "FOLLOWER"
