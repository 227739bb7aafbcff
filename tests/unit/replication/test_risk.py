"""Entry rules and sizing (replication.risk): order, reason strings, lot sizes, caps, value, daily loss."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

import pytest

from replication import risk
from replication.risk import (
    FollowerRules,
    GlobalLimits,
    TradeIntent,
    entry_switch_reason,
    evaluate_entry,
    evaluate_entry_static,
    size_quantity,
)

SBIN = TradeIntent(symbol="SBIN", side="BUY", quantity=100, trading_symbol="SBIN-EQ", price=Decimal("800"))
RULES = FollowerRules()
LIMITS = GlobalLimits()


def decide(trade=SBIN, rules=RULES, limits=LIMITS, **kwargs) -> risk.Decision:
    return evaluate_entry(trade=trade, rules=rules, limits=limits, **kwargs)


# ---------------------------------------------------------------- rule order and reason strings
def test_default_rules_copy_the_master_quantity():
    # when
    decision = decide()
    # then
    assert decision == risk.Decision(quantity=100)
    assert not decision.skipped


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"copy_trading_active": False}, "Copy trading disabled for this follower"),
        ({"consent_given": False}, "Follower has not given consent"),
        ({"enabled": False}, "Account is disabled"),
        ({"session_status": "EXPIRED"}, "Broker session expired for this follower"),
        ({"session_status": "MISSING"}, "No broker session for this follower"),
        ({"allowed_instruments": ("RELIANCE",)}, "Symbol SBIN not in allowed instruments"),
        ({"allowed_order_types": ("LIMIT",)}, "Order type MARKET not allowed"),
        ({"allowed_product_types": ("CNC",)}, "Product type MIS not allowed"),
        ({"lot_multiplier": Decimal("0.001")}, "Quantity becomes 0 after multiplier: 0.001"),
        ({"max_order_value": Decimal("10000")}, "Order value ₹80000 exceeds max: ₹10000.00"),
    ],
)
def test_each_rule_skips_with_the_seed_reason(change, reason):
    # when
    decision = decide(rules=replace(RULES, **change))
    # then
    assert decision.skipped
    assert decision.reason == reason
    assert decision.quantity == 0


def test_rules_apply_in_the_seed_order_first_failure_wins():
    # given every rule failing at once
    everything_wrong = replace(
        RULES,
        copy_trading_active=False,
        consent_given=False,
        enabled=False,
        session_status="EXPIRED",
        allowed_instruments=("X",),
        allowed_order_types=("X",),
        allowed_product_types=("X",),
        lot_multiplier=Decimal("0.001"),
        max_order_value=Decimal("1"),
        max_daily_loss=Decimal("1"),
    )
    expected = [
        ("copy_trading_active", True, "Copy trading disabled for this follower"),
        ("consent_given", True, "Follower has not given consent"),
        ("enabled", True, "Account is disabled"),
        ("session_status", "VALID", "Broker session expired for this follower"),
        ("allowed_instruments", (), "Symbol SBIN not in allowed instruments"),
        ("allowed_order_types", (), "Order type MARKET not allowed"),
        ("allowed_product_types", (), "Product type MIS not allowed"),
        ("lot_multiplier", Decimal("1"), "Quantity becomes 0 after multiplier: 0.001"),
        ("max_order_value", None, "Order value ₹80000 exceeds max: ₹1.00"),
        ("max_daily_loss", None, "Daily loss ₹5000 reached max: ₹1.00"),
    ]
    rules = everything_wrong
    for name, fixed_value, reason in expected:
        # when
        decision = decide(rules=rules, pnl_today=Decimal("-5000"))
        # then the earliest failing rule is reported; fixing it reveals the next
        assert decision.reason == reason
        rules = replace(rules, **{name: fixed_value})
    assert not decide(rules=rules, pnl_today=Decimal("-5000")).skipped


def test_consent_is_not_required_when_the_setting_is_off():
    # when
    decision = decide(
        rules=replace(RULES, consent_given=False), limits=replace(LIMITS, require_consent=False)
    )
    # then
    assert decision.quantity == 100


@pytest.mark.parametrize("allowed", [("sbin",), ("SBIN-EQ",), (" Sbin ",), ("RELIANCE", "SBIN")])
def test_instrument_lists_are_case_insensitive_and_accept_the_trading_symbol(allowed):
    assert not decide(rules=replace(RULES, allowed_instruments=allowed)).skipped


def test_order_and_product_type_lists_are_case_insensitive():
    # given
    trade = replace(SBIN, order_type="limit", product_type="cnc")
    rules = replace(RULES, allowed_order_types=("Limit",), allowed_product_types=("cnc",))
    # then
    assert not decide(trade=trade, rules=rules).skipped


def test_empty_type_lists_allow_everything():
    # given
    trade = replace(SBIN, order_type="SLM", product_type="NRML")
    # then
    assert not decide(
        trade=trade, rules=replace(RULES, allowed_order_types=(), allowed_product_types=())
    ).skipped


# ---------------------------------------------------------------- sizing
def size(master_quantity=100, lot_size=1, rules=RULES, limits=LIMITS) -> risk.Sizing:
    return size_quantity(master_quantity=master_quantity, rules=rules, limits=limits, lot_size=lot_size)


@pytest.mark.parametrize(
    ("multiplier", "master", "expected"),
    [
        ("0.5", 100, 50),  # the seed's example
        ("1", 100, 100),
        ("0.33", 10, 3),  # floor, never round up
        ("0.99", 1, 0),
        ("0.5", 1, 0),
        ("0.1", 99, 9),
    ],
)
def test_multiplier_floors_the_scaled_quantity(multiplier, master, expected):
    assert size(master, rules=replace(RULES, lot_multiplier=Decimal(multiplier))).quantity == expected


def test_multiplier_above_one_scales_up_within_the_cap():
    assert size(40, rules=replace(RULES, lot_multiplier=Decimal("2.5"))).quantity == 100


@pytest.mark.parametrize(
    ("master", "multiplier", "lot", "expected"),
    [
        (750, "1", 750, 750),
        (1500, "0.5", 750, 750),
        (750, "0.5", 750, 0),  # half a lot rounds down to nothing
        (2250, "0.5", 750, 750),  # 1125 -> one lot
        (100, "1", 25, 100),
        (110, "1", 25, 100),
    ],
)
def test_quantity_is_rounded_down_to_the_lot_size(master, multiplier, lot, expected):
    # given
    rules = replace(RULES, lot_multiplier=Decimal(multiplier), max_quantity=100_000)
    # when
    sizing = size(master, lot_size=lot, rules=rules)
    # then
    assert sizing.quantity == expected
    assert sizing.quantity % lot == 0


def test_half_a_lot_is_skipped_with_the_multiplier_reason():
    # given
    trade = TradeIntent(symbol="SBIN26NOVFUT", side="BUY", quantity=750, lot_size=750)
    # when
    decision = decide(trade=trade, rules=replace(RULES, lot_multiplier=Decimal("0.50"), max_quantity=10_000))
    # then
    assert decision.reason == "Quantity becomes 0 after multiplier: 0.5"


def test_fixed_quantity_ignores_the_master_quantity():
    # given
    rules = replace(RULES, sizing_mode=risk.FIXED_QTY, fixed_quantity=7)
    # then
    assert size(1, rules=rules).quantity == 7
    assert size(5000, rules=rules).quantity == 7


def test_fixed_quantity_is_rounded_to_the_lot_and_skipped_below_one_lot():
    # given
    rules = replace(RULES, sizing_mode=risk.FIXED_QTY, fixed_quantity=100, max_quantity=10_000)
    # then
    assert size(lot_size=75, rules=rules).quantity == 75
    decision = decide(trade=replace(SBIN, lot_size=750), rules=rules)
    assert decision.reason == "Fixed quantity 100 is below the lot size 750"


def test_max_quantity_caps_and_says_so():
    # when
    sizing = size(500, rules=replace(RULES, max_quantity=120))
    # then
    assert sizing.quantity == 120
    assert sizing.notes == ("Capped to max_quantity: 120",)


def test_cap_is_rounded_down_to_the_lot_size():
    # when
    sizing = size(1000, lot_size=75, rules=replace(RULES, max_quantity=100))
    # then
    assert sizing.quantity == 75
    assert "Capped to max_quantity: 75" in sizing.notes


def test_master_settings_cap_applies_after_the_follower_cap():
    # when
    sizing = size(
        5000, rules=replace(RULES, max_quantity=3000), limits=replace(LIMITS, max_quantity_per_trade=1000)
    )
    # then
    assert sizing.quantity == 1000
    assert sizing.notes == ("Capped to max_quantity: 3000", "Capped to max_quantity_per_trade: 1000")


@pytest.mark.parametrize("max_quantity", [None, 0])
def test_missing_or_zero_max_quantity_means_the_seed_default_of_100(max_quantity):
    assert size(500, rules=replace(RULES, max_quantity=max_quantity)).quantity == 100


def test_cap_below_one_lot_skips_with_a_cap_reason():
    # when
    decision = decide(trade=replace(SBIN, lot_size=75), rules=replace(RULES, max_quantity=50))
    # then
    assert decision.reason == "Quantity becomes 0 after cap max_quantity: 50 (lot size 75)"


def test_min_lot_size_from_master_settings_skips_smaller_orders():
    # when
    decision = decide(trade=replace(SBIN, quantity=3), limits=replace(LIMITS, min_lot_size=5))
    # then
    assert decision.reason == "Quantity 3 is below the minimum lot size 5"


def test_decision_carries_the_cap_note():
    assert decide(rules=replace(RULES, max_quantity=10)).notes == ("Capped to max_quantity: 10",)


# ---------------------------------------------------------------- order value
def test_order_value_uses_the_follower_quantity_not_the_master_quantity():
    # given 100 x 800 = 80,000 for the master, 50 x 800 = 40,000 for this follower
    rules = replace(RULES, lot_multiplier=Decimal("0.5"), max_order_value=Decimal("50000"))
    # then
    assert decide(rules=rules).quantity == 50


def test_order_value_at_the_limit_is_allowed_and_above_is_skipped():
    # given
    at_limit = replace(RULES, max_order_value=Decimal("80000"))
    # then
    assert not decide(rules=at_limit).skipped
    assert decide(rules=replace(at_limit, max_order_value=Decimal("79999.99"))).reason == (
        "Order value ₹80000 exceeds max: ₹79999.99"
    )


def test_market_order_without_price_is_valued_at_the_reference_price():
    # given
    trade = replace(SBIN, price=None)
    rules = replace(RULES, max_order_value=Decimal("1000"))
    # then
    assert decide(trade=trade, rules=rules, reference_price=Decimal("12.5")).reason == (
        "Order value ₹1250 exceeds max: ₹1000.00"
    )
    assert decide(trade=trade, rules=rules, reference_price=Decimal("5")).quantity == 100


def test_order_value_limit_without_any_price_skips_instead_of_passing_silently():
    # given a market order with no price and no reference price
    trade = replace(SBIN, price=None)
    # then a follower with a value limit is skipped; one without a limit is not affected
    assert decide(trade=trade, rules=replace(RULES, max_order_value=Decimal("1000"))).reason == (
        "Order value could not be checked: no price given for the order"
    )
    assert decide(trade=trade, rules=RULES).quantity == 100


def test_order_value_prints_fractional_values_like_the_seed():
    # given
    trade = replace(SBIN, quantity=3, price=Decimal("100.50"))
    # then
    assert decide(trade=trade, rules=replace(RULES, max_order_value=Decimal("300"))).reason == (
        "Order value ₹301.5 exceeds max: ₹300.00"
    )


# ---------------------------------------------------------------- daily loss
@dataclass(frozen=True)
class Pos:
    realised_pnl: Decimal = Decimal("0")
    unrealised_pnl: Decimal | None = None
    last_price: Decimal | None = None
    net_quantity: int = 0
    net_average: Decimal = Decimal("0")


def test_day_pnl_adds_realised_and_unrealised():
    # given
    positions = [Pos(Decimal("-300"), Decimal("-200")), Pos(Decimal("100"), None)]
    # then
    assert risk.day_pnl(positions) == Decimal("-400")


def test_day_pnl_computes_unrealised_from_the_last_price_when_the_broker_omits_it():
    # given long 10 at 100, now 90; short 5 at 50, now 60
    positions = [
        Pos(net_quantity=10, net_average=Decimal("100"), last_price=Decimal("90")),
        Pos(net_quantity=-5, net_average=Decimal("50"), last_price=Decimal("60")),
    ]
    # then
    assert risk.day_pnl(positions) == Decimal("-150")


def test_day_pnl_of_no_positions_is_zero():
    assert risk.day_pnl([]) == Decimal("0")


@pytest.mark.parametrize(
    ("pnl", "skipped"),
    [("-4999.99", False), ("-5000", True), ("-7000", True), ("2000", False), ("0", False)],
)
def test_daily_loss_at_or_beyond_the_limit_skips(pnl, skipped):
    # given
    rules = replace(RULES, max_daily_loss=Decimal("5000"))
    # when
    decision = decide(rules=rules, pnl_today=Decimal(pnl))
    # then
    assert decision.skipped is skipped
    if skipped:
        assert decision.reason.startswith("Daily loss ₹")
        assert decision.reason.endswith("reached max: ₹5000.00")


def test_daily_loss_unknown_is_a_skip_not_a_guess():
    # when
    decision = decide(rules=replace(RULES, max_daily_loss=Decimal("5000")), pnl_today=None)
    # then
    assert decision.reason == "Daily loss could not be checked: positions unavailable"


def test_daily_loss_rule_needs_positions_only_when_set():
    assert risk.needs_positions(replace(RULES, max_daily_loss=Decimal("1")))
    assert not risk.needs_positions(RULES)


# ---------------------------------------------------------------- modify, formatting
def test_modified_quantity_is_rescaled_like_an_entry():
    # given
    rules = replace(RULES, lot_multiplier=Decimal("0.5"))
    # then
    assert risk.scale_modified_quantity(master_quantity=60, rules=rules, limits=LIMITS, lot_size=1) == 30
    assert risk.scale_modified_quantity(master_quantity=1, rules=rules, limits=LIMITS, lot_size=1) == 0


@pytest.mark.parametrize(
    ("value", "text"),
    [("0.50", "0.5"), ("1.0000", "1"), ("25000", "25000"), ("2500.50", "2500.5"), ("1E+3", "1000")],
)
def test_format_number_prints_like_javascript(value, text):
    assert risk.format_number(Decimal(value)) == text


# ---------------------------------------------------------------- MasterSettings: loss % of capital
PERCENT = replace(LIMITS, max_daily_loss_percentage=Decimal("5.00"))
CAPITAL = Decimal("100000")


@pytest.mark.parametrize(
    ("pnl", "skipped"),
    [
        ("-4999.99", False),  # just under 5% of 100,000
        ("-5000", True),  # at the limit
        ("-5000.01", True),
        ("-60000", True),
        ("0", False),
        ("12000", False),  # a profit never trips a loss rule
    ],
)
def test_loss_at_or_beyond_the_percentage_of_opening_cash_skips(pnl, skipped):
    # when
    decision = decide(limits=PERCENT, pnl_today=Decimal(pnl), opening_cash=CAPITAL)
    # then
    assert decision.skipped is skipped
    assert decision.quantity == (0 if skipped else 100)


def test_percentage_rule_reason_names_loss_percentage_and_capital():
    # when
    decision = decide(limits=PERCENT, pnl_today=Decimal("-5250.5"), opening_cash=Decimal("100000"))
    # then
    assert decision.reason == "Daily loss ₹5250.5 reached 5.00% of capital ₹100000.00"


def test_percentage_rule_prints_a_fractional_percentage_with_two_decimals():
    # given
    limits = replace(LIMITS, max_daily_loss_percentage=Decimal("2.5"))
    # when
    decision = decide(limits=limits, pnl_today=Decimal("-300"), opening_cash=Decimal("12000"))
    # then 2.5% of 12,000 is 300
    assert decision.reason == "Daily loss ₹300 reached 2.50% of capital ₹12000.00"


@pytest.mark.parametrize("percentage", [None, Decimal("0")])
def test_percentage_rule_is_off_when_unset_or_zero(percentage):
    # given
    limits = replace(LIMITS, max_daily_loss_percentage=percentage)
    # when a huge loss and no capital known
    decision = decide(limits=limits, pnl_today=Decimal("-99999999"), opening_cash=None)
    # then nothing is read or checked
    assert not decision.skipped
    assert not risk.needs_opening_cash(limits)
    assert not risk.needs_positions(RULES, limits)


def test_percentage_rule_needs_positions_and_opening_cash():
    assert risk.needs_positions(RULES, PERCENT)
    assert risk.needs_opening_cash(PERCENT)


def test_percentage_rule_with_positions_unreadable_skips():
    # when
    decision = decide(limits=PERCENT, pnl_today=None, opening_cash=CAPITAL)
    # then
    assert decision.reason == "Daily loss could not be checked: positions unavailable"


def test_percentage_rule_with_funds_unreadable_skips():
    # when
    decision = decide(limits=PERCENT, pnl_today=Decimal("-10"), opening_cash=None)
    # then
    assert decision.reason == "Daily loss could not be checked: funds unavailable"


def test_follower_limit_is_still_reported_when_funds_are_unreadable():
    # given the follower's own limit is already breached
    rules = replace(RULES, max_daily_loss=Decimal("1000"))
    # when
    decision = decide(rules=rules, limits=PERCENT, pnl_today=Decimal("-1500"), opening_cash=None)
    # then
    assert decision.reason == "Daily loss ₹1500 reached max: ₹1000.00"


def test_zero_capital_blocks_a_loss_but_not_a_flat_day():
    # then
    assert not decide(limits=PERCENT, pnl_today=Decimal("0"), opening_cash=Decimal("0")).skipped
    assert decide(limits=PERCENT, pnl_today=Decimal("-1"), opening_cash=Decimal("0")).reason == (
        "Daily loss ₹1 reached 5.00% of capital ₹0.00"
    )


def test_follower_max_daily_loss_comes_before_the_percentage_rule():
    # given both limits breached
    rules = replace(RULES, max_daily_loss=Decimal("2000"))
    # when
    decision = decide(rules=rules, limits=PERCENT, pnl_today=Decimal("-6000"), opening_cash=CAPITAL)
    # then
    assert decision.reason == "Daily loss ₹6000 reached max: ₹2000.00"


def test_percentage_rule_applies_when_the_follower_limit_is_not_reached():
    # given a follower limit above 5% of capital
    rules = replace(RULES, max_daily_loss=Decimal("20000"))
    # when
    decision = decide(rules=rules, limits=PERCENT, pnl_today=Decimal("-6000"), opening_cash=CAPITAL)
    # then
    assert decision.reason == "Daily loss ₹6000 reached 5.00% of capital ₹100000.00"


# ---------------------------------------------------------------- MasterSettings: concurrent trades
CONCURRENT = replace(LIMITS, max_concurrent_trades=10)


@pytest.mark.parametrize(("open_trades", "skipped"), [(0, False), (9, False), (10, True), (11, True)])
def test_open_trades_at_or_beyond_max_concurrent_trades_skip(open_trades, skipped):
    # when
    decision = decide(limits=CONCURRENT, open_trades=open_trades)
    # then
    assert decision.skipped is skipped
    if skipped:
        assert decision.reason == "Max concurrent trades reached: 10"


@pytest.mark.parametrize("cap", [None, 0])
def test_max_concurrent_trades_unset_or_zero_means_no_limit(cap):
    assert not decide(limits=replace(LIMITS, max_concurrent_trades=cap), open_trades=500).skipped


def test_concurrent_trades_needs_no_broker_read():
    assert not risk.needs_positions(RULES, CONCURRENT)


def test_loss_rules_come_before_concurrent_trades():
    # given every account-state rule failing
    limits = replace(PERCENT, max_concurrent_trades=1)
    rules = replace(RULES, max_daily_loss=Decimal("100"))
    state = {"pnl_today": Decimal("-9000"), "opening_cash": CAPITAL, "open_trades": 5}
    # then the follower limit, then the percentage, then concurrency
    assert decide(rules=rules, limits=limits, **state).reason == "Daily loss ₹9000 reached max: ₹100.00"
    assert decide(limits=limits, **state).reason == "Daily loss ₹9000 reached 5.00% of capital ₹100000.00"
    assert decide(limits=limits, **{**state, "pnl_today": Decimal("0")}).reason == (
        "Max concurrent trades reached: 1"
    )


def test_static_rules_come_before_every_account_state_rule():
    # given everything about the account beyond every limit
    limits = replace(PERCENT, max_concurrent_trades=1)
    rules = replace(RULES, max_order_value=Decimal("1"), max_daily_loss=Decimal("1"))
    # when
    decision = decide(rules=rules, limits=limits, pnl_today=None, opening_cash=None, open_trades=99)
    # then
    assert decision.reason == "Order value ₹80000 exceeds max: ₹1.00"


def test_static_evaluation_stops_before_the_account_state_rules():
    # given a follower that would be loss-limited
    limits = replace(PERCENT, max_concurrent_trades=1)
    # when
    decision = risk.evaluate_entry_static(trade=SBIN, rules=RULES, limits=limits)
    # then
    assert decision == risk.Decision(quantity=100)


def test_account_state_skip_keeps_the_sizing_notes():
    # when
    decision = decide(rules=replace(RULES, max_quantity=10), limits=CONCURRENT, open_trades=10)
    # then
    assert decision.reason == "Max concurrent trades reached: 10"
    assert decision.notes == ("Capped to max_quantity: 10",)


# ---------------------------------------------------------------- breach (auto-liquidation trigger)
@pytest.mark.parametrize(
    ("rules", "limits", "pnl", "capital", "reason"),
    [
        (RULES, LIMITS, "-1000000", CAPITAL, ""),  # no limit set
        (
            replace(RULES, max_daily_loss=Decimal("500")),
            LIMITS,
            "-500",
            None,
            "Daily loss ₹500 reached max: ₹500.00",
        ),
        (replace(RULES, max_daily_loss=Decimal("500")), LIMITS, "-499", None, ""),
        (RULES, PERCENT, "-5000", CAPITAL, "Daily loss ₹5000 reached 5.00% of capital ₹100000.00"),
        (RULES, PERCENT, "-4999", CAPITAL, ""),
        (RULES, PERCENT, "-5000", None, ""),  # capital unknown: never liquidate on a guess
        (replace(RULES, max_daily_loss=Decimal("1")), PERCENT, None, CAPITAL, ""),  # P&L unknown
    ],
)
def test_loss_limit_breach_only_on_known_figures(rules, limits, pnl, capital, reason):
    # when
    breach = risk.loss_limit_breach(
        rules=rules, limits=limits, pnl_today=Decimal(pnl) if pnl else None, opening_cash=capital
    )
    # then
    assert breach == reason


def test_pnl_parts_splits_realised_and_unrealised():
    # given
    positions = [
        Pos(Decimal("-300"), Decimal("-200")),
        Pos(Decimal("100"), None, net_quantity=10, net_average=Decimal("100"), last_price=Decimal("95")),
    ]
    # then
    assert risk.pnl_parts(positions) == (Decimal("-200"), Decimal("-250"))
    assert risk.day_pnl(positions) == Decimal("-450")


def test_the_kill_switch_skips_every_entry_first():
    # given a follower that would otherwise copy
    rules = FollowerRules()
    # when the operator's kill switch is on
    decision = evaluate_entry_static(
        trade=TradeIntent(symbol="SBIN", side="BUY", quantity=10),
        rules=rules,
        limits=GlobalLimits(copying_stopped=True),
    )
    # then
    assert decision.reason == "Copying stopped by the kill switch"
    assert entry_switch_reason(rules=rules, limits=GlobalLimits(copying_stopped=True)) == decision.reason
