"""Every answer under /api/ is the JSON error shape (unknown routes, 405, bodies too large or too deep, an
unhandled error), with the request id; the admin and other pages keep Django's own pages."""

from __future__ import annotations

import logging
import re

import pytest
from rest_framework.test import APIClient

QA_SECRET = "test-qa-secret-0123456789abcdef"
REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def api(settings) -> APIClient:
    settings.QUANTUM_ALPHA_SECRET = QA_SECRET
    settings.ROOT_URLCONF = "tests.integration.core.error_urls"
    return APIClient(headers={"x-qa-secret": QA_SECRET}, raise_request_exception=False)


def _assert_json_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["ok"] is False
    assert body["code"] == code
    assert set(body) == {"ok", "message", "code", "extra"}
    return body


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("method", ["get", "post", "delete", "put"])
def test_unknown_api_routes_answer_a_json_404(api, settings, debug, method):
    # given debug on (make run) or off (production)
    settings.DEBUG = debug
    # when
    response = getattr(api, method)("/api/no/such/route", {}, format="json")
    # then
    body = _assert_json_error(response, 404, "not_found")
    assert body["message"] == "No API route /api/no/such/route"


def test_unknown_routes_need_no_secret_to_be_json(settings):
    # when an anonymous client probes
    settings.ROOT_URLCONF = "tests.integration.core.error_urls"
    response = APIClient().get("/api/nothing-here")
    # then
    _assert_json_error(response, 404, "not_found")


def test_a_method_the_route_does_not_have_is_a_json_405_with_allow(api):
    # when
    response = api.get("/api/trades/exit")
    # then
    body = _assert_json_error(response, 405, "method_not_allowed")
    assert "POST" in response["Allow"]
    assert "GET" in body["message"]


@pytest.mark.parametrize("debug", [True, False])
def test_an_unhandled_error_is_a_json_500_logged_with_the_request_id(api, settings, caplog, debug):
    # given
    settings.DEBUG = debug
    # when
    with caplog.at_level(logging.ERROR, logger="copytrade.core.middleware"):
        response = api.get("/api/test-broken")
    # then the answer names the request id, never the exception
    body = _assert_json_error(response, 500, "server_error")
    request_id = response["X-Request-ID"]
    assert REQUEST_ID.match(request_id)
    assert body["extra"] == {"requestId": request_id}
    assert body["message"] == f"Internal error (request id {request_id})"
    assert "ZeroDivisionError" not in response.content.decode()
    # and the log has the error with the same id
    (record,) = [r for r in caplog.records if "unhandled error" in r.getMessage()]
    assert request_id in record.getMessage()
    assert record.exc_info[0] is ZeroDivisionError


def test_a_caller_request_id_is_kept_and_returned(api):
    # when
    response = api.get("/api/trades/events", headers={"X-Request-ID": "0123456789abcdef0123456789abcdef"})
    # then
    assert response.status_code == 200
    assert response["X-Request-ID"] == "0123456789abcdef0123456789abcdef"


def test_a_malformed_request_id_is_replaced(api):
    # when the header is not a request id (a log-injection attempt)
    response = api.get("/api/trades/events", headers={"X-Request-ID": "abc\r\nfake log line"})
    # then a fresh id is used
    assert REQUEST_ID.match(response["X-Request-ID"])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "JSON nested more than 32 levels deep"),
        ('{"a":' * 40 + "1" + "}" * 40, "JSON nested more than 32 levels deep"),
        ('{"trade": ', "JSON parse error"),
        ('{"price": NaN}', "JSON parse error"),
    ],
)
def test_bodies_nothing_downstream_can_handle_are_a_json_400(api, body, message):
    # when
    response = api.generic("POST", "/api/test-broken", body, content_type="application/json")
    # then
    response_body = _assert_json_error(response, 400, "parse_error")
    assert message in response_body["message"]


def test_a_body_above_the_limit_is_a_json_413(api, settings):
    # given
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    # when
    response = api.generic(
        "POST", "/api/test-broken", '{"a": "' + "x" * 2000 + '"}', content_type="application/json"
    )
    # then
    _assert_json_error(response, 413, "request_too_large")


def test_a_body_that_is_not_json_is_a_json_415(api):
    # when
    response = api.generic(
        "POST", "/api/test-broken", "a=1", content_type="application/x-www-form-urlencoded"
    )
    # then
    _assert_json_error(response, 415, "unsupported_media_type")


def test_pages_outside_the_api_keep_their_html(settings, client):
    # given
    settings.DEBUG = False
    # when
    response = client.get("/no-such-page/")
    # then
    assert response.status_code == 404
    assert "application/json" not in response["Content-Type"]


def test_properties_no_field_reads_are_ignored_whatever_they_hold(api):
    # given a body whose extra keys and values hold NUL, lone surrogates and control characters
    body = '{"trade": {"id": "M-1"}, "\\u0000\\ud800": ["\\ud800", "\\u0001"], "note": "a\\u0000b"}'
    # when it reaches a route that reads only `trade`
    response = api.generic("POST", "/api/trades/replicate?wait=0", body, content_type="application/json")
    # then only the fields the route reads are judged (here: the trade misses fields), never a 500
    assert response.status_code == 400
    assert response.json()["message"] == "Missing required trade fields: symbol, side, quantity"
