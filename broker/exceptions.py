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


class OrderNotifyNotEnabled(BrokerError):
    """createWsToken answered with an empty body: the account is not enabled for the order-notify feed."""

    default_code = "order_notify_not_enabled"


class OrderNotifyRefused(BrokerError):
    """The order-notify websocket refused the subscribe frame (token unknown or used, or another user id).

    Not a BrokerAuthError: createWsToken has just accepted the session, so this says nothing about the
    session; it means the token or the user id in the frame was wrong. Get a fresh token and retry once;
    a repeated refusal is a configuration problem (e.g. the feed wants the UCC, not the login id).
    """

    default_code = "order_notify_refused"


class OrderNotifyClosed(BrokerUnavailableError):
    """The order-notify websocket could not be opened, or closed (server, network, idle, drop).

    Reconnect with backoff and a fresh token (tokens are single-use); catch up from the order book.
    `close_code` is the websocket close code when the server sent one.
    """

    default_code = "order_notify_closed"

    def __init__(
        self,
        message: str,
        *,
        close_code: int | None = None,
        reason: str = "",
        code: str = "",
        http_status: int | None = None,
    ):
        self.close_code = close_code
        self.reason = reason
        super().__init__(message, code=code, http_status=http_status)
