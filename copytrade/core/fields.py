"""Bounded DRF input fields shared by the APIs: what a column and the market allow, and nothing else.

Each field states its bounds in the OpenAPI schema too (drf-spectacular), so the schema says exactly what is
accepted: the API is fuzzed against it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

MAX_QUANTITY = 10_000_000
MAX_PRICE = Decimal("100000000")  # exclusive: prices are below 10^8 rupees
PRICE_PLACES = 2


# Printable ASCII, no leading or trailing space: order ids, account ids, symbols, tags.
IDENTIFIER_PATTERN = r"^[!-~](?:[ -~]*[!-~])?$"


class IdentifierField(serializers.RegexField):
    """An identifier: a JSON string of printable ASCII without leading or trailing spaces (so no control
    characters, NUL or lone surrogates can reach the database or the log), 1..`max_length` characters."""

    def __init__(self, *, max_length: int, **kwargs: Any) -> None:
        kwargs.setdefault("error_messages", {})
        kwargs["error_messages"].setdefault(
            "invalid", "Only printable ASCII characters, without leading or trailing spaces."
        )
        super().__init__(
            IDENTIFIER_PATTERN, max_length=max_length, min_length=1, trim_whitespace=False, **kwargs
        )

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError("Expected a string.", code="invalid")
        return super().to_internal_value(data)


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_QUANTITY})
class QuantityField(serializers.IntegerField):
    """A JSON integer 1..10,000,000 (booleans, strings and fractions refused)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_QUANTITY)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        if isinstance(data, float) and (data != data or data in (float("inf"), float("-inf")) or data % 1):
            self.fail("invalid")
        return super().to_internal_value(int(data))


PRICE_TEXT = re.compile(r"^(?:0|[1-9][0-9]{0,7})(?:\.[0-9]{1,2})?$")


@extend_schema_field(
    {
        "oneOf": [
            {"type": "number", "minimum": 0, "maximum": 99999999.99},
            {"type": "string", "pattern": PRICE_TEXT.pattern},
        ],
        "nullable": True,
        "description": "Rupees below 10^8 with at most 2 decimal places, as a number or a decimal string; "
        "0 or null means no price (as for a MARKET order).",
    }
)
class PriceField(serializers.Field):
    """A price 0 <= x < 10^8 with at most 2 decimals (a JSON number, or a plain decimal string such as
    "500.50"), as a Decimal; 0 means "no price" (the seed's rule).

    A float a hair off two decimals (0.5700000000000001, how a binary float prints 57 * 0.01) is the number
    with two decimals it stands for; anything further off is refused.
    """

    default_error_messages = {
        "invalid": 'A number (or a decimal string like "500.50") is required.',
        "range": "Must be at least 0 and below 100000000.",
        "places": "At most 2 decimal places are allowed.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Decimal | None:
        if isinstance(data, str):
            if not PRICE_TEXT.match(data):
                self.fail("invalid")
            return Decimal(data) or None
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        try:
            number = Decimal(repr(data)) if isinstance(data, float) else Decimal(data)
        except (InvalidOperation, ValueError):
            self.fail("invalid")
        if not number.is_finite():
            self.fail("invalid")
        if number < 0 or number >= MAX_PRICE:
            self.fail("range")
        rounded = number.quantize(Decimal(1).scaleb(-PRICE_PLACES))
        if abs(rounded - number) > Decimal("1e-9"):
            self.fail("places")
        return rounded or None

    def to_representation(self, value: Any) -> Any:
        return None if value is None else str(value)


def _case_insensitive_pattern(choices: Iterable[str], aliases: dict[str, str]) -> str:
    def letters(word: str) -> str:
        return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in word)

    words = [*choices, *aliases]
    return "^(?:" + "|".join(letters(word) for word in words) + ")$"


class CaseInsensitiveChoiceField(serializers.Field):
    """One of `choices` in any letter case (the seed accepted "sell"), normalised to upper case; `aliases`
    maps other spellings (e.g. "SL-M") onto a choice. The schema states exactly that, as a pattern."""

    default_error_messages = {"invalid_choice": "Must be one of {choices} (got {input})."}

    def __init__(
        self, *, choices: Iterable[str], aliases: dict[str, str] | None = None, **kwargs: Any
    ) -> None:
        self.choices = tuple(choices)
        self.aliases = {key.upper(): value for key, value in (aliases or {}).items()}
        super().__init__(**kwargs)
        pattern = _case_insensitive_pattern(self.choices, self.aliases)
        description = f"One of {', '.join(self.choices)} (any letter case)."
        schema = {"type": "string", "pattern": pattern, "description": description}
        # The decorator only sets an attribute, so it works on an instance; its hint admits callables only.
        extend_schema_field(schema)(self)  # type: ignore[type-var]

    def to_internal_value(self, data: Any) -> str:
        text = data.strip().upper() if isinstance(data, str) else None
        if text is not None:
            text = self.aliases.get(text, text)
        if text not in self.choices:
            shown = repr(data)[:40] if isinstance(data, str) else type(data).__name__
            self.fail("invalid_choice", choices=", ".join(self.choices), input=shown)
        return text

    def to_representation(self, value: Any) -> str:
        return str(value)
