"""Capital sizing and per-symbol multipliers (replication.risk): ratio, floor, lot rounding, factor, unknown
or zero capitals, caps after capital sizing, overrides by trading symbol then underlying, and modify."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from copytrade.core.rupees import format_rupees
from replication import risk
from replication.risk import FollowerRules, GlobalLimits, TradeIntent, evaluate_entry_static, size_quantity

LIMITS = GlobalLimits(max_quantity_per_trade=None)
NIFTY_CE = TradeIntent(
    symbol="NIFTY24DEC24000CE",
    side="BUY",
    quantity=750,
    trading_symbol="NIFTY24DEC24000CE",
    underlying="NIFTY",
    lot_size=75,
    master_capital=Decimal("1000000"),
)
CAPITAL_RULES = FollowerRules(sizing_mode=risk.CAPITAL, capital=Decimal("200000"), max_quantity=100_000)


def decide(trade=NIFTY_CE, rules=CAPITAL_RULES, limits=LIMITS) -> risk.Decision:
    return evaluate_entry_static(trade=trade, rules=rules, limits=limits)


# ---------------------------------------------------------------- capital sizing
def test_capital_sizing_scales_by_the_capital_ratio_and_says_how():
    # when 2,00,000 / 10,00,000 of 750 NIFTY (lot 75)
    decision = decide()
    # then
    assert decision.quantity == 150
    assert decision.notes == ("Capital 2,00,000 / 10,00,000 × 1 = 0.2× of 750 (lot 75) -> 150",)


def test_capital_sizing_floors_then_rounds_down_to_the_lot():
    # given 3,00,000 / 10,00,000 of 750 = 225 (3 lots), and of 700 = 210 -> 150 (2 lots)
    # when
    exact = decide(rules=replace(CAPITAL_RULES, capital=Decimal("300000")))
    rounded = decide(
        trade=replace(NIFTY_CE, quantity=700), rules=replace(CAPITAL_RULES, capital=Decimal("300000"))
    )
    uneven = size_quantity(
        master_quantity=100,
        rules=replace(CAPITAL_RULES, capital=Decimal("1")),
        limits=LIMITS,
        lot_size=1,
        master_capital=Decimal("3"),
    )
    # then
    assert exact.quantity == 225
    assert rounded.quantity == 150
    assert uneven.quantity == 33  # 33.33 floored
    assert uneven.notes == ("Capital 1 / 3 × 1 = 0.3333× of 100 (lot 1) -> 33",)


def test_capital_sizing_applies_the_multiplier_as_factor():
    # when
    decision = decide(rules=replace(CAPITAL_RULES, lot_multiplier=Decimal("1.5")))
    # then 750 x 0.2 x 1.5 = 225
    assert decision.quantity == 225
    assert decision.notes[0].startswith("Capital 2,00,000 / 10,00,000 × 1.5 = 0.3×")


@pytest.mark.parametrize(
    ("master_capital", "follower_capital", "reason"),
    [
        (None, Decimal("200000"), risk.REASON_MASTER_CAPITAL_UNKNOWN),
        (Decimal("0"), Decimal("200000"), risk.REASON_MASTER_CAPITAL_ZERO),
        (Decimal("-5"), Decimal("200000"), risk.REASON_MASTER_CAPITAL_ZERO),
        (Decimal("1000000"), None, risk.REASON_FOLLOWER_CAPITAL_UNKNOWN),
    ],
)
def test_unknown_or_zero_capital_skips_with_its_reason(master_capital, follower_capital, reason):
    # when
    decision = decide(
        trade=replace(NIFTY_CE, master_capital=master_capital),
        rules=replace(CAPITAL_RULES, capital=follower_capital),
    )
    # then
    assert decision.skipped
    assert decision.reason == reason
    assert decision.quantity == 0


def test_a_follower_capital_of_zero_sizes_to_nothing_with_the_zero_reason():
    # when
    decision = decide(rules=replace(CAPITAL_RULES, capital=Decimal("0")))
    # then
    assert decision.reason == (
        "Quantity becomes 0 after capital sizing: Capital 0 / 10,00,000 × 1 = 0× of 750 (lot 75)"
    )


def test_capital_below_one_lot_is_the_zero_reason():
    # given 50,000 / 10,00,000 of 750 = 37.5 -> below a lot of 75
    # when
    decision = decide(rules=replace(CAPITAL_RULES, capital=Decimal("50000")))
    # then
    assert decision.skipped
    assert decision.reason.startswith("Quantity becomes 0 after capital sizing: Capital 50,000 / 10,00,000")


def test_caps_apply_after_capital_sizing():
    # given the capital ratio gives 750 x 2 = 1,500
    rules = replace(CAPITAL_RULES, capital=Decimal("2000000"), max_quantity=1000)
    # when
    capped = decide(rules=rules)
    per_trade = decide(
        rules=replace(rules, max_quantity=100_000), limits=GlobalLimits(max_quantity_per_trade=300)
    )
    # then rounded down to whole lots of 75
    assert capped.quantity == 975
    assert capped.notes[-1] == "Capped to max_quantity: 975"
    assert per_trade.quantity == 300
    assert per_trade.notes[-1] == "Capped to max_quantity_per_trade: 300"


def test_capital_mode_needs_capitals_only_when_the_follower_would_reach_sizing():
    assert risk.needs_capital(CAPITAL_RULES, LIMITS)
    assert not risk.needs_capital(FollowerRules(), LIMITS)
    assert not risk.needs_capital(replace(CAPITAL_RULES, consent_given=False), LIMITS)
    assert not risk.needs_capital(replace(CAPITAL_RULES, session_status="EXPIRED"), LIMITS)
    assert not risk.needs_capital(CAPITAL_RULES, replace(LIMITS, copying_stopped=True))


# ---------------------------------------------------------------- per-symbol multipliers
OVERRIDES = {"NIFTY": Decimal("2"), "NIFTY24DEC24000CE": Decimal("3"), "RELIANCE-EQ": Decimal("0.5")}
MULTIPLIER_RULES = FollowerRules(max_quantity=100_000, symbol_multipliers=OVERRIDES)


def test_the_exact_trading_symbol_wins_over_the_underlying():
    # when
    exact = decide(rules=MULTIPLIER_RULES)
    by_underlying = decide(
        trade=replace(NIFTY_CE, symbol="NIFTY24DEC24100CE", trading_symbol="NIFTY24DEC24100CE"),
        rules=MULTIPLIER_RULES,
    )
    # then
    assert exact.quantity == 2250
    assert exact.notes == ("Multiplier for NIFTY24DEC24000CE: 3",)
    assert by_underlying.quantity == 1500
    assert by_underlying.notes == ("Multiplier for NIFTY: 2",)


def test_a_symbol_without_override_keeps_the_lot_multiplier():
    # given
    sbin = TradeIntent(symbol="SBIN", side="BUY", quantity=100, trading_symbol="SBIN-EQ", underlying="SBIN")
    # when
    decision = decide(trade=sbin, rules=replace(MULTIPLIER_RULES, lot_multiplier=Decimal("1.5")))
    # then
    assert decision.quantity == 150
    assert decision.notes == ()


def test_an_override_that_lands_at_zero_gives_the_zero_reason_naming_it():
    # given RELIANCE-EQ at 0.5 of 1
    reliance = TradeIntent(
        symbol="RELIANCE", side="BUY", quantity=1, trading_symbol="RELIANCE-EQ", underlying="RELIANCE"
    )
    # when
    decision = decide(trade=reliance, rules=MULTIPLIER_RULES)
    # then
    assert decision.reason == "Quantity becomes 0 after multiplier: 0.5 (for RELIANCE-EQ)"


def test_an_override_is_the_factor_of_capital_sizing():
    # when
    decision = decide(rules=replace(CAPITAL_RULES, symbol_multipliers={"NIFTY": Decimal("2")}))
    # then 750 x 0.2 x 2 = 300
    assert decision.quantity == 300
    assert decision.notes == (
        "Multiplier for NIFTY: 2",
        "Capital 2,00,000 / 10,00,000 × 2 = 0.4× of 750 (lot 75) -> 300",
    )


def test_fixed_quantity_ignores_overrides():
    # when
    decision = decide(rules=replace(MULTIPLIER_RULES, sizing_mode=risk.FIXED_QTY, fixed_quantity=75))
    # then
    assert decision.quantity == 75
    assert decision.notes == ()


# ---------------------------------------------------------------- modify, formatting
def test_a_modified_quantity_is_rescaled_by_capital_and_override():
    # given
    rules = replace(CAPITAL_RULES, symbol_multipliers={"NIFTY": Decimal("2")})
    # when
    scaled = risk.scale_modified_quantity(
        master_quantity=1500,
        rules=rules,
        limits=LIMITS,
        lot_size=75,
        trading_symbol="NIFTY24DEC24000CE",
        underlying="NIFTY",
        master_capital=Decimal("1000000"),
    )
    unknown = risk.scale_modified_quantity(
        master_quantity=1500, rules=rules, limits=LIMITS, lot_size=75, master_capital=None
    )
    # then
    assert scaled == 600
    assert unknown == 0
    assert risk.capital_unknown_reason(rules=rules, master_capital=None) == risk.REASON_MASTER_CAPITAL_UNKNOWN


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("0", "0"),
        ("999", "999"),
        ("1000", "1,000"),
        ("200000", "2,00,000"),
        ("1000000.00", "10,00,000"),
        ("123456789.5", "12,34,56,789.5"),
        ("-25000", "-25,000"),
    ],
)
def test_rupees_print_in_the_indian_grouping(value, text):
    assert format_rupees(Decimal(value)) == text
