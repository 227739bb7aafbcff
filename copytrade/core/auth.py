"""API authentication: the seed's x-qa-secret header, or a logged-in staff session (and its second factor)."""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass

from django.conf import settings
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

logger = logging.getLogger(__name__)

SECRET_HEADER = "x-qa-secret"  # noqa: S105 - a header name, not a secret


@dataclass(frozen=True)
class ServiceUser:
    """The principal of a request authenticated by the shared secret."""

    username: str = "x-qa-secret"
    is_staff: bool = True
    is_authenticated: bool = True
    is_active: bool = True


def secret_matches(candidate: str, expected: str) -> bool:
    """Compare two secrets in constant time on fixed-length digests (no length leak)."""
    if not expected:
        return False
    candidate_digest = hashlib.sha256(candidate.encode("utf-8")).digest()
    expected_digest = hashlib.sha256(expected.encode("utf-8")).digest()
    return hmac.compare_digest(candidate_digest, expected_digest)


def _client_ip(request: Request) -> str:
    return request.META.get("REMOTE_ADDR", "unknown")


class QaSecretAuthentication(authentication.BaseAuthentication):
    """Authenticates `x-qa-secret: <QUANTUM_ALPHA_SECRET>`; a wrong secret is a 401, not a fallthrough."""

    def authenticate(self, request: Request):
        supplied = request.headers.get(SECRET_HEADER)
        if supplied is None:
            return None
        if secret_matches(supplied, settings.QUANTUM_ALPHA_SECRET):
            return (ServiceUser(), None)
        logger.warning(
            "api auth failed: wrong %s from %s on %s %s",
            SECRET_HEADER,
            _client_ip(request),
            request.method,
            request.path,
        )
        raise exceptions.AuthenticationFailed("Unauthorized")

    def authenticate_header(self, request: Request) -> str:
        return f'{SECRET_HEADER} realm="copytrade"'


def _otp_verified(user) -> bool:
    # OTPMiddleware installs is_verified(); without it (misconfigured) the session counts as unverified.
    is_verified = getattr(user, "is_verified", None)
    return bool(is_verified and is_verified())


class StaffSessionAuthentication(authentication.SessionAuthentication):
    """A logged-in Django staff user (the admin), with DRF's CSRF check on unsafe methods.

    When the admin requires a second factor, so does this: a password-only session must not move money.
    """

    def authenticate(self, request: Request):
        result = super().authenticate(request)
        if result is None or not result[0].is_staff:
            return None
        if settings.COPYTRADE_ADMIN_REQUIRE_OTP and not _otp_verified(result[0]):
            logger.warning(
                "api auth refused: staff session of %s without a verified second factor from %s on %s %s",
                result[0].get_username(),
                _client_ip(request),
                request.method,
                request.path,
            )
            return None
        return result


class IsOperator(permissions.BasePermission):
    """Allows the shared-secret principal and staff users; logs every refusal."""

    def has_permission(self, request: Request, view) -> bool:
        user = request.user
        allowed = bool(user and getattr(user, "is_authenticated", False) and getattr(user, "is_staff", False))
        if not allowed:
            logger.warning(
                "api auth failed: no credentials from %s on %s %s",
                _client_ip(request),
                request.method,
                request.path,
            )
        return allowed


OPERATOR_AUTHENTICATION = [QaSecretAuthentication, StaffSessionAuthentication]
