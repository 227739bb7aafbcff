"""The one effective session state (Asia/Kolkata day), and what the replication engine may call with."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from accounts.models import BrokerCredential
from accounts.selectors import broker_calls_allowed, session_ready_today, session_state

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # 15:00 IST
TODAY_IST = datetime(2026, 3, 1, 18, 31, tzinfo=UTC)  # 00:01 IST on 2 March
YESTERDAY_IST = datetime(2026, 3, 1, 18, 29, tzinfo=UTC)  # 23:59 IST on 1 March


def _credential(status: str, verified: datetime | None = None, token: str | None = None) -> BrokerCredential:
    token = "session-token-1" if token is None else token
    return BrokerCredential(session_status=status, last_verified_at=verified, access_token=token)


@pytest.mark.parametrize(
    ("status", "verified", "expected"),
    [
        ("VALID", TODAY_IST, "VALID"),
        ("VALID", YESTERDAY_IST, "UNVERIFIED"),
        ("VALID", None, "UNVERIFIED"),
        ("UNVERIFIED", None, "UNVERIFIED"),
        ("UNVERIFIED", TODAY_IST, "UNVERIFIED"),
        ("EXPIRED", TODAY_IST, "EXPIRED"),
        ("MISSING", None, "MISSING"),
    ],
)
def test_session_state(status, verified, expected):
    # when
    state = session_state(_credential(status, verified), now=NOW)
    # then
    assert state == expected
    assert session_ready_today(_credential(status, verified), now=NOW) is (expected == "VALID")


def test_no_credential_is_missing():
    assert session_state(None, now=NOW) == "MISSING"
    assert broker_calls_allowed(None) is False


@pytest.mark.parametrize(
    ("status", "token", "allowed"),
    [
        ("VALID", "t", True),
        ("UNVERIFIED", "t", True),
        ("EXPIRED", "t", False),
        ("MISSING", "t", False),
        ("VALID", "", False),
        ("UNVERIFIED", "", False),
    ],
)
def test_broker_calls_allowed(status, token, allowed):
    assert broker_calls_allowed(_credential(status, None, token)) is allowed


def test_a_session_id_alone_is_a_token():
    # given
    credential = BrokerCredential(session_status="VALID", access_token="", broker_session_id="sid-1")
    # when / then
    assert credential.has_session_token
    assert broker_calls_allowed(credential)
