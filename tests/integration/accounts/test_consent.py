"""Consent as evidence: the follower agrees on the page of a signed, expiring consent link (time, IP, user
agent, terms version recorded); the operator may only record consent given elsewhere, with a reference;
revoking ends consent and every link; links that do not work are refused and write nothing."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.test import Client

from accounts.consent_links import SALT
from accounts.models import AuditEvent, Consent
from tests.factories.accounts import ConsentFactory, FollowerFactory

pytestmark = pytest.mark.django_db

PUBLIC_URL = "https://copytrade.example.com"


@pytest.fixture(autouse=True)
def _public_url(settings):
    settings.COPYTRADE_PUBLIC_URL = PUBLIC_URL
    settings.COPYTRADE_CONSENT_LINK_MAX_AGE_HOURS = 72


@pytest.fixture
def follower():
    return FollowerFactory(account_id="TEST-USER-1", client_id="AB1001", name="Asha")


def _link(api, follower_id: str = "TEST-USER-1") -> str:
    """A consent link's path, issued through the operator API."""
    response = api.post("/api/followers/consent-link", {"followerId": follower_id}, format="json")
    assert response.status_code == 200, response.content
    url = response.json()["url"]
    assert url.startswith(PUBLIC_URL + "/consent/")
    return urlsplit(url).path


def _agree(client: Client, path: str, **headers):
    """Open the link as the follower's browser does, then press "I agree" (with the page's CSRF token)."""
    page = client.get(path, headers=headers)
    assert page.status_code == 200
    token = (
        page.cookies["csrftoken"].value if "csrftoken" in page.cookies else client.cookies["csrftoken"].value
    )
    return client.post(path, {"agree": "yes", "csrfmiddlewaretoken": token}, headers=headers)


def _evidence_rows() -> tuple[int, int]:
    return Consent.objects.filter(trade_replication_enabled=True).count(), AuditEvent.objects.count()


# ------------------------------------------------------------------------------ operator API (D8)
def test_operator_cannot_record_consent_without_the_flag_and_a_reference(api, follower):
    # when: the seed's call, from the operator's machine
    bare = api.post(
        "/api/followers/consent",
        {"followerId": "TEST-USER-1"},
        format="json",
        headers={"x-forwarded-for": "198.51.100.7", "user-agent": "curl/8.5"},
    )
    flag_only = api.post(
        "/api/followers/consent", {"followerId": "TEST-USER-1", "recordedByOperator": True}, format="json"
    )
    reference_only = api.post(
        "/api/followers/consent", {"followerId": "TEST-USER-1", "reference": "form #1"}, format="json"
    )
    # then: refused, explaining how consent is obtained; the operator's IP is recorded nowhere
    for response in (bare, flag_only, reference_only):
        assert response.status_code == 400
        assert response.json()["ok"] is False
        assert response.json()["code"] == "consent_needs_follower"
        assert "consent link" in response.json()["message"]
    assert not Consent.objects.exists()
    assert not AuditEvent.objects.exists()


def test_operator_records_consent_with_a_reference_and_without_their_ip(api, follower):
    # when
    response = api.post(
        "/api/followers/consent",
        {"followerId": "TEST-USER-1", "recordedByOperator": True, "reference": "signed form #123"},
        format="json",
        headers={"x-forwarded-for": "198.51.100.7", "user-agent": "curl/8.5"},
    )
    fetched = api.get("/api/followers/consent", {"followerId": "TEST-USER-1"})
    # then
    consent = Consent.objects.get()
    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "message": "Consent recorded successfully",
        "consentId": consent.pk,
    }
    assert consent.trade_replication_enabled
    assert consent.recorded_by == "OPERATOR"
    assert consent.recorded_by_actor == "x-qa-secret"
    assert consent.reference == "signed form #123"
    assert (consent.ip_address, consent.user_agent) == ("", "")
    body = fetched.json()["consent"]
    assert set(body) == {
        "follower_id",
        "enabled",
        "consentGivenAt",
        "recordedBy",
        "reference",
        "termsVersion",
        "revokedAt",
    }
    assert (body["enabled"], body["recordedBy"], body["reference"]) == (True, "OPERATOR", "signed form #123")
    event = AuditEvent.objects.get(action="consent.recorded")
    assert event.details["reference"] == "signed form #123"
    assert "198.51.100.7" not in str(event.details)


# ------------------------------------------------------------------------------------ consent links
def test_consent_link_api_answers_url_and_expiry_and_audits_without_the_link(api, follower):
    # when
    response = api.post("/api/followers/consent-link", {"followerId": "TEST-USER-1"}, format="json")
    # then
    data = response.json()
    assert response.status_code == 200
    assert set(data) == {"ok", "url", "expiresAt"}
    assert data["url"].startswith(f"{PUBLIC_URL}/consent/")
    event = AuditEvent.objects.get(action="consent.link_issued")
    token = urlsplit(data["url"]).path.split("/")[2]
    assert token not in str(event.details)
    assert not Consent.objects.filter(trade_replication_enabled=True).exists()


def test_consent_link_api_errors(api, follower, settings):
    # when
    unknown = api.post("/api/followers/consent-link", {"followerId": "NOPE"}, format="json")
    settings.COPYTRADE_PUBLIC_URL = ""
    unconfigured = api.post("/api/followers/consent-link", {"followerId": "TEST-USER-1"}, format="json")
    # then
    assert unknown.status_code == 404
    assert unconfigured.status_code == 503
    assert "COPYTRADE_PUBLIC_URL" in unconfigured.json()["message"]
    assert not AuditEvent.objects.exists()


def test_the_follower_agrees_on_the_link_page_and_the_evidence_is_recorded(api, follower):
    # given
    path = _link(api)
    browser = Client(enforce_csrf_checks=True)
    headers = {"user-agent": "Mozilla/5.0 (Follower's phone)", "x-forwarded-for": "203.0.113.9, 10.0.0.1"}
    # when: the follower reads the page (which records nothing), then agrees
    page = browser.get(path, headers=headers)
    assert not Consent.objects.filter(trade_replication_enabled=True).exists()
    agreed = _agree(browser, path, **headers)
    # then
    assert page.status_code == 200
    text = page.content.decode()
    assert "Terms of copy trading (version v1)" in text
    assert "TEST-USER-1" in text
    assert "csrfmiddlewaretoken" in text
    assert "<script" not in text
    assert "://" not in text  # no external assets
    assert agreed.status_code == 200
    assert "your consent is recorded" in agreed.content.decode()
    consent = Consent.objects.get(account=follower)
    assert consent.trade_replication_enabled
    assert consent.recorded_by == "FOLLOWER"
    assert consent.ip_address == "203.0.113.9"
    assert consent.user_agent == "Mozilla/5.0 (Follower's phone)"
    assert consent.terms_version == "v1"
    assert consent.consent_given_at is not None
    assert consent.reference == ""
    assert AuditEvent.objects.get(action="consent.given").details["terms_version"] == "v1"
    shown = api.get("/api/followers/consent", {"followerId": "TEST-USER-1"}).json()["consent"]
    assert (shown["enabled"], shown["recordedBy"], shown["termsVersion"]) == (True, "FOLLOWER", "v1")


def test_the_link_page_is_public_but_csrf_protected(api, follower):
    # given
    path = _link(api)
    browser = Client(enforce_csrf_checks=True)
    browser.get(path)
    before = _evidence_rows()
    # when: a post without the page's CSRF token (another site's form)
    forged_post = browser.post(path, {"agree": "yes"})
    # then
    assert forged_post.status_code == 403
    assert _evidence_rows() == before


def test_not_ticking_agree_records_nothing(api, follower):
    # given
    path = _link(api)
    browser = Client()
    browser.get(path)
    before = _evidence_rows()
    # when
    response = browser.post(path, {})
    # then
    assert response.status_code == 400
    assert "Tick the box" in response.content.decode()
    assert _evidence_rows() == before


def test_a_link_works_once(api, follower):
    # given
    path = _link(api)
    _agree(Client(), path)
    before = _evidence_rows()
    # when
    again = Client().get(path)
    # then
    assert again.status_code == 410
    assert _evidence_rows() == before


def _token_of(path: str) -> str:
    return path.split("/")[2]


def _nonce(follower) -> str:
    return Consent.objects.get(account=follower).link_nonce


class _SignedLongAgo(signing.TimestampSigner):
    def timestamp(self) -> str:
        return signing.b62_encode(int(time.time()) - 73 * 3600)


def _refused_links(api, follower) -> dict[str, tuple[str, int]]:
    """Each kind of unusable link (its path) with the status it must get."""
    path = _link(api)
    token, nonce = _token_of(path), _nonce(follower)
    expired = _SignedLongAgo(salt=SALT).sign_object({"a": follower.pk, "n": nonce})
    forged = signing.TimestampSigner(key="not-our-secret-key", salt=SALT).sign_object(
        {"a": follower.pk, "n": nonce}
    )
    payload, rest = token.split(":", 1)
    other = (
        base64.urlsafe_b64encode(json.dumps({"a": follower.pk + 1, "n": nonce}).encode()).decode().rstrip("=")
    )
    return {
        "expired": (f"/consent/{expired}/", 410),
        "forged": (f"/consent/{forged}/", 400),
        "tampered": (f"/consent/{other}:{rest}/", 400),
        "garbage": ("/consent/not-a-token/", 400),
        "truncated": (f"/consent/{payload}/", 400),
    }


@pytest.mark.parametrize("kind", ["expired", "forged", "tampered", "garbage", "truncated"])
def test_unusable_links_are_refused_and_write_nothing(api, follower, kind):
    # given
    path, status = _refused_links(api, follower)[kind]
    before = _evidence_rows()
    browser = Client()
    # when
    shown = browser.get(path)
    posted = browser.post(path, {"agree": "yes"})
    # then
    assert shown.status_code == status
    assert posted.status_code == status
    assert "Nothing was recorded" in shown.content.decode()
    assert _evidence_rows() == before


def test_a_newer_link_supersedes_older_ones(api, follower):
    # given
    old = _link(api)
    new = _link(api)
    before = _evidence_rows()
    # when
    old_page = Client().get(old)
    old_post = Client().post(old, {"agree": "yes"})
    # then
    assert old_page.status_code == 410
    assert old_post.status_code == 410
    assert "replaced by a newer link" in old_page.content.decode()
    assert _evidence_rows() == before
    assert _agree(Client(), new).status_code == 200


# ----------------------------------------------------------------------------------------- revoke
def test_revoke_ends_consent_and_every_link_and_is_audited(api, follower):
    # given: consent given, and a link issued since
    ConsentFactory(account=follower)
    path = _link(api)
    # when
    response = api.post("/api/followers/consent/revoke", {"followerId": "TEST-USER-1"}, format="json")
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["message"] == "Consent revoked for TEST-USER-1"
    assert body["consent"]["enabled"] is False
    assert body["consent"]["revokedAt"]
    consent = Consent.objects.get(account=follower)
    assert consent.trade_replication_enabled is False
    assert consent.revoked_by == "x-qa-secret"
    event = AuditEvent.objects.get(action="consent.revoked")
    assert (event.target, event.details) == ("TEST-USER-1", {"was_given": True})
    before = _evidence_rows()
    assert Client().get(path).status_code == 410
    assert _evidence_rows() == before


def test_revoke_validation(api, follower):
    # when
    unknown = api.post("/api/followers/consent/revoke", {"followerId": "NOPE"}, format="json")
    missing = api.post("/api/followers/consent/revoke", {}, format="json")
    # then
    assert unknown.status_code == 404
    assert missing.status_code == 400
    assert "followerId" in missing.json()["message"]
    assert not AuditEvent.objects.exists()


def test_consent_given_through_a_link_is_required_again_after_revoke(api, follower):
    # given: consent given through a link, then revoked
    _agree(Client(), _link(api))
    api.post("/api/followers/consent/revoke", {"followerId": "TEST-USER-1"}, format="json")
    # when: a new link, agreed
    _agree(Client(), _link(api))
    # then
    consent = Consent.objects.get(account=follower)
    assert consent.trade_replication_enabled
    assert consent.revoked_at is None
    assert AuditEvent.objects.filter(action="consent.given").count() == 2


# ------------------------------------------------------------------------------------- the command
def test_consent_link_command_prints_url_and_expiry(follower):
    # given
    import io

    from django.core.management import call_command

    out = io.StringIO()
    # when
    call_command("consent_link", "TEST-USER-1", stdout=out)
    # then
    lines = out.getvalue().splitlines()
    assert lines[1].startswith(f"{PUBLIC_URL}/consent/")
    assert "IST" in lines[2]
    assert Client().get(urlsplit(lines[1]).path).status_code == 200
    assert AuditEvent.objects.get(action="consent.link_issued").actor.startswith("cli")


def test_consent_link_command_errors(follower, settings):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="Follower not found"):
        call_command("consent_link", "NOPE")
    settings.COPYTRADE_PUBLIC_URL = ""
    with pytest.raises(CommandError, match="COPYTRADE_PUBLIC_URL"):
        call_command("consent_link", "TEST-USER-1")


def test_a_browser_can_post_the_agreement_the_page_sends_its_origin(api, follower):
    # given the page as a browser receives it (a no-referrer policy makes a browser post "Origin: null",
    # which Django's CSRF check refuses: the form could never be sent)
    path = _link(api)
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(path).content.decode()
    assert 'content="no-referrer"' not in page
    # when the agreement is posted with the Origin a browser sends for a same-origin page
    agreed = _agree(browser, path, origin="http://testserver")
    # then it is recorded
    assert agreed.status_code == 200, agreed.content[:300]
    assert Consent.objects.get(account=follower).recorded_by == "FOLLOWER"
