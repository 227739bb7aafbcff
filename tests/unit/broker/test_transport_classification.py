"""The failure classification of `broker.transport` and `broker.parsing`, with fabricated answers."""

from __future__ import annotations

import http.client
import socket
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import requests
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from broker.exceptions import (
    BrokerAuthError,
    BrokerOutcomeUnknownError,
    BrokerRateLimitedError,
    BrokerRejectedError,
    BrokerTimeoutError,
    BrokerUnavailableError,
)
from broker.parsing import (
    error_from_message,
    excerpt,
    parse_product,
    parse_side,
    parse_status,
    stat_is_not_ok,
    to_decimal,
    to_id,
    to_int,
)
from broker.transport import classify_exception, classify_response, parse_retry_after
from broker.types import OrderStatus, ProductType, Side

HTML_502 = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
SPA = "<!doctype html><html><head><title>ANT</title></head><body><div id='root'></div></body></html>"


def answer(status, body, *, content_type="application/json", mutating=False, **kwargs):
    return classify_response(
        status=status, content_type=content_type, text=body, mutating=mutating, what="call", **kwargs
    )


# -- HTTP answers --------------------------------------------------------------------------------------------


def test_json_200_is_returned_with_decimals():
    response = answer(200, '{"status":"Ok","result":[{"price":1120.15,"brokerOrderId":"250526000002697"}]}')

    assert response.status == 200
    assert response.body["result"][0]["price"] == Decimal("1120.15")


@pytest.mark.parametrize("mutating", [False, True])
@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (401, "Unauthorized", "text/plain"),
        (403, "Forbidden", "text/plain"),
        (401, '{"status":"Not_Ok","message":"EC087"}', "application/json"),
        (200, "Unauthorized", "text/plain"),
        (200, '"Unauthorized"', "application/json"),
    ],
)
def test_auth_answers(status, body, content_type, mutating):
    with pytest.raises(BrokerAuthError) as info:
        answer(status, body, content_type=content_type, mutating=mutating)
    assert info.value.retryable is False


def test_429_is_rate_limited_with_retry_after():
    with pytest.raises(BrokerRateLimitedError) as info:
        answer(429, '{"status":"Not_Ok","message":"Too many requests"}', retry_after="7")
    assert info.value.retry_after == 7.0
    assert info.value.retryable is True


def test_retry_after_http_date():
    now = datetime(2026, 1, 5, 9, 15, tzinfo=UTC)

    assert parse_retry_after("Mon, 05 Jan 2026 09:15:30 GMT", now=now) == 30.0
    assert parse_retry_after("garbage") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize("mutating", [False, True])
@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (500, '{"status":500,"error":"Internal Server Error"}', "application/json"),
        (502, HTML_502, "text/html"),
        (503, "", "text/plain"),
    ],
)
def test_5xx_is_unavailable_for_reads_and_order_calls(status, body, content_type, mutating):
    with pytest.raises(BrokerUnavailableError) as info:
        answer(status, body, content_type=content_type, mutating=mutating)
    assert info.value.retryable is True
    assert "<" not in str(info.value)


def test_504_on_an_order_call_is_outcome_unknown():
    with pytest.raises(BrokerTimeoutError):
        answer(504, "<html>504 Gateway Time-out</html>", content_type="text/html", mutating=True)
    with pytest.raises(BrokerUnavailableError):
        answer(504, "<html>504 Gateway Time-out</html>", content_type="text/html", mutating=False)


@pytest.mark.parametrize(
    ("body", "content_type"), [(SPA, "text/html"), ("", "application/json"), ("{oops", "")]
)
def test_200_without_json(body, content_type):
    with pytest.raises(BrokerUnavailableError) as read_error:
        answer(200, body, content_type=content_type, mutating=False)
    with pytest.raises(BrokerOutcomeUnknownError) as order_error:
        answer(200, body, content_type=content_type, mutating=True)

    assert not isinstance(read_error.value, BrokerOutcomeUnknownError)
    assert not isinstance(order_error.value, BrokerTimeoutError | BrokerUnavailableError)
    assert "root" not in str(order_error.value)


def test_an_empty_200_is_an_answer_only_where_it_means_not_enabled():
    # createWsToken's empty body means "the feed is not enabled"; HTML still means something broke
    assert answer(200, "", empty_ok=True).body is None
    assert answer(200, "  \n", content_type="text/plain", empty_ok=True).body is None
    with pytest.raises(BrokerUnavailableError):
        answer(200, SPA, content_type="text/html", empty_ok=True)
    with pytest.raises(BrokerAuthError):
        answer(401, "", content_type="text/plain", empty_ok=True)


def test_legacy_jackson_400_is_rejected_with_a_short_reason():
    text = (
        'Unrecognized field "checkSum" (class com.sas.dto.EncDataDTO), not marked as ignorable (11 known '
        "properties: loginType, encKey, apikey, userId, imei, fcmToken, login, stat, userData, version, emsg)"
    )

    with pytest.raises(BrokerRejectedError) as info:
        answer(400, text, content_type="text/plain")

    assert "Unrecognized field" in info.value.reason
    assert len(info.value.reason) < 100
    assert info.value.http_status == 400


def test_4xx_json_can_be_handed_to_the_envelope_parser():
    response = answer(400, '{"stat":"Not_ok","emsg":"Invalid auth code"}', client_errors_as_body=True)

    assert response.body["emsg"] == "Invalid auth code"


def test_4xx_json_is_classified_by_its_message():
    with pytest.raises(BrokerRejectedError):
        answer(400, '{"stat":"Not_Ok","emsg":"Invalid Input"}')
    with pytest.raises(BrokerAuthError):
        answer(400, '{"stat":"Not_Ok","emsg":"Session Expired"}')


# -- exceptions from requests ---------------------------------------------------------------------------


def _refused():
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/x", reason))


def _dns():
    reason = NameResolutionError("a3.example", None, socket.gaierror(-2, "Name or service not known"))
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/x", reason))


def _connect_timeout():
    return requests.exceptions.ConnectTimeout(
        MaxRetryError(None, "/x", ConnectTimeoutError(None, "timed out"))
    )


def _read_timeout():
    return requests.exceptions.ReadTimeout(ReadTimeoutError(None, "/x", "Read timed out. (read timeout=0.5)"))


def _reset():
    return requests.exceptions.ConnectionError(
        ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer"))
    )


def _remote_disconnected():
    return requests.exceptions.ConnectionError(
        ProtocolError(
            "Connection aborted.",
            http.client.RemoteDisconnected("Remote end closed connection without response"),
        )
    )


def _truncated():
    return requests.exceptions.ChunkedEncodingError(ProtocolError("Response ended prematurely"))


@pytest.mark.parametrize("make", [_refused, _dns, _connect_timeout])
@pytest.mark.parametrize("mutating", [False, True])
def test_nothing_sent_is_unavailable(make, mutating):
    error = classify_exception(make(), mutating=mutating, what="placeorder")

    assert type(error) is BrokerUnavailableError
    assert error.retryable is True


@pytest.mark.parametrize("make", [_read_timeout, _reset, _remote_disconnected, _truncated])
def test_sent_without_answer(make):
    assert type(classify_exception(make(), mutating=True, what="placeorder")) is BrokerTimeoutError
    assert type(classify_exception(make(), mutating=False, what="book")) is BrokerUnavailableError


def test_timeout_is_never_retryable():
    error = classify_exception(_read_timeout(), mutating=True, what="placeorder")

    assert isinstance(error, BrokerOutcomeUnknownError)
    assert error.retryable is False


# -- broker messages --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "error_class"),
    [
        ("Session Expired", BrokerAuthError),
        ("Invalid Session ID", BrokerAuthError),
        ("User does not login. Please login", BrokerAuthError),
        ("User not login. Please login", BrokerAuthError),
        ("Enable/Login with TOTP, to create the session.", BrokerAuthError),
        ("401 - Unauthorized", BrokerAuthError),
        ("Invalid token", BrokerAuthError),
        ("Too many requests", BrokerRateLimitedError),
        ("Invalid Input", BrokerRejectedError),
        ("Invalid auth code", BrokerRejectedError),
        ("RMS: Auto Square Off Block", BrokerRejectedError),
        ("Order not allowed in pre-open session", BrokerRejectedError),
        ("Market session closed", BrokerRejectedError),
        ("Internal server error. Please try again later.", BrokerUnavailableError),
    ],
)
def test_message_classification(message, error_class):
    assert type(error_from_message(message, mutating=False, what="x")) is error_class


def test_transient_message_on_an_order_call_is_outcome_unknown():
    error = error_from_message("Internal server error. Please try again later.", mutating=True, what="place")

    assert type(error) is BrokerOutcomeUnknownError


def test_excerpt_redacts_and_shortens():
    jwt = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1Y2MiOiI5MTI0NDQifQ.c2lnbmF0dXJl"

    text = excerpt(f"<b>bad</b> token {jwt} " + "x " * 200)

    assert jwt not in text
    assert "<b>" not in text
    assert len(text) <= 120


# -- values --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1,234.50", Decimal("1234.50")),
        ("00.00", Decimal("0")),
        ("--", Decimal("0")),
        ("NA", Decimal("0")),
        ("", Decimal("0")),
        (None, Decimal("0")),
        (6.95, Decimal("6.95")),
        (Decimal("1120.15"), Decimal("1120.15")),
        (30, Decimal("30")),
        ("-187.50", Decimal("-187.50")),
    ],
)
def test_to_decimal(raw, expected):
    assert to_decimal(raw) == expected


def test_to_int_and_to_id():
    assert to_int("1,200") == 1200
    assert to_int("-250") == -250
    assert to_int(250.0) == 250
    assert to_int("NA") == 0
    assert to_id(250526000002697) == "250526000002697"
    assert to_id(Decimal("250526000002697")) == "250526000002697"
    assert to_id("25071400112229") == "25071400112229"
    assert to_id("--") == ""
    with pytest.raises(ValueError, match="float"):
        to_id(2.50526000002697e14)
    with pytest.raises(ValueError, match="integer"):
        to_int("1.5")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("open", OrderStatus.OPEN),
        ("OPEN", OrderStatus.OPEN),
        ("trigger pending", OrderStatus.TRIGGER_PENDING),
        ("TRIGGER PENDING", OrderStatus.TRIGGER_PENDING),
        ("TRIGGER_PENDING", OrderStatus.TRIGGER_PENDING),
        ("complete", OrderStatus.COMPLETE),
        ("COMPLETE", OrderStatus.COMPLETE),
        ("rejected", OrderStatus.REJECTED),
        ("cancelled", OrderStatus.CANCELLED),
        ("CANCELED", OrderStatus.CANCELLED),
        ("open pending", OrderStatus.PENDING),
        ("validation pending", OrderStatus.PENDING),
        ("put order req received", OrderStatus.PENDING),
        ("PENDING", OrderStatus.PENDING),
        ("modify pending", OrderStatus.OPEN),
        ("cancel pending", OrderStatus.OPEN),
        ("something new", OrderStatus.UNKNOWN),
    ],
)
def test_status_normalisation(raw, expected):
    assert parse_status(raw) is expected


def test_sides_products_and_stat_spellings():
    assert [parse_side(s) for s in ("B", "s", "BUY", "sell")] == [Side.BUY, Side.SELL, Side.BUY, Side.SELL]
    assert parse_product("INTRADAY") is ProductType.MIS
    assert parse_product("Delivery") is ProductType.CNC
    assert parse_product("LONGTERM") is ProductType.CNC
    assert parse_product("NORMAL") is ProductType.NRML
    assert parse_product("MTF") == "MTF"
    assert all(stat_is_not_ok(s) for s in ("Not_Ok", "Not_ok", "Not ok", "NOT_OK", "not ok"))
    assert not stat_is_not_ok("Ok")
    with pytest.raises(ValueError, match="transaction type"):
        parse_side("X")


def test_a_tls_error_on_an_order_call_is_outcome_unknown_not_a_safe_retry():
    # given a TLS failure, which can happen after the whole order was written (a corrupt record in the answer)
    error = requests.exceptions.SSLError("[SSL: DECRYPTION_FAILED_OR_BAD_RECORD_MAC] bad record mac")
    # then an order call must be reconciled by tag, never blindly re-sent; a read may simply be retried
    assert type(classify_exception(error, mutating=True, what="placeorder")) is BrokerTimeoutError
    assert type(classify_exception(error, mutating=False, what="book")) is BrokerUnavailableError
