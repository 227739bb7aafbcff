"""Core API views: health."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from copytrade.core.selectors import health_report

HEALTH_RESPONSE = inline_serializer(
    "HealthResponse", {"ok": serializers.BooleanField(), "checks": serializers.DictField()}
)


class HealthApi(APIView):
    """Database, broker queue and beat freshness. Open to load balancers; reveals no secrets."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(
        responses={
            200: OpenApiResponse(HEALTH_RESPONSE, description="Every check is ok"),
            503: OpenApiResponse(HEALTH_RESPONSE, description="A check failed; see checks"),
        }
    )
    def get(self, request):
        report = health_report()
        return Response(report, status=200 if report["ok"] else 503)
