import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from copytrade.core.models import Heartbeat


@pytest.mark.django_db
def test_health_reports_stale_beat_as_503(client):
    # when no heartbeat has ever been recorded
    response = client.get("/api/health")
    # then
    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True
    assert body["checks"]["beat"]["ok"] is False


@pytest.mark.django_db
def test_health_ok_with_fresh_heartbeat_through_each_queue(client):
    # given
    Heartbeat.objects.create(name=Heartbeat.DEFAULT_QUEUE, last_seen=timezone.now())
    Heartbeat.objects.create(name=Heartbeat.PLACEMENT_QUEUE, last_seen=timezone.now())
    # when
    response = client.get("/api/health")
    # then
    assert response.status_code == 200
    assert response.json()["ok"] is True
    assert set(response.json()["checks"]["beat"]["queues"]) == {"celery", "placement"}


@pytest.mark.django_db
def test_health_fails_when_no_worker_consumes_the_placement_queue(client):
    # given a fresh heartbeat through the default queue only (the placement workers are down)
    Heartbeat.objects.create(name=Heartbeat.DEFAULT_QUEUE, last_seen=timezone.now())
    Heartbeat.objects.create(name=Heartbeat.PLACEMENT_QUEUE, last_seen=timezone.now() - timedelta(minutes=10))
    # when
    response = client.get("/api/health")
    # then the stalest queue decides
    beat = response.json()["checks"]["beat"]
    assert response.status_code == 503
    assert (beat["ok"], beat["queues"]["celery"]["ok"], beat["queues"]["placement"]["ok"]) == (
        False,
        True,
        False,
    )
    assert beat["ageSeconds"] == beat["queues"]["placement"]["ageSeconds"] >= 600


@pytest.mark.django_db
def test_openapi_schema_is_served(client, django_user_model, otp_login):
    # given
    admin = django_user_model.objects.create_user("ops", password="pw-12345678", is_staff=True)
    otp_login(client, admin)
    # when
    response = client.get("/api/schema")
    # then
    assert response.status_code == 200
    assert b"/api/health" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/schema", "/api/docs"])
def test_schema_and_docs_need_operator_credentials(client, path):
    # when
    response = client.get(path)
    # then (rendered by the view's own renderer: OpenAPI YAML or HTML, so no JSON envelope here)
    assert response.status_code == 401
    assert b"/api/trades/replicate" not in response.content


@pytest.mark.django_db
def test_docs_page_for_the_operator_secret(client, settings):
    # when
    response = client.get("/api/docs", headers={"x-qa-secret": settings.QUANTUM_ALPHA_SECRET})
    # then
    assert response.status_code == 200
    assert b"swagger-ui-dist/swagger-ui-bundle.js" in response.content


@pytest.mark.django_db
def test_an_unhealthy_answer_is_not_logged_as_a_server_error(client, caplog):
    # given no beat heartbeat (unhealthy); when probed, as make run and load balancers do
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get("/api/health")
    # then the 503 answers the probe, and no "Service Unavailable" error line is logged for it
    assert response.status_code == 503
    assert [r for r in caplog.records if r.name == "django.request"] == []
