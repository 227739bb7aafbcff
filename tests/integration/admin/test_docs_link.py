"""The admin's "Documentation" link opens the API docs (Swagger UI, served locally) for logged-in staff."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client, django_user_model, otp_login):
    user = django_user_model.objects.create_user(username="ops", password="pw-ops-123", is_staff=True)
    otp_login(client, user)
    return client


def test_documentation_link_opens_the_api_docs_for_a_logged_in_operator(operator):
    # given an admin page's user links
    page = operator.get(reverse("admin:password_change")).content.decode()
    # when
    docs = operator.get("/admin/doc/", follow=True)
    script = operator.get("/api/docs", {"script": ""})
    schema = operator.get("/api/schema")
    # then
    assert '<a href="/admin/doc/">Documentation</a>' in page
    assert docs.status_code == 200
    assert docs.redirect_chain == [("/api/docs", 302)]
    assert "swagger-ui" in docs.content.decode()
    assert "https://" not in docs.content.decode()  # every asset from this server, none from a CDN
    assert script.status_code == 200
    assert schema.status_code == 200
    assert b"/api/trades/replicate" in schema.content


def test_api_docs_stay_closed_without_a_login(client):
    # when
    docs = client.get("/admin/doc/", follow=True)
    # then
    assert docs.status_code == 401
    assert client.get("/api/schema").status_code == 401
