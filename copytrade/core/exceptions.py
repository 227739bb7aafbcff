"""One application error tree, rendered by one DRF handler as {"ok": false, "code", "message", "extra"}."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

# The code of a validation message that is shown as is, without the field's name in front (the seed's
# messages, such as "Missing required trade fields: quantity", already say what is wrong).
SEED_MESSAGE = "seed_message"


class ApplicationError(Exception):
    """A failure the API reports to its caller; subclasses set the HTTP status and code."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    default_code: str = "error"
    default_message: str = "Request failed"

    def __init__(self, message: str | None = None, *, code: str | None = None, extra: dict | None = None):
        self.message = message or self.default_message
        self.code = code or self.default_code
        self.extra = extra or {}
        super().__init__(self.message)


class ValidationFailed(ApplicationError):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"
    default_message = "Invalid request"


class NotFound(ApplicationError):
    status_code = status.HTTP_404_NOT_FOUND
    default_code = "not_found"
    default_message = "Not found"


class Conflict(ApplicationError):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_message = "Conflict"


class UpstreamFailed(ApplicationError):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_code = "broker_error"
    default_message = "The broker call failed"


def error_body(message: str, *, code: str, extra: dict | None = None) -> dict[str, Any]:
    """The JSON body every error response carries."""
    return {"ok": False, "message": message, "code": code, "extra": extra or {}}


def _first_error_message(detail: Any, prefix: str = "") -> str:
    """Flatten DRF validation details into one message naming the field."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = str(key) if key != "non_field_errors" else ""
            return _first_error_message(value, f"{prefix}.{name}" if prefix and name else (name or prefix))
        return prefix or "Invalid request"
    if isinstance(detail, list) and detail:
        return _first_error_message(detail[0], prefix)
    text = str(detail)
    if getattr(detail, "code", None) == SEED_MESSAGE:
        return text
    return f"{prefix}: {text}" if prefix else text


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """Render ApplicationError and DRF errors in the house envelope; unknown errors stay 500s."""
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.message, code=exc.code, extra=exc.extra), status=exc.status_code)
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, drf_exceptions.ValidationError):
        message = _first_error_message(exc.detail)
        code = "invalid"
        extra = {"fields": exc.detail}
    elif isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
        message, code, extra = "Unauthorized", "unauthorized", {}
    else:
        message = str(getattr(exc, "detail", "Request failed"))
        code = getattr(exc, "default_code", "error")
        extra = {}
    response.data = error_body(message, code=code, extra=extra)
    return response
