"""Notification texts and dedupe keys, the pure part: short, in IST, one key per occurrence (the same event
again has the same key; a new occurrence a new one), and nothing but what they are given."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.conf import settings

from replication import notify_messages as m

# 03:46:05 UTC = 09:16:05 IST
AT = datetime(2026, 3, 2, 3, 46, 5, tzinfo=UTC)


def _problem(**fields) -> m.OrderProblem:
    values = {
        "mapping_pk": 7,
        "account_id": "TEST-USER-1",
        "master_order_id": "M-1",
        "leg": "ENTRY",
        "side": "BUY",
        "quantity": 100,
        "symbol": "SBIN-EQ",
        "status": "FAILED",
        "reason": "Alice Blue API error: RMS margin exceeded",
        "created_at": AT,
    }
    return m.OrderProblem(**{**values, **fields})


def test_a_failed_order_names_the_follower_the_order_and_the_reason_in_ist():
    # when
    notice = m.order_problem(_problem())
    # then
    assert notice.event == "ORDER_FAILED"
    assert notice.subject == "TEST-USER-1: order FAILED (BUY 100 SBIN-EQ)"
    assert notice.body.splitlines() == [
        "Follower TEST-USER-1, entry of master order M-1: BUY 100 SBIN-EQ, FAILED (entry time 09:16:05 IST).",
        "Reason: Alice Blue API error: RMS margin exceeded",
        "Not placed at Alice Blue; see the dashboard's Needs attention.",
    ]


def test_an_order_keeps_its_key_until_it_is_tried_again_and_failed_and_unknown_differ():
    # given
    first = m.order_problem(_problem())
    # when
    again = m.order_problem(_problem(reason="changed text"))
    retried = m.order_problem(_problem(created_at=AT + timedelta(minutes=5)))
    unknown = m.order_problem(_problem(status="UNKNOWN"))
    # then
    assert first.dedupe_key == again.dedupe_key == f"order-failed:7:{int(AT.timestamp())}"
    assert retried.dedupe_key != first.dedupe_key
    assert unknown.event == "ORDER_UNKNOWN"
    assert unknown.dedupe_key.startswith("order-unknown:7:")
    assert "being reconciled by its order tag" in unknown.body


def test_readiness_lists_each_follower_for_the_operator_and_tells_a_follower_only_about_itself():
    # given
    rows = [
        m.NotReady(account_id="F-1", reasons=("no consent",)),
        m.NotReady(account_id="F-2", reasons=("session expired today: log in with Alice Blue", "disabled")),
    ]
    day = date(2026, 3, 2)
    # when
    operator = m.readiness_operator(day=day, not_ready=rows, followers=5, master_problem="")
    mine = m.readiness_follower(day=day, row=rows[0])
    # then
    assert operator.subject == "2 of 5 followers not ready for the open (02 Mar 2026)"
    assert operator.body.splitlines()[1:] == [
        "- F-1: no consent",
        "- F-2: session expired today: log in with Alice Blue; disabled",
    ]
    assert operator.dedupe_key == mine.dedupe_key == "readiness:2026-03-02"
    assert mine.subject == "F-1: not ready for the open (02 Mar 2026)"
    assert "F-2" not in mine.body


def test_loss_limit_and_liquidation_are_once_a_day_per_follower_in_ist():
    # given 20:00 UTC is already the next day in IST
    late = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)
    # when
    hit = m.loss_limit(
        follower_pk=3, account_id="F-3", breach="Daily loss ₹10 reached max", auto_liquidate=False, at=AT
    )
    next_day = m.loss_limit(follower_pk=3, account_id="F-3", breach="x", auto_liquidate=True, at=late)
    gone = m.liquidated(
        follower_pk=3, account_id="F-3", reason="r", stopped=True, exited=["M-1", "M-2"], at=AT
    )
    # then
    assert hit.dedupe_key == "loss-limit:3:2026-03-02"
    assert next_day.dedupe_key == "loss-limit:3:2026-03-03"
    assert "auto-liquidation is off" in hit.body
    assert gone.dedupe_key == "auto-liquidated:3:2026-03-02"
    assert "Copy trading stopped; exiting copies of master orders: M-1, M-2." in gone.body


def test_capture_down_and_back_share_the_outage_and_the_kill_switch_keys_its_toggle():
    # given an outage since AT
    now = AT + timedelta(minutes=3)
    # when
    down = m.capture_down(since=AT, now=now, detail="The poll fails.")
    back = m.capture_back(since=AT, now=now)
    on = m.kill_switch(on=True, actor="admin:ops", reason="outage", at=AT, since=AT)
    off = m.kill_switch(on=False, actor="admin:ops", reason="", at=now, since=AT)
    # then
    assert down.subject == "Master capture down for 3 min"
    assert "since 09:16:05 IST (02 Mar 2026)" in down.body
    assert (down.dedupe_key, back.dedupe_key) == (
        f"capture-down:{int(AT.timestamp())}",
        f"capture-back:{int(AT.timestamp())}",
    )
    assert on.body.startswith("Copying stopped at 09:16:05 IST by admin:ops: outage.")
    assert on.dedupe_key != off.dedupe_key
    assert off.subject == "Kill switch OFF: copying resumed"


def test_market_time_zone_is_the_one_messages_use():
    assert str(m.IST) == settings.MARKET_TIME_ZONE


def test_the_readiness_report_runs_after_the_session_check_and_before_the_open_on_weekdays():
    # given
    check = settings.CELERY_BEAT_SCHEDULE["session-check-before-market-open"]["schedule"]
    entry = settings.CELERY_BEAT_SCHEDULE["notify-readiness-before-open"]
    report = entry["schedule"]
    # then 08:50 IST (03:20 UTC), five minutes after the 08:45 IST check, Monday to Friday
    assert entry["task"] == "replication.notify_readiness"
    assert (report.hour, report.minute) == ({3}, {20})
    assert (check.hour, check.minute) == ({3}, {15})
    assert report.day_of_week == {1, 2, 3, 4, 5}
    assert settings.CELERY_BEAT_SCHEDULE["notify-scan"]["task"] == "replication.notify_scan"
