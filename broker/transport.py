"""HTTP transport for the Alice Blue client: pooled sessions, explicit timeouts, no retries, and the
classification of every transport/HTTP failure into a `broker.exceptions` class.

Classification (`mutating` = the call changes orders: place, modify, cancel, square-off):

- nothing sent (connection refused, connect timeout, DNS, TLS handshake) -> BrokerUnavailableError;
- sent, no answer (read timeout, reset, remote disconnect, truncated body) -> BrokerTimeoutError when
  mutating (outcome unknown, never retried), BrokerUnavailableError for reads;
- HTTP 429 -> BrokerRateLimitedError (Retry-After parsed); so is a non-order call over the account's budget
  (`broker.budget`), which is never sent;
- 401/403 or a plain "Unauthorized" body -> BrokerAuthError; so is a session token HTTP cannot carry in a
  header (never sent);
- HTTP 5xx -> BrokerUnavailableError (not accepted), except 504/524 (a gateway gave up waiting for the
  origin, which may have acted) -> BrokerTimeoutError when mutating;
- HTTP 2xx without a JSON body (HTML, empty) -> BrokerUnavailableError for reads, BrokerOutcomeUnknownError
  when mutating (something answered; we cannot tell whether the order went in);
- other 4xx -> BrokerRejectedError (the legacy gateway's plain-text Jackson 400), or the envelope's verdict.

The broker's JSON envelopes (`stat`/`status`) are judged by the flavour's parsing module, not here.
"""

from __future__ import annotations

import http.cookiejar
import json
import logging
import os
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ConnectTimeoutError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from broker.budget import CallBudget
from broker.exceptions import (
    BrokerAuthError,
    BrokerError,
    BrokerOutcomeUnknownError,
    BrokerRateLimitedError,
    BrokerRejectedError,
    BrokerTimeoutError,
    BrokerUnavailableError,
)
from broker.parsing import error_from_message, excerpt

logger = logging.getLogger("broker.transport")

DEFAULT_POOL_SIZE = 200
_sessions: dict[tuple[int, str, int], requests.Session] = {}
_sessions_lock = threading.Lock()


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """Sessions are shared by every account of the process: a cookie must never carry over between them."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
        return False


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    # A non-None session.auth keeps requests from adding ~/.netrc credentials to unauthenticated calls.
    return request


def http_session(base_url: str, *, pool_size: int = DEFAULT_POOL_SIZE) -> requests.Session:
    """The process's pooled `requests.Session` for `base_url` (no automatic retries, no cookies)."""
    key = (os.getpid(), base_url.rstrip("/"), pool_size)
    session = _sessions.get(key)
    if session is not None:
        return session
    with _sessions_lock:
        session = _sessions.get(key)
        if session is None:
            session = requests.Session()
            session.cookies.set_policy(_NoCookies())
            session.auth = _no_auth
            # Proxy settings (HTTPS_PROXY, NO_PROXY) are read once here instead of from os.environ on every
            # request, which cost a measurable share of each order's CPU; .netrc is never consulted.
            session.proxies.update(requests.utils.get_environ_proxies(base_url))
            session.trust_env = False
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            _sessions[key] = session
    return session


_closers: list[Callable[[], None]] = []


def on_close(closer: Callable[[], None]) -> None:
    """Register another pool (the async sender's) for `close_http_sessions` to close too."""
    _closers.append(closer)


def close_http_sessions() -> None:
    """Close every pooled session of this process (tests, shutdown)."""
    with _sessions_lock:
        for session in _sessions.values():
            session.close()
        _sessions.clear()
    for closer in _closers:
        closer()


@dataclass(frozen=True)
class JsonResponse:
    status: int
    body: Any


# -- classification (pure functions, unit-tested with fabricated inputs) ---------------------------------


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and everything it wraps (requests -> urllib3 MaxRetryError.reason -> socket errors)."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend(arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException))
        for attr in ("reason", "__cause__", "__context__"):
            inner = getattr(current, attr, None)
            if isinstance(inner, BaseException):
                stack.append(inner)


def _not_sent(exc: BaseException) -> bool:
    # A TLS error is not here: it can come after the whole request was written (a corrupt record in the
    # answer), and the exception does not reliably say which; for an order call that is "outcome unknown".
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return True
    causes = list(_causes(exc))
    sent_markers = (ProtocolError, ReadTimeoutError, ConnectionResetError, ConnectionAbortedError)
    if any(isinstance(cause, sent_markers) for cause in causes):
        return False
    refused = (NewConnectionError, NameResolutionError, ConnectTimeoutError, ConnectionRefusedError)
    return any(isinstance(cause, refused) for cause in causes)


def classify_exception(exc: BaseException, *, mutating: bool, what: str) -> BrokerError:
    """The BrokerError for a `requests` exception raised while calling `what`."""
    return transport_failure(sent=not _not_sent(exc), mutating=mutating, what=what, kind=type(exc).__name__)


def transport_failure(*, sent: bool, mutating: bool, what: str, kind: str) -> BrokerError:
    """The BrokerError for a call that got no HTTP answer: never sent -> unavailable (safe to retry); sent
    without an answer -> outcome unknown for an order call, unavailable for a read. Both transports use it."""
    if not sent:
        return BrokerUnavailableError(f"{what}: broker not reachable ({kind})", code="unreachable")
    if mutating:
        return BrokerTimeoutError(f"{what}: no answer after the request was sent ({kind}); outcome unknown")
    return BrokerUnavailableError(f"{what}: no answer from broker ({kind})", code="no_answer")


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _json_message(body: Any) -> str:
    """The human text of a JSON error body (legacy `emsg`, open-api `message`, generic `error`)."""
    if isinstance(body, list) and body:
        body = body[0]
    if isinstance(body, dict):
        for key in ("emsg", "message", "error_description", "error", "Result"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value
    if isinstance(body, str):
        return body
    return ""


def loads(text: str) -> Any:
    """JSON as the client reads it: JSON floats become Decimal (prices never pass through float)."""
    return json.loads(text, parse_float=Decimal)


def _decode_json(text: str, content_type: str) -> tuple[bool, Any]:
    stripped = text.strip()
    if not stripped or "html" in content_type.lower() or stripped.startswith("<"):
        return False, None
    try:
        return True, loads(stripped)
    except ValueError:
        return False, None


def classify_response(
    *,
    status: int,
    content_type: str,
    text: str,
    mutating: bool,
    what: str,
    retry_after: str | None = None,
    client_errors_as_body: bool = False,
    empty_ok: bool = False,
) -> JsonResponse:
    """The parsed JSON of a usable answer, or raise the BrokerError this HTTP answer means.

    `client_errors_as_body` (session exchanges only): a 4xx other than 429 whose body is a JSON error is
    returned for the caller's envelope parser to judge ("Invalid auth code" is a reject, not a logout).
    `empty_ok` (createWsToken only, where it means "feature not enabled"): a 2xx with an empty body is
    returned with `body=None` instead of raising.
    """
    is_json, body = _decode_json(text, content_type)
    message = excerpt(_json_message(body)) if is_json else excerpt(text, 80)
    detail = f" ({message})" if message else ""
    if status == 429:
        raise BrokerRateLimitedError(
            f"{what}: rate limited (HTTP 429){detail}",
            retry_after=parse_retry_after(retry_after),
            http_status=status,
        )
    if status in (401, 403):
        if client_errors_as_body and is_json and _json_message(body):
            return JsonResponse(status, body)
        raise BrokerAuthError(f"{what}: HTTP {status}{detail}", http_status=status)
    if status >= 500:
        if mutating and status in (504, 524):
            raise BrokerTimeoutError(
                f"{what}: gateway timeout (HTTP {status}); outcome unknown", http_status=status
            )
        raise BrokerUnavailableError(f"{what}: HTTP {status} from broker", http_status=status)
    plain = (body if isinstance(body, str) else "") if is_json else text
    if plain.strip().strip('"').lower() == "unauthorized":
        raise BrokerAuthError(f"{what}: Unauthorized", http_status=status)
    if 400 <= status < 500:
        if is_json:
            if client_errors_as_body:
                return JsonResponse(status, body)
            raise error_from_message(
                _json_message(body) or f"HTTP {status}", mutating=mutating, what=what, http_status=status
            )
        raise BrokerRejectedError(f"HTTP {status}: {message or 'request refused'}", http_status=status)
    if 300 <= status < 400:
        raise BrokerUnavailableError(f"{what}: unexpected redirect (HTTP {status})", http_status=status)
    if empty_ok and not text.strip():
        return JsonResponse(status, None)
    if not is_json:
        shape = "HTML page" if "<" in text[:200] else ("empty body" if not text.strip() else "non-JSON body")
        if mutating:
            raise BrokerOutcomeUnknownError(
                f"{what}: HTTP {status} with {shape}; outcome unknown",
                code="bad_response",
                http_status=status,
            )
        raise BrokerUnavailableError(
            f"{what}: HTTP {status} with {shape}", code="bad_response", http_status=status
        )
    return JsonResponse(status, body)


# -- the transport -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WireRequest:
    """One HTTP request as the client means to send it, with how to judge its answer. Built by
    `Transport.prepare`; sent by `send` (requests, blocking) or `broker.async_transport.send_all` (a batch
    at once). Its repr never shows headers or body (they carry the session token and the order)."""

    method: str
    base_url: str
    path: str
    headers: dict[str, str] = field(repr=False)
    json_body: Any = field(repr=False)
    mutating: bool
    user_id: str
    timeout: tuple[float, float]
    pool_size: int = DEFAULT_POOL_SIZE
    client_errors_as_body: bool = False
    empty_ok: bool = False

    @property
    def url(self) -> str:
        return f"{self.base_url}/{self.path.lstrip('/')}"

    @property
    def what(self) -> str:
        return self.path.rsplit("/", 1)[-1] or self.path.rstrip("/").rsplit("/", 1)[-1]


def unusable_session(request: WireRequest) -> BrokerAuthError:
    """A header value (the session token) that HTTP cannot carry: nothing is sent, and the session is
    unusable until it is replaced."""
    return BrokerAuthError(
        f"{request.what}: the stored session cannot be sent in an HTTP header; replace it",
        code="unusable_session",
    )


def headers_sendable(headers: dict[str, str]) -> bool:
    """Whether every header value is one HTTP/1.1 can carry (latin-1, no line breaks or NUL)."""
    for value in headers.values():
        if any(char in value for char in "\r\n\0"):
            return False
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            return False
    return True


def answer_of(
    request: WireRequest,
    *,
    status: int,
    content_type: str,
    text: str,
    retry_after: str | None,
    started: float,
) -> JsonResponse:
    """Judge an HTTP answer to `request` (see `classify_response`) and log it; raises the BrokerError."""
    try:
        result = classify_response(
            status=status,
            content_type=content_type,
            text=text,
            mutating=request.mutating,
            what=request.what,
            retry_after=retry_after,
            client_errors_as_body=request.client_errors_as_body,
            empty_ok=request.empty_ok,
        )
    except BrokerError as error:
        log_call(request, status, started, error)
        raise
    log_call(request, status, started, None)
    return result


def send(request: WireRequest) -> JsonResponse:
    """Send one request on the pooled `requests` session (never retried); BrokerError on failure."""
    started = time.monotonic()
    if not headers_sendable(request.headers):
        error: BrokerError = unusable_session(request)
        log_call(request, "-", started, error)
        raise error
    session = http_session(request.base_url, pool_size=request.pool_size)
    try:
        response = session.request(
            request.method,
            request.url,
            json=request.json_body,
            headers=request.headers,
            timeout=request.timeout,
            allow_redirects=False,
        )
        text = response.text
    except (UnicodeEncodeError, requests.exceptions.InvalidHeader):
        error = unusable_session(request)
        log_call(request, "-", started, error)
        raise error from None
    except requests.RequestException as exc:
        error = classify_exception(exc, mutating=request.mutating, what=request.what)
        log_call(request, "-", started, error)
        raise error from None
    return answer_of(
        request,
        status=response.status_code,
        content_type=response.headers.get("Content-Type", ""),
        text=text,
        retry_after=response.headers.get("Retry-After"),
        started=started,
    )


def log_call(request: WireRequest, status: Any, started: float, error: BrokerError | None) -> None:
    # Method, path, status and timing only: never headers (Authorization), bodies, checksums or tokens.
    elapsed_ms = (time.monotonic() - started) * 1000
    if error is None:
        level = logging.INFO if request.mutating else logging.DEBUG
        if logger.isEnabledFor(level):
            logger.log(
                level,
                "%s %s user=%s status=%s %.0f ms",
                request.method,
                request.path,
                request.user_id or "-",
                status,
                elapsed_ms,
            )
    else:
        logger.warning(
            "%s %s user=%s status=%s %.0f ms failed: %s",
            request.method,
            request.path,
            request.user_id or "-",
            status,
            elapsed_ms,
            type(error).__name__,
        )


class Transport:
    """JSON over HTTP to one broker root URL with explicit timeouts; raises only BrokerError."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: tuple[float, float],
        pool_size: int = DEFAULT_POOL_SIZE,
        budget: CallBudget | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.pool_size = pool_size
        self.budget = budget

    def prepare(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        mutating: bool,
        user_id: str = "",
        client_errors_as_body: bool = False,
        empty_ok: bool = False,
    ) -> WireRequest:
        """The request to send; a non-order call over the account's budget raises (it is never sent)."""
        all_headers = {"Accept": "application/json"}
        if headers:
            all_headers.update(headers)
        request = WireRequest(
            method=method,
            base_url=self.base_url,
            path=path,
            headers=all_headers,
            json_body=json_body,
            mutating=mutating,
            user_id=user_id,
            timeout=self.timeout,
            pool_size=self.pool_size,
            client_errors_as_body=client_errors_as_body,
            empty_ok=empty_ok,
        )
        if self.budget is not None and not mutating and user_id and not self.budget.spend(user_id):
            use = self.budget.use(user_id)
            raise BrokerRateLimitedError(
                f"{request.what}: {user_id}'s budget of non-order calls ({self.budget.rate}) is used up; "
                "not sent",
                code="budget_exhausted",
                retry_after=use.resets_in,
            )
        return request

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        mutating: bool,
        user_id: str = "",
        client_errors_as_body: bool = False,
        empty_ok: bool = False,
    ) -> JsonResponse:
        """Send one request (never retried) and return its JSON; failures raise BrokerError subclasses."""
        return send(
            self.prepare(
                method,
                path,
                json_body=json_body,
                headers=headers,
                mutating=mutating,
                user_id=user_id,
                client_errors_as_body=client_errors_as_body,
                empty_ok=empty_ok,
            )
        )
