"""Application errors specific to accounts (rendered by the core DRF handler)."""

from rest_framework import status

from copytrade.core.exceptions import ApplicationError, NotFound


class FollowerNotFound(NotFound):
    default_code = "follower_not_found"
    default_message = "Follower not found"


class SessionMissing(NotFound):
    """The account has no broker session to act with."""

    default_code = "session_missing"
    default_message = "No token found for follower"


class CredentialUnreadable(SessionMissing):
    """The stored credential cannot be decrypted (key removed, restored backup, copied row): re-enter it."""

    default_code = "credential_unreadable"
    default_message = "Broker credential cannot be decrypted: replace it"


class LoginNotConfigured(ApplicationError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "login_not_configured"
    default_message = "Alice Blue login is not configured (ALICE_APP_CODE / ALICE_API_SECRET)"


class LoginRefused(ApplicationError):
    """The vendor-login callback does not match an account we can store the session on."""

    status_code = status.HTTP_403_FORBIDDEN
    default_code = "login_refused"
    default_message = "Login refused"


class ConsentLinkInvalid(ApplicationError):
    """A consent link that is not ours: forged, tampered with or malformed."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "consent_link_invalid"
    default_message = "This consent link is not valid. Ask the operator for a new link."


class ConsentLinkGone(ApplicationError):
    """A genuine consent link that no longer works: expired, used, revoked or replaced by a newer one."""

    status_code = status.HTTP_410_GONE
    default_code = "consent_link_gone"
    default_message = (
        "This consent link no longer works: it was used, revoked, or replaced by a newer link. "
        "Ask the operator for a new link."
    )


class ConsentLinkNotConfigured(ApplicationError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "consent_link_not_configured"
    default_message = "Consent links need COPYTRADE_PUBLIC_URL (this service's public address)"
