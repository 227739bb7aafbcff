"""OpenAPI pieces shared by every API: the security schemes of the authenticators (x-qa-secret header, staff
session cookie) and the error answers."""

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
