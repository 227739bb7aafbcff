"""OpenAPI pieces shared by every API: the security schemes of the authenticators (x-qa-secret header, staff
session cookie) and the error answers."""

from collections.abc import Callable
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class QaSecretScheme(OpenApiAuthenticationExtension):
    target_class = "copytrade.core.auth.QaSecretAuthentication"
    name = "qaSecret"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "x-qa-secret"}


class StaffSessionScheme(OpenApiAuthenticationExtension):
    target_class = "copytrade.core.auth.StaffSessionAuthentication"
    name = "staffSession"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


class ApiErrorOutput(serializers.Serializer):
    """The one error body of the API (see copytrade.core.exceptions)."""

    ok = serializers.BooleanField(default=False)
    message = serializers.CharField()
    code = serializers.CharField()
    extra = serializers.DictField()


_DESCRIPTIONS = {
    400: "Invalid input; the message names the field, and nothing was written",
    401: "Missing or wrong x-qa-secret (or no staff session)",
    403: "Not allowed",
    404: "Not found (the message says what)",
    405: "Method not allowed",
    409: "Conflicts with the current state",
    413: "Request body too large",
    415: "Unsupported media type (send application/json)",
    429: "Rate limited (see Retry-After)",
    502: "The broker call failed",
    503: "Not configured or unavailable",
}
ERROR_RESPONSES = {
    code: OpenApiResponse(ApiErrorOutput, description=description)
    for code, description in _DESCRIPTIONS.items()
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """The documented error answers of an operation, all in the ApiErrorOutput shape."""
    return {code: ERROR_RESPONSES[code] for code in codes}


# Schema keywords drf-spectacular cannot derive from a serializer (cross-field rules), by component name.
_COMPONENT_KEYWORDS: dict[str, dict[str, Any]] = {}


def schema_keywords(component: str, **keywords: Any) -> Callable[[type], type]:
    """Class decorator: merge JSON-schema `keywords` into the serializer's component `component`."""

    def register(serializer_class: type) -> type:
        _COMPONENT_KEYWORDS[component] = keywords
        return serializer_class

    return register


def postprocess_schema(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Add what every operation can answer and the registered cross-field keywords.

    Every operation that needs credentials can answer 401; every one is rate limited (429); one that takes a
    body or parameters can answer 400. All in the ApiErrorOutput shape.
    """
    schemas = result.get("components", {}).get("schemas", {})
    for name, keywords in _COMPONENT_KEYWORDS.items():
        if name in schemas:
            schemas[name].update(keywords)
    error_ref = {"$ref": "#/components/schemas/ApiErrorOutput"}
    if "ApiErrorOutput" not in schemas:
        return result
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            wanted = {"429": _DESCRIPTIONS[429]}
            if operation.get("security") and operation["security"] != [{}]:
                wanted["401"] = _DESCRIPTIONS[401]
            if operation.get("requestBody") or operation.get("parameters"):
                wanted["400"] = _DESCRIPTIONS[400]
            for code, description in wanted.items():
                responses.setdefault(
                    code, {"content": {"application/json": {"schema": error_ref}}, "description": description}
                )
    return result
