"""Per-symbol multipliers as the model stores them: upper-case symbols to exact decimal strings, bounded."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from accounts.models import RiskConfig
from accounts.validators import symbol_multipliers_normalized

FIELD = RiskConfig._meta.get_field("symbol_multipliers")


def test_values_are_normalized_to_upper_case_symbols_and_exact_decimal_strings():
    # when
    normalized = symbol_multipliers_normalized(
        {"nifty": 2, "RELIANCE-EQ": "0.50", "M&M-EQ": Decimal("1.2500")}
    )
    # then
    assert normalized == {"NIFTY": "2", "RELIANCE-EQ": "0.5", "M&M-EQ": "1.25"}
    FIELD.run_validators(normalized)


@pytest.mark.parametrize(
    "value",
    [
        ["NIFTY"],
        {"NIFTY": 0},
        {"NIFTY": "-1"},
        {"NIFTY": "1e9"},
        {"NIFTY": "0.00001"},
        {"NIFTY": True},
        {"NIFTY": None},
        {"NIFTY": "nan"},
        {"NIFTY 50": 1},
        {"": 1},
        {"N" * 65: 1},
        {"nifty": 1, "NIFTY": 2},
        {f"S{n}": 1 for n in range(501)},
    ],
)
def test_bad_values_are_refused(value):
    with pytest.raises(ValidationError):
        symbol_multipliers_normalized(value)


def test_the_model_refuses_a_value_not_in_normalized_form():
    with pytest.raises(ValidationError):
        FIELD.run_validators({"nifty": "2"})
    with pytest.raises(ValidationError):
        FIELD.run_validators({"NIFTY": 2})
