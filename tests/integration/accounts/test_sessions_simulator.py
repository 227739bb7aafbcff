"""Daily sessions against the simulator over HTTP: vendor and API-key login, session checks, test-connect."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from accounts.models import Account, AuditEvent, BrokerCredential
from accounts.selectors import account_broker_client, session_ready_today
from accounts.tasks import session_check_task
from tests.factories.accounts import BrokerCredentialFactory, FollowerFactory, MasterFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_vendor_login_redirect_then_callback_stores_a_valid_session(sim, sim_settings, api, client):
    # given: a follower on the simulator and a master that must not change
    sim.create_account("AB1001", api_key="follower-api-key-0001")
    follower = FollowerFactory(account_id="TEST-USER-1", client_id="AB1001")
    master = MasterFactory(account_id="MASTER-1", client_id="MB0001")
    # when: the operator starts the login (the pending account is kept in the signed session)
    start = api.get("/api/alice/oauth/vendor/start", {"accountId": "TEST-USER-1"})
    client.cookies = api.cookies
    auth_code = sim.login("AB1001")
    callback = client.get("/api/alice/oauth/vendor/callback", {"authCode": auth_code, "userId": "AB1001"})
    # then
    assert start.status_code == 302
    location = urlsplit(start["Location"])
    assert f"{location.scheme}://{location.netloc}" == sim.base_url
    assert parse_qs(location.query)["appcode"] == ["COPYTRADE"]
    assert callback.status_code == 200
    page = callback.content.decode()
    assert "TEST-USER-1" in page
    assert "session stored" in page
    credential = BrokerCredential.objects.get(account=follower)
    assert credential.session_status == "VALID"
    assert session_ready_today(credential)
    assert credential.access_token
    assert credential.access_token not in page
    assert account_broker_client(account=follower).profile().client_id
    master.refresh_from_db()
    follower.refresh_from_db()
    assert master.role == "MASTER"
    assert follower.role == "FOLLOWER"
    assert not BrokerCredential.objects.filter(account=master).exists()
    assert AuditEvent.objects.filter(action="session.stored", target="TEST-USER-1").exists()


def test_vendor_login_through_the_simulator_login_page(sim, sim_settings, client):
    # given: the simulator redirects back to our callback, as Alice Blue does
    import requests

    callback_url = "http://testserver/api/alice/oauth/vendor/callback"
    sim.create_account("AB2002", redirect_url=callback_url)
    FollowerFactory(account_id="TEST-USER-2", client_id="AB2002")
    # when: the browser picks the account on the login page
    form = requests.post(
        f"{sim.base_url}/",
        params={"appcode": "COPYTRADE"},
        data={"userId": "AB2002", "appcode": "COPYTRADE"},
        allow_redirects=False,
        timeout=5,
    )
    location = urlsplit(form.headers.get("Location", ""))
    if form.status_code != 302:
        pytest.skip(f"simulator login page form not in the expected shape ({form.status_code})")
    response = client.get(location.path, parse_qs(location.query))
    # then
    assert response.status_code == 200
    assert BrokerCredential.objects.get(account__account_id="TEST-USER-2").session_status == "VALID"


def test_callback_finds_the_account_by_user_id_without_a_pending_login(sim, sim_settings, client):
    # given
    sim.create_account("AB3003")
    FollowerFactory(account_id="TEST-USER-3", client_id="AB3003")
    # when
    response = client.get(
        "/api/alice/oauth/vendor/callback", {"authCode": sim.login("AB3003"), "userId": "AB3003"}
    )
    # then
    assert response.status_code == 200
    assert BrokerCredential.objects.get(account__account_id="TEST-USER-3").session_status == "VALID"


def test_callback_refuses_when_the_pending_account_disagrees(sim, sim_settings, api, client):
    # given: the login was started for TEST-USER-1 but AB2002 logged in
    sim.create_account("AB1001")
    sim.create_account("AB2002")
    FollowerFactory(account_id="TEST-USER-1", client_id="AB1001")
    FollowerFactory(account_id="TEST-USER-2", client_id="AB2002")
    api.get("/api/alice/oauth/vendor/start", {"accountId": "TEST-USER-1"})
    client.cookies = api.cookies
    # when
    response = client.get(
        "/api/alice/oauth/vendor/callback", {"authCode": sim.login("AB2002"), "userId": "AB2002"}
    )
    # then
    assert response.status_code == 403
    assert "nothing was stored" in response.content.decode()
    assert not BrokerCredential.objects.exists()


def test_callback_with_unknown_user_or_bad_code_stores_nothing(sim, sim_settings, client):
    # given
    sim.create_account("AB1001")
    FollowerFactory(account_id="TEST-USER-1", client_id="AB1001")
    sim.login("AB1001")
    # when
    unknown = client.get("/api/alice/oauth/vendor/callback", {"authCode": "x", "userId": "ZZ9999"})
    bad_code = client.get("/api/alice/oauth/vendor/callback", {"authCode": "not-a-code", "userId": "AB1001"})
    missing = client.get("/api/alice/oauth/vendor/callback")
    # then
    assert unknown.status_code == 403
    assert "No account has Alice Blue user id ZZ9999" in unknown.content.decode()
    assert bad_code.status_code == 502
    assert missing.status_code == 400
    assert not BrokerCredential.objects.exists()


def test_vendor_start_validation(api, settings):
    # given
    settings.ALICE_APP_CODE = ""
    # when
    unconfigured = api.get("/api/alice/oauth/vendor/start")
    settings.ALICE_APP_CODE = "COPYTRADE"
    unknown = api.get("/api/alice/oauth/vendor/start", {"accountId": "NOPE"})
    # then
    assert unconfigured.status_code == 503
    assert unconfigured.json()["ok"] is False
    assert unknown.status_code == 404


def test_test_connect_reads_the_profile(sim, sim_settings, api):
    # given
    sim.create_account("AB1001")
    follower = FollowerFactory(account_id="TEST-USER-1", client_id="AB1001")
    BrokerCredentialFactory(account=follower, access_token=sim.issue_session("AB1001"), broker_session_id="")
    # when
    response = api.get("/api/followers/test-connect", {"followerId": "TEST-USER-1"})
    # then
    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "message": "Connected",
        "clientId": "AB1001",
        "sessionStatus": "VALID",
        "replacementPending": False,
        "warning": None,
    }
    assert sim.requests_log(user_id="AB1001")
    assert session_ready_today(BrokerCredential.objects.get(account=follower))


def test_test_connect_with_an_expired_session_is_502_and_marks_it(sim, sim_settings, api):
    # given
    sim.create_account("AB1001")
    follower = FollowerFactory(account_id="TEST-USER-1", client_id="AB1001")
    BrokerCredentialFactory(account=follower, access_token=sim.issue_session("AB1001"), broker_session_id="")
    sim.expire_sessions("AB1001")
    # when
    response = api.get("/api/followers/test-connect", {"followerId": "TEST-USER-1"})
    # then
    assert response.status_code == 502
    assert response.json()["ok"] is False
    assert response.json()["message"]
    assert BrokerCredential.objects.get(account=follower).session_status == "EXPIRED"


@pytest.mark.django_db(transaction=True)
def test_session_check_task_marks_expired_sessions(sim, sim_settings):
    # given: two accounts with live sessions, one expired at the broker, and a real worker
    from celery.contrib.testing.worker import start_worker

    from copytrade.celery import app

    for user in ("AB1001", "AB2002"):
        sim.create_account(user)
    one = FollowerFactory(account_id="TEST-USER-1", client_id="AB1001")
    two = FollowerFactory(account_id="TEST-USER-2", client_id="AB2002")
    BrokerCredentialFactory(account=one, access_token=sim.issue_session("AB1001"), broker_session_id="")
    BrokerCredentialFactory(account=two, access_token=sim.issue_session("AB2002"), broker_session_id="")
    sim.expire_sessions("AB2002")
    with start_worker(app, pool="threads", concurrency=1, perform_ping_check=False, shutdown_timeout=10):
        # when beat's task runs (it enqueues one check per account, by id)
        session_check_task.delay()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and AuditEvent.objects.filter(action="session.checked").count() < 2:
            time.sleep(0.1)
    # then
    assert BrokerCredential.objects.get(account=one).session_status == "VALID"
    expired = BrokerCredential.objects.get(account=two)
    assert expired.session_status == "EXPIRED"
    assert expired.last_error
    assert AuditEvent.objects.filter(action="session.checked").count() == 2


def test_legacy_api_key_session(sim, sim_settings):
    # given: the user logged in in the browser today (which allows the API-key session)
    from accounts.services.sessions import account_session_from_api_key

    sim.create_account("AB1001", api_key="legacy-api-key-abcdef123456")
    follower = FollowerFactory(account_id="TEST-USER-1", client_id="AB1001")
    sim.login("AB1001")
    # when
    account_session_from_api_key(account=follower, api_key="legacy-api-key-abcdef123456", actor="test")
    # then
    follower.refresh_from_db()
    credential = BrokerCredential.objects.get(account=follower)
    assert follower.api_flavor == Account.ApiFlavor.LEGACY
    assert credential.session_status == "VALID"
    assert credential.api_key == "legacy-api-key-abcdef123456"
    assert account_broker_client(account=follower).profile().client_id
