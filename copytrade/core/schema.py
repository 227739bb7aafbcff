"""OpenAPI security schemes for the API's authenticators (x-qa-secret header, staff session cookie)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


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
