"""Bounds of every accounts input, and the validators the serializers, admin forms, models and services share.

A value outside these bounds is refused with a 400 naming the field before anything is written: MariaDB would
otherwise answer an out-of-range number with DataError 1264 (a 500), and a token that is not printable ASCII
cannot be sent in the HTTP header Alice Blue reads it from.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from copytrade.core.exceptions import ValidationFailed
from copytrade.core.fields import IDENTIFIER_CHARS, TEXT_PATTERN

TOKEN_MAX_LENGTH = 4096
API_KEY_MAX_LENGTH = 512  # api key and api secret
ACCOUNT_ID_MAX_LENGTH = 120  # Account.account_id
CLIENT_ID_MAX_LENGTH = 64  # Account.client_id
NAME_MAX_LENGTH = 255
REFERENCE_MAX_LENGTH = 255
TERMS_VERSION_MAX_LENGTH = 32
SYMBOL_MAX_LENGTH = 64
LIST_MAX_ITEMS = 500

# Quantities in units: far above any real order, far below the int columns' range.
QUANTITY_MIN, QUANTITY_MAX = 1, 10_000_000
LOT_SIZE_MIN, LOT_SIZE_MAX = 1, 100_000
CONCURRENT_TRADES_MIN, CONCURRENT_TRADES_MAX = 1, 10_000

_HEADER_SAFE = re.compile(r"\A[\x21-\x7e]+\Z")
_IDENTIFIER = re.compile(rf"\A{IDENTIFIER_CHARS}+\Z")
_TEXT = re.compile(TEXT_PATTERN)


def is_header_safe(value: str) -> bool:
    """Printable ASCII without spaces: what can be sent in an HTTP header (tokens, keys, user ids)."""
    return bool(_HEADER_SAFE.match(value))


def validate_header_safe(value: str) -> None:
    if value and not is_header_safe(value):
        raise ValidationError(
            "must be printable ASCII without spaces (it is sent to Alice Blue in an HTTP header)",
            code="not_header_safe",
        )


def validate_printable(value: str) -> None:
    """No control characters (names, references, user agents shown in the admin): the API's TextField rule."""
    if value and not _TEXT.match(value):
        raise ValidationError("must not contain control characters", code="control_characters")


def validate_identifier(value: str) -> None:
    """An account id: printable ASCII without spaces (it travels in URLs, query strings, headers and log
    lines); the API's IdentifierField rule."""
    if value and not _IDENTIFIER.match(value):
        raise ValidationError("must be printable ASCII characters without spaces", code="invalid_identifier")


def secret_check(*, field: str, value: str, max_length: int) -> None:
    """ValidationFailed (400, naming `field`, never the value) unless `value` is a sendable secret."""
    if len(value) > max_length:
        raise ValidationFailed(
            f"{field}: at most {max_length} characters", code="invalid", extra={"field": field}
        )
    try:
        validate_header_safe(value)
    except ValidationError as exc:
        raise ValidationFailed(f"{field}: {exc.messages[0]}", code="invalid", extra={"field": field}) from exc


def model_check(instance, *, exclude: list[str] | None = None) -> None:
    """Run the model's field validators; the first error becomes ValidationFailed naming the field."""
    try:
        instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        name = "" if field == "__all__" else field
        message = f"{name}: {messages[0]}" if name else messages[0]
        raise ValidationFailed(message, code="invalid", extra={"field": name}) from exc


# A Telegram chat: a numeric id (groups and channels are negative, -100...) or a public @channelname.
_TELEGRAM_CHAT = re.compile(r"^(-?[0-9]{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31})$")


def validate_notification_target(kind: str, target: str) -> None:
    """A Telegram chat id for a TELEGRAM channel, an e-mail address for an EMAIL one (ValidationError)."""
    if kind == "TELEGRAM":
        if not _TELEGRAM_CHAT.match(target or ""):
            raise ValidationError(
                "Enter a Telegram chat id (e.g. 123456789 or -1001234567890) or a public @channelname."
            )
    elif kind == "EMAIL":
        try:
            validate_email(target)
        except ValidationError:
            raise ValidationError("Enter a valid e-mail address.") from None
    else:
        raise ValidationError("Choose Telegram or e-mail.")


# Per-symbol multipliers (RiskConfig.symbol_multipliers): the lot multiplier's bounds, DECIMAL(12, 4).
MULTIPLIER_MIN, MULTIPLIER_MAX = Decimal("0.0001"), Decimal("99999999.9999")
SYMBOL_PATTERN = "^[A-Z0-9][A-Z0-9&._-]*$"  # the API's schema (ECMA); SYMBOL_KEY is the same, anchored
SYMBOL_KEY = re.compile(r"\A[A-Z0-9][A-Z0-9&._-]*\Z")


def symbol_multipliers_normalized(value: object) -> dict[str, str]:
    """{symbol: multiplier} with upper-case symbols and exact decimal strings; ValidationError naming the bad
    entry otherwise (a JSON object of at most LIST_MAX_ITEMS trading symbols or underlyings, each mapped to a
    number from 0.0001 to 99999999.9999 with at most 4 decimal places)."""
    if not isinstance(value, dict) or len(value) > LIST_MAX_ITEMS:
        raise ValidationError(
            f'must be an object of at most {LIST_MAX_ITEMS} symbols, e.g. {{"NIFTY": "2"}}',
            code="invalid_symbol_multipliers",
        )
    found: dict[str, str] = {}
    for raw_key, raw_value in value.items():
        key = str(raw_key).upper()
        if not key or len(key) > SYMBOL_MAX_LENGTH or not SYMBOL_KEY.match(key):
            raise ValidationError(
                f"{str(raw_key)[:SYMBOL_MAX_LENGTH]!r} is not a trading symbol or underlying "
                f"(1 to {SYMBOL_MAX_LENGTH} of A-Z, 0-9, & . _ -)",
                code="invalid_symbol_multipliers",
            )
        if key in found:
            raise ValidationError(f"{key} is given twice", code="invalid_symbol_multipliers")
        found[key] = _multiplier_text(key, raw_value)
    return found


def _multiplier_text(key: str, raw: object) -> str:
    problem = (
        f"{key}: the multiplier must be a number from {MULTIPLIER_MIN} to {MULTIPLIER_MAX} "
        "with at most 4 decimal places"
    )
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str, Decimal)):
        raise ValidationError(problem, code="invalid_symbol_multipliers")
    try:
        number = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ValidationError(problem, code="invalid_symbol_multipliers") from None
    if (
        not number.is_finite()
        or not MULTIPLIER_MIN <= number <= MULTIPLIER_MAX
        or number != number.quantize(Decimal("0.0001"))
    ):
        raise ValidationError(problem, code="invalid_symbol_multipliers")
    return format(number.normalize(), "f")


def validate_symbol_multipliers(value: object) -> None:
    """The model's check: the stored value must already be in normalized form."""
    if symbol_multipliers_normalized(value) != value:
        raise ValidationError(
            "symbols must be upper case and multipliers decimal strings", code="invalid_symbol_multipliers"
        )
