"""The NSE calendar (replication.market_calendar), the copy window and the price guard (replication.risk)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest

from replication import market_calendar, risk
from replication.market_calendar import IST
from replication.risk import FollowerRules, GlobalLimits, TradeIntent

ON = GlobalLimits(enforce_copy_window=True)
RULES = FollowerRules()
SBIN = TradeIntent(symbol="SBIN", side="BUY", quantity=10, trading_symbol="SBIN-EQ", price=Decimal("800"))
LIMIT_SBIN = TradeIntent(
    symbol="SBIN", side="BUY", quantity=10, trading_symbol="SBIN-EQ", order_type="LIMIT", price=Decimal("800")
)
A_TUESDAY = date(2026, 12, 1)


def at(day: date, clock: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(clock), tzinfo=IST)


# ---------------------------------------------------------------- calendar
@pytest.mark.parametrize(
    ("day", "reason"),
    [
        (date(2026, 12, 25), "Christmas Day"),
        (date(2026, 1, 26), "Republic Day"),
        (date(2027, 3, 26), "Good Friday"),
        (date(2026, 12, 5), "Saturday"),
        (date(2026, 12, 6), "Sunday"),
        (A_TUESDAY, ""),
        (date(2027, 1, 4), ""),
    ],
)
def test_closed_reason_names_the_holiday_or_the_weekend(day, reason):
    # when
    found = market_calendar.closed_reason(day)
    # then
    assert found == reason
    assert market_calendar.is_trading_day(day) is (reason == "")


def test_operator_days_override_the_calendar():
    # given a special session on a Sunday (Muhurat) and an unscheduled closure on a Tuesday
    muhurat, closure = date(2026, 11, 8), A_TUESDAY
    # when / then
    assert market_calendar.closed_reason(muhurat, extra_open=[muhurat]) == ""
    assert market_calendar.closed_reason(closure, extra_closed=[closure]) == "closed by the operator"


def test_a_naive_time_is_refused():
    with pytest.raises(ValueError, match="aware"):
        market_calendar.ist(datetime(2026, 12, 1, 10, 0))


# ---------------------------------------------------------------- copy window
@pytest.mark.parametrize(
    ("clock", "inside"),
    [("09:14:59", False), ("09:15:00", True), ("12:00:00", True), ("15:20:00", True), ("15:20:01", False)],
)
def test_window_edges_are_inclusive_to_the_second(clock, inside):
    # when
    reason = risk.copy_window_reason(now=at(A_TUESDAY, clock), rules=RULES, limits=ON)
    # then
    assert reason == ("" if inside else "Outside the copy window 09:15–15:20 IST")


def test_window_reads_the_time_in_ist_whatever_the_zone_given():
    # given 03:44:59 UTC = 09:14:59 IST and 03:45 UTC = 09:15 IST
    before = datetime(2026, 12, 1, 3, 44, 59, tzinfo=UTC)
    opening = datetime(2026, 12, 1, 3, 45, tzinfo=UTC)
    # then
    assert risk.copy_window_reason(now=before, rules=RULES, limits=ON)
    assert risk.copy_window_reason(now=opening, rules=RULES, limits=ON) == ""


def test_holiday_skips_with_its_name_before_the_window():
    # when
    decision = risk.evaluate_entry(trade=SBIN, rules=RULES, limits=ON, now=at(date(2026, 12, 25), "11:00"))
    # then
    assert decision.reason == "Not an NSE trading day: Christmas Day"


def test_follower_window_is_its_own():
    # given a follower that copies only in the afternoon
    rules = FollowerRules(window_start=time(13, 0), window_end=time(14, 30, 30))
    # when
    morning = risk.evaluate_entry(trade=SBIN, rules=rules, limits=ON, now=at(A_TUESDAY, "10:00"))
    afternoon = risk.evaluate_entry(trade=SBIN, rules=rules, limits=ON, now=at(A_TUESDAY, "14:00"))
    # then
    assert morning.reason == "Outside the copy window 13:00–14:30:30 IST"
    assert afternoon == risk.Decision(quantity=10)


@pytest.mark.parametrize(
    ("clock", "inside"), [("17:59:59", False), ("18:00", True), ("01:59", True), ("02:00:01", False)]
)
def test_an_end_before_the_start_is_an_overnight_window(clock, inside):
    # given a follower window 18:00-02:00 (a special evening session)
    rules = FollowerRules(window_start=time(18, 0), window_end=time(2, 0))
    # when
    reason = risk.copy_window_reason(now=at(A_TUESDAY, clock), rules=rules, limits=ON)
    # then
    assert reason == ("" if inside else "Outside the copy window 18:00–02:00 IST")


def test_window_off_copies_at_any_hour_and_needs_no_clock():
    # when
    decision = risk.evaluate_entry(trade=SBIN, rules=RULES, limits=GlobalLimits())
    # then
    assert decision == risk.Decision(quantity=10)


def test_window_on_without_a_clock_is_a_programming_error():
    with pytest.raises(ValueError, match="time of the fan-out"):
        risk.evaluate_entry(trade=SBIN, rules=RULES, limits=ON)


def test_window_comes_after_the_follower_switches_and_before_the_session():
    # given a stopped follower with an expired session, out of hours
    stopped = FollowerRules(copy_trading_active=False, session_status=risk.SESSION_EXPIRED)
    expired = FollowerRules(session_status=risk.SESSION_EXPIRED)
    night = at(A_TUESDAY, "22:00")
    # then
    assert risk.evaluate_entry(trade=SBIN, rules=stopped, limits=ON, now=night).reason == risk.REASON_STOPPED
    assert risk.evaluate_entry(trade=SBIN, rules=expired, limits=ON, now=night).reason.startswith("Outside")


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        (at(A_TUESDAY, "09:14:59"), "Outside NSE market hours 09:15–15:30 IST"),
        (at(A_TUESDAY, "15:25"), ""),
        (at(A_TUESDAY, "15:30:01"), "Outside NSE market hours 09:15–15:30 IST"),
        (at(date(2026, 12, 25), "11:00"), "Not an NSE trading day: Christmas Day"),
    ],
)
def test_market_closed_reason_for_capture(when, reason):
    # then
    assert risk.market_closed_reason(now=when, limits=ON) == reason
    assert risk.market_closed_reason(now=when, limits=GlobalLimits()) == ""


# ---------------------------------------------------------------- after-market orders
AMO = GlobalLimits(enforce_copy_window=True, allow_amo=True)


@pytest.mark.parametrize(
    ("when", "note"),
    [
        (
            at(A_TUESDAY, "20:00"),
            "Sent as AMO (after-market order): Outside NSE market hours 09:15–15:30 IST",
        ),
        (
            at(A_TUESDAY, "08:00"),
            "Sent as AMO (after-market order): Outside NSE market hours 09:15–15:30 IST",
        ),
        (
            at(date(2026, 12, 25), "11:00"),
            "Sent as AMO (after-market order): Not an NSE trading day: Christmas Day",
        ),
    ],
)
def test_amo_allowed_sends_entries_while_the_market_is_closed(when, note):
    # when
    decision = risk.evaluate_entry(trade=SBIN, rules=RULES, limits=AMO, now=when)
    # then
    assert (decision.quantity, decision.amo, decision.notes) == (10, True, (note,))


def test_amo_is_not_used_while_the_market_is_open_outside_the_window():
    # given 15:25: the market is open, the follower's window (to 15:20) is not
    decision = risk.evaluate_entry(trade=SBIN, rules=RULES, limits=AMO, now=at(A_TUESDAY, "15:25"))
    # then
    assert decision.reason == "Outside the copy window 09:15–15:20 IST"
    assert not decision.amo


def test_inside_the_window_an_entry_is_a_regular_order_even_with_amo_allowed():
    # when
    decision = risk.evaluate_entry(trade=SBIN, rules=RULES, limits=AMO, now=at(A_TUESDAY, "10:00"))
    # then
    assert decision == risk.Decision(quantity=10)


# ---------------------------------------------------------------- price guard
GUARDED = FollowerRules(price_guard_percent=Decimal("2"))
TO_MARKET = FollowerRules(price_guard_percent=Decimal("2"), price_guard_action=risk.GUARD_MARKET)


def test_deviation_is_a_percentage_of_the_last_price():
    # then
    assert risk.price_deviation_percent(price=Decimal("816"), last_price=Decimal("800")) == Decimal("2")
    assert risk.price_deviation_percent(price=Decimal("760"), last_price=Decimal("800")) == Decimal("5")


@pytest.mark.parametrize(
    ("last", "skipped"), [("800", False), ("784.32", False), ("784.31", True), ("900", True)]
)
def test_guard_skips_only_beyond_the_percentage(last, skipped):
    # when
    decision = risk.evaluate_entry(
        trade=LIMIT_SBIN, rules=GUARDED, limits=GlobalLimits(), last_price=Decimal(last)
    )
    # then
    assert decision.skipped is skipped


def test_guard_reason_gives_both_prices_and_the_percentage():
    # when
    decision = risk.evaluate_entry(
        trade=LIMIT_SBIN, rules=GUARDED, limits=GlobalLimits(), last_price=Decimal("1000")
    )
    # then
    assert decision.reason == (
        "Price guard: LIMIT price ₹800 is 20.00% from the last price ₹1000 (price guard 2%)"
    )


def test_guard_market_action_sends_market_with_a_note():
    # when
    decision = risk.evaluate_entry(
        trade=LIMIT_SBIN, rules=TO_MARKET, limits=GlobalLimits(), last_price=Decimal("1000")
    )
    # then
    assert decision.quantity == 10
    assert decision.order_type == "MARKET"
    assert decision.notes == (
        "Sent as MARKET: LIMIT price ₹800 is 20.00% from the last price ₹1000 (price guard 2%)",
    )


def test_guard_market_values_the_order_at_the_last_price():
    # given a follower with a max order value between the stale limit's value and the market's
    rules = FollowerRules(
        price_guard_percent=Decimal("2"),
        price_guard_action=risk.GUARD_MARKET,
        max_order_value=Decimal("9000"),
    )
    # when
    decision = risk.evaluate_entry(
        trade=LIMIT_SBIN, rules=rules, limits=GlobalLimits(), last_price=Decimal("1000")
    )
    # then
    assert decision.reason == "Order value ₹10000 exceeds max: ₹9000.00"


def test_guard_without_a_last_price_skips():
    # when
    decision = risk.evaluate_entry(trade=LIMIT_SBIN, rules=TO_MARKET, limits=GlobalLimits(), last_price=None)
    # then
    assert decision.reason == "Price guard could not be checked: no last price"


@pytest.mark.parametrize(
    "rules", [FollowerRules(), FollowerRules(price_guard_percent=Decimal("0"))], ids=["unset", "zero"]
)
def test_guard_off_or_market_entries_ignore_the_last_price(rules):
    # then
    assert risk.evaluate_entry(trade=LIMIT_SBIN, rules=rules, limits=GlobalLimits()).quantity == 10
    assert risk.evaluate_entry(trade=SBIN, rules=GUARDED, limits=GlobalLimits()).quantity == 10
    assert not risk.needs_last_price(SBIN, [GUARDED])
    assert risk.needs_last_price(LIMIT_SBIN, [rules, GUARDED])


def test_positions_expected_quantity_ignores_the_copy_window():
    # given the copy window rule on (the positions page has no fan-out time to check it against)
    from replication.panel_selectors import _scaled

    # when the master's net position is scaled for a follower
    expected = _scaled(10, "SBIN-EQ", "MIS", RULES, ON, (1, "SBIN"), None)

    # then it is sized as the follower's rules would copy it, not refused for want of a clock
    assert expected == 10
