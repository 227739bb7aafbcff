"""When "capture down" may be told: inside NOTIFY_CAPTURE_WINDOW on NSE trading days (the copy window's
calendar, the operator's extra closed and trading days included)."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from accounts.models import MasterSettings
from replication.market_calendar import IST
from replication.services.notify_events import _in_capture_window

pytestmark = pytest.mark.django_db

A_TUESDAY = date(2026, 12, 1)
CHRISTMAS = date(2026, 12, 25)  # a Friday, an NSE holiday
A_SUNDAY = date(2026, 12, 6)


def at(day: date, clock: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(clock), tzinfo=IST)


@pytest.fixture(autouse=True)
def _window(settings):
    settings.NOTIFY_CAPTURE_WINDOW = "09:00-15:30"


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (at(A_TUESDAY, "09:00"), True),
        (at(A_TUESDAY, "15:30"), True),
        (at(A_TUESDAY, "08:59"), False),
        (at(A_TUESDAY, "15:31"), False),
        (at(CHRISTMAS, "10:00"), False),
        (at(A_SUNDAY, "10:00"), False),
    ],
)
def test_the_capture_window_is_the_clock_on_nse_trading_days(moment, inside):
    # given the default window and no settings row
    # when / then
    assert _in_capture_window(moment) is inside


def test_the_operators_extra_days_move_the_capture_window():
    # given a closure on a Tuesday and a special session on a Sunday
    MasterSettings.objects.update_or_create(
        pk=MasterSettings.SINGLETON_ID,
        defaults={"extra_closed_days": [A_TUESDAY.isoformat()], "extra_trading_days": [A_SUNDAY.isoformat()]},
    )
    # when / then
    assert _in_capture_window(at(A_TUESDAY, "10:00")) is False
    assert _in_capture_window(at(A_SUNDAY, "10:00")) is True


def test_an_empty_capture_window_is_always_open(settings):
    # given
    settings.NOTIFY_CAPTURE_WINDOW = ""
    # when / then
    assert _in_capture_window(at(CHRISTMAS, "23:00")) is True
