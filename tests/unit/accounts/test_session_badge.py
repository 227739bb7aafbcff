"""The "ready for today" rule (Asia/Kolkata calendar day), without a database."""

from __future__ import annotations

from datetime import UTC, datetime

from accounts.models import BrokerCredential
from accounts.selectors import session_ready_today


def _credential(status: str, verified: datetime | None) -> BrokerCredential:
    return BrokerCredential(session_status=status, last_verified_at=verified)


def test_ready_when_valid_and_verified_today_in_kolkata():
    # given: verified at 08:45 IST, now 15:00 IST the same day
    verified = datetime(2026, 3, 2, 3, 15, tzinfo=UTC)
    now = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    # when / then
    assert session_ready_today(_credential("VALID", verified), now=now)


def test_not_ready_when_verified_yesterday_in_kolkata_even_if_same_utc_day():
    # given: 18:00 UTC is 23:30 IST; 19:00 UTC is already the next IST day
    verified = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
    now = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)
    # when / then
    assert not session_ready_today(_credential("VALID", verified), now=now)


def test_not_ready_when_expired_unverified_or_missing():
    now = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert not session_ready_today(_credential("EXPIRED", now), now=now)
    assert not session_ready_today(_credential("VALID", None), now=now)
    assert not session_ready_today(None, now=now)
