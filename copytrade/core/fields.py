"""Strict, bounded DRF input fields shared by the APIs: what a column and the market allow, and nothing else.

DRF's own fields are lenient (a CharField takes the number 5, a BooleanField takes "yes" and 0, an optional
field sent empty in a query string counts as absent). These accept exactly what their OpenAPI schema states,
and state it: the API is fuzzed against its schema, in both directions (valid data accepted, invalid data
refused).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from copytrade.core.exceptions import SEED_MESSAGE

MAX_QUANTITY = 10_000_000
MAX_PRICE = Decimal("100000000")  # exclusive: prices are below 10^8 rupees

# Printable ASCII without spaces: order ids, account ids, Alice Blue user ids, symbols, tokens and keys (what
# an HTTP header, a URL and a log line carry safely).
IDENTIFIER_CHARS = "[!-~]"
# Free text (names, references): anything but control characters (C0, DEL, C1).
TEXT_PATTERN = r"^[^\u0000-\u001F\u007F-\u009F]*$"
_TEXT = re.compile(TEXT_PATTERN)
# The same, with at least one visible character (not only spaces): whitespace spelt out as JavaScript's \s
# has it, so the schema's pattern and this check agree on every character.
_SPACE = "\\u0020\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000\\uFEFF"
_CONTROL = "\\u0000-\\u001F\\u007F-\\u009F"
VISIBLE_TEXT_PATTERN = f"^[^{_CONTROL}]*[^{_CONTROL}{_SPACE}][^{_CONTROL}]*$"
_VISIBLE_TEXT = re.compile(VISIBLE_TEXT_PATTERN)


def annotate(field: serializers.Field, schema: dict[str, Any]) -> None:
    """State `field`'s OpenAPI schema (drf-spectacular reads it) and keep it as `field.openapi_schema`.

    Done in each field's __init__, so it survives DRF's deep copy of declared fields (a copy is a new call).
    """
    field.openapi_schema = schema  # type: ignore[attr-defined]
    # extend_schema_field only sets an attribute on what it decorates; its hint accepts classes and callables.
    extend_schema_field(schema)(field)  # type: ignore[type-var]


class _StrictString(serializers.CharField):
    """A CharField taking only JSON strings, untrimmed, and an empty query parameter as empty, not absent."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        # "" is handled here, not by DRF's allow_blank: with it drf-spectacular would wrap the pattern in a
        # oneOf with an empty-string branch, which "" then matches twice (a schema that refuses "").
        self.blank_ok = kwargs.pop("allow_blank", False)
        super().__init__(**kwargs)

    def run_validation(self, data: Any = empty) -> Any:
        if data == "" and self.blank_ok:
            return ""
        return super().run_validation(data)

    def get_value(self, dictionary: Any) -> Any:
        value = super().get_value(dictionary)
        if value is empty and hasattr(dictionary, "getlist") and dictionary.get(self.field_name) == "":
            return ""  # `?name=` is a value the schema refuses, not a missing parameter
        return value

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class IdentifierField(_StrictString):
    """1..`max_length` characters of printable ASCII without spaces (or "" when `allow_blank`)."""

    default_error_messages = {"pattern": "Only printable ASCII characters without spaces."}

    def __init__(self, *, max_length: int, **kwargs: Any) -> None:
        super().__init__(max_length=max_length, **kwargs)
        quantifier = "*" if self.blank_ok else "+"
        self.pattern = f"^{IDENTIFIER_CHARS}{quantifier}$"
        self._regex = re.compile(self.pattern)
        schema: dict[str, Any] = {"type": "string", "pattern": self.pattern, "maxLength": max_length}
        if not self.blank_ok:
            schema["minLength"] = 1
        annotate(self, schema)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not self._regex.match(value):
            self.fail("pattern")
        return value


class TextField(_StrictString):
    """Free text up to `max_length` characters without control characters; with `visible`, not only spaces."""

    default_error_messages = {
        "control": "Control characters are not allowed.",
        "invisible": "Must contain a visible character, not only spaces.",
    }

    def __init__(self, *, max_length: int, visible: bool = False, **kwargs: Any) -> None:
        super().__init__(max_length=max_length, **kwargs)
        self.visible = visible
        pattern = VISIBLE_TEXT_PATTERN if visible else TEXT_PATTERN
        schema: dict[str, Any] = {"type": "string", "pattern": pattern, "maxLength": max_length}
        if not self.blank_ok:
            schema["minLength"] = 1
        annotate(self, schema)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not _TEXT.match(value):
            self.fail("control")
        if self.visible and not _VISIBLE_TEXT.match(value):
            self.fail("invisible")
        return value


@extend_schema_field({"type": "boolean"})
class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only (DRF's takes "yes", "on", 1, 0...)."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer within [min_value, max_value] (booleans, strings and fractions refused)."""

    def __init__(self, *, min_value: int, max_value: int, **kwargs: Any) -> None:
        super().__init__(min_value=min_value, max_value=max_value, **kwargs)
        annotate(self, {"type": "integer", "minimum": min_value, "maximum": max_value})

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        if isinstance(data, float) and (not math.isfinite(data) or not data.is_integer()):
            self.fail("invalid")
        return super().to_internal_value(int(data))


class QuantityField(StrictIntegerField):
    """A quantity in units: 1..10,000,000."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=1, max_value=MAX_QUANTITY, **kwargs)


def decimal_text_pattern(*, min_value: Decimal, max_value: Decimal, places: int) -> str:
    """The exact regular expression of the decimal strings in [min_value, max_value] with at most `places`
    decimals, for the bounds these fields use: min 0 or one step (10^-places); max all nines (10^d - step)
    or a power of ten (10^d)."""
    step = Decimal(1).scaleb(-places)
    digits = len(str(int(max_value)))
    power = max_value == Decimal(10) ** (digits - 1) and digits > 1
    if power:
        digits -= 1
    elif max_value != Decimal(10) ** digits - step:
        raise ValueError(f"unsupported maximum {max_value}")
    if min_value not in (Decimal(0), step):
        raise ValueError(f"unsupported minimum {min_value}")
    fraction = f"(?:\\.[0-9]{{1,{places}}})?" if places else ""
    alternatives = []
    if min_value == 0:
        alternatives.append(f"(?:0|[1-9][0-9]{{0,{digits - 1}}}){fraction}")
    else:
        alternatives.append(f"[1-9][0-9]{{0,{digits - 1}}}{fraction}")
        alternatives += [f"0\\.0{{{zeros}}}[1-9][0-9]{{0,{places - zeros - 1}}}" for zeros in range(places)]
    if power:
        alternatives.append(f"1{'0' * digits}" + (f"(?:\\.0{{1,{places}}})?" if places else ""))
    return "^(?:" + "|".join(alternatives) + ")$"


class DecimalInputField(serializers.Field):
    """A decimal in [min_value, max_value] with at most `places` decimals, as a Decimal.

    Given as a plain decimal string ("500.50"), it is taken exactly: more decimals are refused. Given as a
    JSON number (a binary float, which holds 500.1 only approximately), it is rounded to `places` decimals
    (half to even), which is how any float becomes an amount of money.
    """

    openapi_schema: dict[str, Any]
    default_error_messages = {
        "invalid": 'A number, or a decimal string like "500.50", is required.',
        "range": "Must be between {low} and {high}.",
        "places": "At most {places} decimal places are allowed.",
    }

    def __init__(
        self, *, places: int, min_value: Decimal, max_value: Decimal, description: str = "", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.places, self.min_value, self.max_value = places, min_value, max_value
        self.text = re.compile(decimal_text_pattern(min_value=min_value, max_value=max_value, places=places))
        number: dict[str, Any] = {"type": "number", "minimum": float(min_value), "maximum": float(max_value)}
        schema: dict[str, Any] = {"oneOf": [number, {"type": "string", "pattern": self.text.pattern}]}
        if self.allow_null:
            schema["nullable"] = True
        detail = (
            f"Between {min_value} and {max_value}: a decimal string with at most {places} decimals, or a "
            f"number (rounded to {places} decimals)."
        )
        schema["description"] = f"{description} {detail}".strip()
        annotate(self, schema)

    def to_internal_value(self, data: Any) -> Decimal | None:
        step = Decimal(1).scaleb(-self.places)
        if isinstance(data, str):
            if not self.text.match(data):
                if re.fullmatch(r"[0-9]+\.[0-9]+", data):
                    self.fail("places", places=self.places)
                self.fail("invalid")
            number = Decimal(data)
        elif isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        else:
            try:
                number = Decimal(repr(data)) if isinstance(data, float) else Decimal(data)
            except (InvalidOperation, ValueError):
                self.fail("invalid")
            if not number.is_finite():
                self.fail("invalid")
            if self.min_value <= number <= self.max_value:
                number = number.quantize(step)
        if not self.min_value <= number <= self.max_value:
            self.fail("range", low=self.min_value, high=self.max_value)
        return number.quantize(step)

    def to_representation(self, value: Any) -> Any:
        return None if value is None else str(value)


class PriceField(DecimalInputField):
    """A price in rupees below 10^8 with at most 2 decimals; 0 (or null) means "no price", the seed's rule.

    With `positive`, a price must be given and above 0 (a modification).
    """

    def __init__(self, *, positive: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", not positive)
        low = Decimal("0.01") if positive else Decimal("0")
        description = "Rupees." if positive else "Rupees; 0 or null means no price (as for a MARKET order)."
        super().__init__(
            places=2, min_value=low, max_value=MAX_PRICE - Decimal("0.01"), description=description, **kwargs
        )

    def to_internal_value(self, data: Any) -> Decimal | None:
        return super().to_internal_value(data) or None


class ExactChoiceField(serializers.ChoiceField):
    """One of the choices, exactly (a JSON string; the schema's enum), never echoing a long input back."""

    default_error_messages = {"invalid_choice": "Must be one of {choices} (got {input})."}

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str) or data not in self.choice_strings_to_values:
            shown = repr(data)[:40] if isinstance(data, str) else type(data).__name__
            self.fail("invalid_choice", choices=", ".join(map(str, self.choices)), input=shown)
        return self.choice_strings_to_values[data]


def case_insensitive_pattern(choices: Iterable[str], aliases: dict[str, str]) -> str:
    def letters(word: str) -> str:
        return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in word)

    words = [*choices, *aliases]
    return "^(?:" + "|".join(letters(word) for word in words) + ")$"


class CaseInsensitiveChoiceField(serializers.Field):
    """One of `choices` in any letter case (the seed accepted "sell"), normalised to upper case; `aliases`
    maps other spellings (e.g. "SL-M") onto a choice. The schema states exactly that, as a pattern."""

    default_error_messages = {"invalid_choice": "Must be one of {choices} (got {input})."}

    def __init__(
        self,
        *,
        choices: Iterable[str],
        aliases: dict[str, str] | None = None,
        message: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.choices = tuple(choice.upper() for choice in choices)
        self.aliases = {key.upper(): value for key, value in (aliases or {}).items()}
        self.message = message
        super().__init__(**kwargs)
        pattern = case_insensitive_pattern(self.choices, self.aliases)
        description = f"One of {', '.join(self.choices)} (any letter case)."
        schema = {"type": "string", "pattern": pattern, "description": description}
        # The decorator only sets an attribute, so it works on an instance; its hint admits callables only.
        annotate(self, schema)

    def get_value(self, dictionary: Any) -> Any:
        value = super().get_value(dictionary)
        if value is empty and hasattr(dictionary, "getlist") and dictionary.get(self.field_name) == "":
            return ""
        return value

    def to_internal_value(self, data: Any) -> str:
        text = data.strip().upper() if isinstance(data, str) and data == data.strip() else None
        if text is not None:
            text = self.aliases.get(text, text)
        if text not in self.choices:
            if self.message:
                raise serializers.ValidationError(self.message, code=SEED_MESSAGE)
            shown = repr(data)[:40] if isinstance(data, str) else type(data).__name__
            self.fail("invalid_choice", choices=", ".join(self.choices), input=shown)
        return text

    def to_representation(self, value: Any) -> str:
        return str(value)


CLOCK_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"
_CLOCK = re.compile(CLOCK_PATTERN)


class ClockField(serializers.TimeField):
    """A wall-clock time of day, HH:MM or HH:MM:SS (no zone: the market's, IST); answered as HH:MM:SS."""

    default_error_messages = {"invalid": "Must be a time of day HH:MM or HH:MM:SS (IST)."}

    def __init__(self, *, example: str = "09:15", **kwargs: Any) -> None:
        super().__init__(format="%H:%M:%S", **kwargs)
        annotate(self, {"type": "string", "pattern": CLOCK_PATTERN, "example": example})

    def to_internal_value(self, value: Any) -> Any:
        if not isinstance(value, str) or not _CLOCK.fullmatch(value):
            self.fail("invalid")
        return super().to_internal_value(value)


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class DayField(serializers.DateField):
    """A calendar day as YYYY-MM-DD in ASCII digits only (the schema's format: date); answered the same."""

    default_error_messages = {"invalid": "Must be a date YYYY-MM-DD."}

    def to_internal_value(self, value: Any) -> Any:
        if not isinstance(value, str) or not _DAY.fullmatch(value):
            self.fail("invalid")
        return super().to_internal_value(value)
