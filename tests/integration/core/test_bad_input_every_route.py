"""Bad input on every route that takes a body (read from the OpenAPI schema, so a new route is covered
too): malformed JSON, an array for an object, deep nesting, huge numbers, 10 KB strings, control characters.
Each gets a 4xx JSON answer in the error shape, and no row is written anywhere."""

from __future__ import annotations

import json

import pytest
from django.apps import apps
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from tests.factories.accounts import BrokerCredentialFactory, FollowerFactory

QA_SECRET = "test-qa-secret-0123456789abcdef"

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _body_operations() -> list[tuple[str, str, list[str]]]:
    """(method, path, top-level property names) of every operation with a JSON request body."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    found = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if not body:
                continue
            ref = body["schema"].get("$ref", "")
            properties = list(components[ref.rsplit("/", 1)[-1]].get("properties", {})) if ref else []
            found.append((method, path, properties))
    return sorted(found)


OPERATIONS = _body_operations()


def _row_counts() -> dict[str, int]:
    return {
        model._meta.label: model.objects.count()
        for model in apps.get_models()
        if model._meta.app_label in {"accounts", "replication", "broker", "core"}
    }


def _bodies(properties: list[str]) -> list[tuple[str, str]]:
    def each(value) -> str:
        return json.dumps({name: value for name in properties})

    return [
        ("malformed JSON", '{"followerId": '),
        ("an array for the object", json.dumps([{name: "x" for name in properties}])),
        ("a string for the object", json.dumps("x")),
        ("nested 100,000 levels", "[" * 100_000 + "]" * 100_000),
        ("huge numbers", each(10**30)),
        ("1e308", each(1e308)),
        ("10 KB strings", each("x" * 10_240)),
        ("control characters", each("a\u0001b\u0000")),
        ("lone surrogates", json.dumps({name: "\ud800" for name in properties})),
        (
            "empty strings and nulls mixed",
            json.dumps({name: ("" if i % 2 else None) for i, name in enumerate(properties)}),
        ),
    ]


@pytest.mark.parametrize(
    ("method", "path", "properties"), OPERATIONS, ids=[f"{m.upper()} {p}" for m, p, _ in OPERATIONS]
)
def test_bad_bodies_are_a_4xx_json_answer_and_write_nothing(settings, method, path, properties):
    # given an operator, a follower with a credential (so "unknown follower" is not the only answer)
    settings.QUANTUM_ALPHA_SECRET = QA_SECRET
    follower = FollowerFactory(account_id="TEST-USER-1")
    BrokerCredentialFactory(account=follower)
    client = APIClient(headers={"x-qa-secret": QA_SECRET})
    before = _row_counts()
    for label, body in _bodies(properties):
        # when
        response = client.generic(method.upper(), path, body, content_type="application/json")
        # then
        assert 400 <= response.status_code < 500, (label, response.status_code, response.content[:300])
        answer = response.json()
        assert answer["ok"] is False, (label, answer)
        assert set(answer) == {"ok", "message", "code", "extra"}, (label, answer)
        assert "x" * 200 not in response.content.decode(), label
        assert _row_counts() == before, label
