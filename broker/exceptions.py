"""Every Alice Blue failure is one of these classes; callers decide retry/reconcile by class alone.

Messages never contain secrets or raw response bodies (a short, redacted excerpt at most).
"""

from __future__ import annotations


class BrokerError(Exception):
    """Base class. `retryable` says whether sending the same request again is safe."""

    retryable: bool = False
    default_code: str = "broker_error"

    def __init__(self, message: str, *, code: str = "", http_status: int | None = None):
        self.message = message
        self.code = code or self.default_code
        self.http_status = http_status
        super().__init__(message)


class BrokerAuthError(BrokerError):
    """The session is missing, invalid or expired (401/403, EC087, "Session Expired", "not login")."""

    default_code = "session_expired"


class BrokerRejectedError(BrokerError):
    """The broker answered and refused the request; `reason` is the broker's own text."""

    default_code = "rejected"

    def __init__(self, reason: str, *, code: str = "", http_status: int | None = None):
        self.reason = reason
        super().__init__(reason, code=code, http_status=http_status)


class BrokerUnavailableError(BrokerError):
    """The request was not processed (connection refused, 5xx, HTML error page): safe to retry."""

    retryable = True
    default_code = "unavailable"


class BrokerOutcomeUnknownError(BrokerError):
    """The request was sent and no usable answer came back: it may have been executed.

    Never retried blindly; an order is reconciled by looking its orderTag up in the order book.
    """

    default_code = "outcome_unknown"


class BrokerTimeoutError(BrokerOutcomeUnknownError):
    """Read timeout or dropped connection after the request was sent."""

    default_code = "timeout"


class BrokerRateLimitedError(BrokerError):
    """Too many requests (HTTP 429 or the broker's rate-limit answer); retry after a pause."""

    retryable = True
    default_code = "rate_limited"

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        code: str = "",
        http_status: int | None = None,
    ):
        self.retry_after = retry_after
        super().__init__(message, code=code, http_status=http_status)
