"""Every answer under /api/ is the API's JSON error shape, whatever went wrong and wherever (unknown routes,
Django's own 4xx pages, unhandled exceptions); an unhandled error is logged with the request id. Admin pages
show times in IST.

The request id is django-guid's correlation id: taken from a valid X-Request-ID header or generated, returned
in X-Request-ID, put on every log line of the request, and carried into the Celery tasks it enqueues.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.exceptions import BadRequest, PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django_guid import get_guid

from copytrade.core.admin_display import admin_time_zone
from copytrade.core.exceptions import error_body

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
# Pages of the API that answer HTML on purpose (a browser lands there after Alice Blue's login).
HTML_PATHS = ("/api/alice/oauth/vendor/callback",)
_MESSAGES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    413: ("request_too_large", "Request body too large"),
    415: ("unsupported_media_type", "Unsupported media type: send application/json"),
    429: ("throttled", "Too many requests"),
}


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX) and not request.path.startswith(HTML_PATHS)


def api_error_response(status: int, *, message: str | None = None, code: str | None = None) -> JsonResponse:
    """The JSON error answer for `status`, with the request id in `extra` for 5xx (to find it in the log)."""
    default_code, default_message = _MESSAGES.get(status, ("server_error", "Internal error"))
    extra = {}
    if status >= 500:
        request_id = get_guid()
        extra = {"requestId": request_id}
        default_message = f"Internal error (request id {request_id})"
    body = error_body(message or default_message, code=code or default_code, extra=extra)
    return JsonResponse(body, status=status)


class ApiErrorMiddleware:
    """JSON errors for /api/: unhandled exceptions become a logged 500 (or the 4xx they stand for), and any
    non-JSON error page another layer produced (CSRF, 404, 413...) is replaced by the JSON shape."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and is_api_request(request)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            replaced = api_error_response(response.status_code)
            for header in ("Allow", "Retry-After", "WWW-Authenticate", "X-Request-ID"):
                if header in response:
                    replaced[header] = response[header]
            return replaced
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api_request(request):
            return None
        if isinstance(exception, Http404):
            return api_error_response(404)
        if isinstance(exception, PermissionDenied):
            return api_error_response(403)
        if isinstance(exception, RequestDataTooBig):
            return api_error_response(413)
        if isinstance(exception, BadRequest | SuspiciousOperation):
            return api_error_response(400)
        logger.exception("unhandled error on %s %s (request id %s)", request.method, request.path, get_guid())
        return api_error_response(500)


def api_not_found(request: HttpRequest, *args: object, **kwargs: object) -> JsonResponse:
    """Any path under /api/ that matches no route: a JSON 404, whatever the method."""
    return api_error_response(404, message=f"No API route {request.path}")


class AdminTimeZoneMiddleware:
    """Admin pages in IST: the database keeps UTC, but operators read (and type) market times, so every list
    column, detail field, date hierarchy and date widget of the admin uses the market's zone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(reverse("admin:index")):
            return self.get_response(request)
        # The response is rendered inside get_response (TemplateResponse included), so still in IST.
        with timezone.override(admin_time_zone()):
            return self.get_response(request)
