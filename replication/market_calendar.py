"""The NSE calendar in IST, as pure functions (no Django, no I/O): trading days and the copy window's clock.

Holidays come from the `holidays` library's National Stock Exchange of India calendar (`XNSE`); the operator
adds days the library does not know (an unscheduled closure) or special sessions on a closed day (Muhurat
trading on a Sunday) in MasterSettings, passed in here as `extra_closed` / `extra_open`.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, time
from functools import cache
from zoneinfo import ZoneInfo

import holidays

IST = ZoneInfo("Asia/Kolkata")
MARKET_OPEN = time(9, 15)
MARKET_CLOSE = time(15, 30)
CLOSED_BY_OPERATOR = "closed by the operator"


@cache
def _nse_holidays(year: int) -> dict[date, str]:
    return dict(holidays.financial_holidays("XNSE", years=year).items())


def holiday_name(day: date) -> str:
    """The NSE holiday on `day` ("" when there is none)."""
    return _nse_holidays(day.year).get(day, "")


def closed_reason(
    day: date, *, extra_closed: Collection[date] = (), extra_open: Collection[date] = ()
) -> str:
    """Why `day` is not an NSE trading day (the holiday's name, the weekday, ...), "" when it is one.

    An operator's special session (`extra_open`) wins over everything; an operator's closure over the rest.
    """
    if day in extra_open:
        return ""
    if day in extra_closed:
        return CLOSED_BY_OPERATOR
    name = holiday_name(day)
    if name:
        return name
    if day.weekday() >= 5:
        return day.strftime("%A")
    return ""


def is_trading_day(
    day: date, *, extra_closed: Collection[date] = (), extra_open: Collection[date] = ()
) -> bool:
    return not closed_reason(day, extra_closed=extra_closed, extra_open=extra_open)


def ist(moment: datetime) -> datetime:
    """An aware moment in IST (a naive one is refused: its zone would be a guess)."""
    if moment.tzinfo is None:
        raise ValueError("an aware datetime is required")
    return moment.astimezone(IST)


def in_window(moment: datetime, *, start: time, end: time) -> bool:
    """Whether `moment` (aware) falls inside [start, end] IST, both ends included, to the second; an end
    before the start is an overnight window (from start to midnight and from midnight to end)."""
    clock = ist(moment).time().replace(microsecond=0)
    if start <= end:
        return start <= clock <= end
    return clock >= start or clock <= end
