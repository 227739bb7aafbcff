"""Every response carries the Content-Security-Policy, and no page we serve needs an inline script."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from tests.factories.accounts import BrokerCredentialFactory, ConsentFactory, FollowerFactory
from tests.integration.admin.admin_logins import STAFF_PASSWORD, admin_login

pytestmark = pytest.mark.django_db

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
)
SCRIPT = re.compile(r"<script\b(?P<attrs>[^>]*)>(?P<body>.*?)</script>", re.DOTALL | re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)


def _directives(header: str) -> set[str]:
    return {part.strip() for part in header.split(";") if part.strip()}


def _inline_scripts(page: str) -> list[str]:
    """Script elements the browser would run from the page itself (JSON data blocks are not run)."""
    return [
        match["body"]
        for match in SCRIPT.finditer(page)
        if "src=" not in match["attrs"] and "application/json" not in match["attrs"]
    ]


@pytest.fixture
def staff_client(client, django_user_model, otp_login):
    user = django_user_model.objects.create_superuser(username="root", password="pw-root-123", email="r@x.io")
    otp_login(client, user)
    return client


def test_policy_is_the_documented_one(client):
    # when
    response = client.get("/admin/login/")
    # then
    assert _directives(response["Content-Security-Policy"]) == _directives(POLICY)


@pytest.mark.parametrize(
    "path",
    [
        "/admin/login/",
        "/admin/",
        "/admin/accounts/account/",
        "/admin/replication/ordermapping/",
        "/api/health",
        "/api/followers",
        "/api/schema",
        "/api/docs",
        "/api/docs?script=",
        "/no-such-page",
    ],
)
def test_every_response_carries_the_policy(staff_client, path):
    # when (whatever the status: a redirect, a 503 health answer, a 404)
    response = staff_client.get(path)
    # then
    assert _directives(response["Content-Security-Policy"]) == _directives(POLICY)


def test_refused_and_locked_out_responses_carry_the_policy(client, staff, settings):
    # given
    for n in range(settings.AXES_FAILURE_LIMIT):
        locked_out = admin_login(client, username="alice", password=f"guess-{n}")
    # when
    refused = client.get("/api/followers")
    # then
    assert refused.status_code == 401
    assert locked_out.status_code == 429
    for response in (refused, locked_out):
        assert _directives(response["Content-Security-Policy"]) == _directives(POLICY)


def test_docs_page_loads_its_scripts_as_files(staff_client):
    # when
    page = staff_client.get("/api/docs")
    init_script = staff_client.get("/api/docs?script=")
    # then
    html = page.content.decode()
    sources = [match["attrs"] for match in SCRIPT.finditer(html)]
    assert len(sources) == 3
    assert _inline_scripts(html) == []
    assert any("?script=" in attrs for attrs in sources)
    assert init_script.status_code == 200
    assert init_script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in init_script.content.decode()


def test_admin_pages_have_no_inline_script_or_event_handler(staff_client):
    # given an account page with the session badge (inline style) and the credential inline
    follower = FollowerFactory(account_id="TEST-USER-1")
    ConsentFactory(account=follower)
    BrokerCredentialFactory(account=follower)
    pages = [
        Client().get("/admin/login/"),
        staff_client.get("/admin/"),
        staff_client.get("/admin/accounts/account/"),
        staff_client.get(f"/admin/accounts/account/{follower.pk}/change/"),
        staff_client.get(f"/admin/accounts/account/{follower.pk}/replace-credential/"),
        staff_client.get("/admin/replication/tradeevent/"),
        staff_client.get("/admin/otp_totp/totpdevice/"),
        staff_client.get("/admin/axes/accessattempt/"),
        staff_client.get("/admin/auth/user/"),
        # django-celery-beat's own template runs an inline script; ours loads it as a file
        staff_client.get("/admin/django_celery_beat/periodictask/add/"),
    ]
    # then
    for response in pages:
        html = response.content.decode()
        assert response.status_code == 200, response.request["PATH_INFO"]
        assert _inline_scripts(html) == [], response.request["PATH_INFO"]
        assert not EVENT_HANDLER.search(html), response.request["PATH_INFO"]


def test_periodic_task_form_script_is_a_static_file(staff_client):
    # when
    page = staff_client.get("/admin/django_celery_beat/periodictask/add/").content.decode()
    # then
    assert 'id="readable-crontabs" type="application/json"' in page
    assert finders.find("copytrade/admin/periodic_task_form.js")
    assert re.search(r'<script id="periodic-task-overrides" src="[^"]+periodic_task_form\.js"', page)


def test_login_page_with_the_second_factor_has_no_inline_script(client, settings, staff):
    # given
    settings.COPYTRADE_ADMIN_REQUIRE_OTP = True
    # when the password was right and the form asks for the code
    page = admin_login(client, username="alice", password=STAFF_PASSWORD).content.decode()
    # then
    assert 'name="otp_token"' in page
    assert _inline_scripts(page) == []
    assert not EVENT_HANDLER.search(page)
