"""Honest session status against the simulator: a stored token is UNVERIFIED until a read call proves it (a
background check on a real worker), an expired one is EXPIRED, and a token pasted over a session that works
today waits as its replacement until a check accepts it (a refused one is discarded, the old one kept)."""

from __future__ import annotations

import io
import json
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import AuditEvent, BrokerCredential
from accounts.selectors import account_broker_client, session_state
from accounts.services.sessions import (
    REPLACEMENT_REFUSED,
    account_session_check,
    account_session_mark_expired,
    account_session_mark_verified,
    account_session_store,
)
from broker.types import OrderRequest, Side
from tests.factories.accounts import BrokerCredentialFactory, FollowerFactory

pytestmark = [pytest.mark.integration]


def wait_for(predicate, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _credential(follower) -> BrokerCredential:
    return BrokerCredential.objects.get(account=follower)


def _working_follower(sim, user_id: str = "AB1001", account_id: str = "TEST-USER-1"):
    """A follower whose session works today (issued by the simulator, verified now)."""
    sim.create_account(user_id)
    follower = FollowerFactory(account_id=account_id, client_id=user_id)
    token = sim.issue_session(user_id)
    BrokerCredentialFactory(
        account=follower, access_token=token, broker_session_id="", last_verified_at=timezone.now()
    )
    return follower, token


def _buy_one_sbin(follower, tag: str) -> str:
    """An order placed with the follower's stored session, as the replication engine places it."""
    order = OrderRequest(
        exchange="NSE", token="3045", trading_symbol="SBIN-EQ", side=Side.BUY, quantity=1, tag=tag
    )
    return account_broker_client(account=follower).place_order(order).order_id


# ------------------------------------------------------------------------- stored -> UNVERIFIED -> VALID
@pytest.mark.django_db(transaction=True)
def test_a_stored_token_is_unverified_until_the_background_check_proves_it(sim, sim_settings, api, worker):
    # given
    sim.create_account("AB1001")
    FollowerFactory(account_id="TEST-USER-1", client_id="AB1001")
    body = {"followerId": "TEST-USER-1", "accessToken": sim.issue_session("AB1001")}
    # when
    saved = api.post("/api/followers/credentials", body, format="json")
    # then: UNVERIFIED in the answer, VALID once the worker's read call succeeded
    assert saved.status_code == 200
    assert saved.json()["sessionStatus"] == "UNVERIFIED"
    assert saved.json()["replacementPending"] is False

    def shown() -> str:
        return api.get("/api/followers/credentials", {"followerId": "TEST-USER-1"}).json()["credential"][
            "session_status"
        ]

    assert wait_for(lambda: shown() == "VALID"), shown()
    listed = api.get("/api/followers").json()["followers"][0]
    assert (listed["session_status"], listed["session_ready_today"]) == ("VALID", True)
    assert sim.requests_log(user_id="AB1001", path="/open-api/od/v1/profile")
    assert AuditEvent.objects.get(action="session.checked").details == {"result": "VALID"}


@pytest.mark.django_db(transaction=True)
def test_an_expired_token_becomes_expired_after_the_background_check(sim, sim_settings, api, worker):
    # given: a session Alice Blue no longer accepts
    sim.create_account("AB1001")
    FollowerFactory(account_id="TEST-USER-1", client_id="AB1001")
    token = sim.issue_session("AB1001")
    sim.expire_sessions("AB1001")
    # when
    api.post("/api/followers/credentials", {"followerId": "TEST-USER-1", "accessToken": token}, format="json")
    # then
    follower_credential = BrokerCredential.objects.get(account__account_id="TEST-USER-1")
    assert wait_for(lambda: _credential(follower_credential.account).session_status == "EXPIRED")
    credential = api.get("/api/followers/credentials", {"followerId": "TEST-USER-1"}).json()["credential"]
    assert credential["session_status"] == "EXPIRED"
    assert credential["last_error"]


@pytest.mark.django_db
def test_imported_tokens_are_unverified_not_valid(tmp_path, sim, sim_settings):
    # given: the seed's tokens file with a live session
    sim.create_account("AB1001")
    follower = FollowerFactory(account_id="TEST-USER-1", client_id="AB1001")
    path = tmp_path / ".alice.tokens.json"
    path.write_text(json.dumps({"TEST-USER-1": sim.issue_session("AB1001")}))
    # when
    call_command("tokens", "import", str(path), stdout=io.StringIO())
    listed = io.StringIO()
    call_command("tokens", "list", stdout=listed)
    # then
    credential = _credential(follower)
    assert credential.session_status == "UNVERIFIED"
    assert session_state(credential) == "UNVERIFIED"
    assert "UNVERIFIED, not ready" in listed.getvalue()
    # and a read call makes it VALID (what the background check does)
    assert account_session_check(account=follower, actor="test").status == "VALID"
    assert session_state(_credential(follower)) == "VALID"


# -------------------------------------------------------------------------- replacing a working session
@pytest.mark.django_db(transaction=True)
def test_a_refused_replacement_keeps_the_working_session(sim, sim_settings, api, worker):
    # given: a session that works today
    follower, token = _working_follower(sim)
    # when: a token Alice Blue will refuse is posted over it
    saved = api.post(
        "/api/followers/credentials",
        {"followerId": "TEST-USER-1", "accessToken": "not-a-session-of-alice-blue-1234"},
        format="json",
    )
    # then the answer tells the truth: the working session is still VALID, the new token waits
    assert saved.status_code == 200
    assert (saved.json()["sessionStatus"], saved.json()["replacementPending"]) == ("VALID", True)
    # and the background check refuses and discards it, saying so
    assert wait_for(lambda: not _credential(follower).has_pending_token)
    credential = _credential(follower)
    assert credential.access_token == token
    assert credential.last_error == REPLACEMENT_REFUSED
    shown = api.get("/api/followers/credentials", {"followerId": "TEST-USER-1"}).json()["credential"]
    assert (shown["session_status"], shown["replacement_pending"]) == ("VALID", False)
    assert shown["last_error"] == REPLACEMENT_REFUSED
    assert AuditEvent.objects.filter(action="session.replacement_refused", target="TEST-USER-1").exists()
    # and the follower's next order still goes through with the old session
    order_id = _buy_one_sbin(follower, tag="ct-keep-1")
    assert [o["orderTag"] for o in sim.orders(user_id="AB1001")] == ["ct-keep-1"]
    assert order_id


@pytest.mark.django_db(transaction=True)
def test_an_accepted_replacement_replaces_the_working_session(sim, sim_settings, api, worker):
    # given
    follower, old_token = _working_follower(sim)
    new_token = sim.issue_session("AB1001")
    # when
    saved = api.post(
        "/api/followers/credentials", {"followerId": "TEST-USER-1", "accessToken": new_token}, format="json"
    )
    # then
    assert saved.json()["replacementPending"] is True
    assert wait_for(lambda: _credential(follower).access_token == new_token)
    credential = _credential(follower)
    assert not credential.has_pending_token
    assert session_state(credential) == "VALID"
    assert AuditEvent.objects.filter(action="session.replaced", target="TEST-USER-1").exists()
    assert _buy_one_sbin(follower, tag="ct-new-1")
    assert old_token != new_token


@pytest.mark.django_db
def test_a_replacement_waits_while_the_broker_is_unreachable(sim, sim_settings, api):
    # given: a working session and a replacement, and Alice Blue unreachable
    follower, token = _working_follower(sim)
    api.post(
        "/api/followers/credentials",
        {"followerId": "TEST-USER-1", "accessToken": sim.issue_session("AB1001")},
        format="json",
    )
    sim_settings.ALICE_API_BASE_URL = "http://127.0.0.1:9"
    # when
    result = account_session_check(account=follower, actor="test")
    # then: nothing decided; the replacement stays for the next check
    assert result.status == "ERROR"
    assert result.replacement == "pending"
    credential = _credential(follower)
    assert credential.has_pending_token
    assert credential.access_token == token


@pytest.mark.django_db
def test_without_a_working_session_a_new_token_simply_replaces_it(sim, sim_settings, api):
    # given: yesterday's session (verified yesterday, so not working today)
    sim.create_account("AB1001")
    follower = FollowerFactory(account_id="TEST-USER-1", client_id="AB1001")
    BrokerCredentialFactory(
        account=follower, broker_session_id="", last_verified_at=timezone.now() - timedelta(days=1)
    )
    new_token = sim.issue_session("AB1001")
    # when
    saved = api.post(
        "/api/followers/credentials", {"followerId": "TEST-USER-1", "accessToken": new_token}, format="json"
    )
    # then
    assert (saved.json()["sessionStatus"], saved.json()["replacementPending"]) == ("UNVERIFIED", False)
    credential = _credential(follower)
    assert credential.access_token == new_token
    assert credential.session_status == "UNVERIFIED"


@pytest.mark.django_db
def test_test_connect_tries_the_replacement_first(sim, sim_settings, api):
    # given
    _working_follower(sim)
    api.post(
        "/api/followers/credentials",
        {"followerId": "TEST-USER-1", "accessToken": "refused-by-alice-blue-0000"},
        format="json",
    )
    # when
    response = api.get("/api/followers/test-connect", {"followerId": "TEST-USER-1"})
    # then
    assert response.status_code == 200
    assert response.json()["sessionStatus"] == "VALID"
    assert response.json()["replacementPending"] is False
    assert response.json()["warning"] == REPLACEMENT_REFUSED


@pytest.mark.django_db
def test_a_login_flow_session_is_valid_at_once_and_drops_a_waiting_replacement(sim, sim_settings):
    # given: a working session with a replacement waiting
    follower, _ = _working_follower(sim)
    account_session_store(
        account=follower, token="pasted-replacement-0001", actor="test", source="cli_token", verified=False
    )
    assert _credential(follower).has_pending_token
    # when: the broker issues a session in a login flow
    issued = sim.issue_session("AB1001")
    account_session_store(account=follower, token=issued, actor="test", source="vendor", verified=True)
    # then
    credential = _credential(follower)
    assert credential.access_token == issued
    assert not credential.has_pending_token
    assert session_state(credential) == "VALID"


# ------------------------------------------------------------------- the replication engine's helpers
@pytest.mark.django_db
def test_mark_expired_changes_once_and_warns_once(sim, sim_settings, caplog):
    # given
    follower, _ = _working_follower(sim)
    follower.refresh_from_db()
    # when
    first = account_session_mark_expired(account=follower, reason="Session expired: EC920")
    second = account_session_mark_expired(account=follower, reason="Session expired: EC920")
    # then
    assert (first, second) == (True, False)
    assert _credential(follower).session_status == "EXPIRED"
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and "marked EXPIRED" in r.getMessage()]
    assert len(warnings) == 1
    assert AuditEvent.objects.filter(action="session.expired").count() == 1


@pytest.mark.django_db
def test_mark_expired_leaves_a_session_stored_meanwhile_alone(sim, sim_settings):
    # given: the engine loaded the follower (and its credential) before a new session was stored
    follower, _ = _working_follower(sim)
    loaded = type(follower).objects.select_related("credential").get(pk=follower.pk)
    fresh = sim.issue_session("AB1001")
    account_session_store(account=follower, token=fresh, actor="test", source="vendor", verified=True)
    # when: the engine reports that the session it used expired
    changed = account_session_mark_expired(account=loaded, reason="Session expired")
    # then
    assert changed is False
    credential = _credential(follower)
    assert credential.access_token == fresh
    assert session_state(credential) == "VALID"


@pytest.mark.django_db
def test_mark_expired_with_a_waiting_replacement_switches_to_it(sim, sim_settings):
    # given
    follower, _ = _working_follower(sim)
    replacement = sim.issue_session("AB1001")
    account_session_store(
        account=follower, token=replacement, actor="test", source="cli_token", verified=False
    )
    # when
    changed = account_session_mark_expired(account=follower, reason="Session expired")
    # then: the replacement is the session now, unverified (a check is enqueued on commit)
    credential = _credential(follower)
    assert changed is True
    assert credential.access_token == replacement
    assert not credential.has_pending_token
    assert session_state(credential) == "UNVERIFIED"


@pytest.mark.django_db
def test_mark_verified_promotes_unverified_and_stale_sessions_once(sim, sim_settings):
    # given: an unverified session, and one verified yesterday
    unverified = FollowerFactory(account_id="TEST-USER-1")
    BrokerCredentialFactory(account=unverified, session_status="UNVERIFIED", last_verified_at=None)
    stale = FollowerFactory(account_id="TEST-USER-2")
    BrokerCredentialFactory(account=stale, last_verified_at=timezone.now() - timedelta(days=1))
    # when
    results = [
        account_session_mark_verified(account=unverified),
        account_session_mark_verified(account=unverified),
        account_session_mark_verified(account=stale),
    ]
    # then
    assert results == [True, False, True]
    assert session_state(_credential(unverified)) == "VALID"
    assert session_state(_credential(stale)) == "VALID"


@pytest.mark.django_db
def test_mark_verified_does_not_revive_an_expired_session():
    # given
    follower = FollowerFactory(account_id="TEST-USER-1")
    BrokerCredentialFactory(account=follower, session_status="EXPIRED")
    # when / then
    assert account_session_mark_verified(account=follower) is False
    assert _credential(follower).session_status == "EXPIRED"
