"""The pre-market session check is scheduled at 08:45 Asia/Kolkata (03:15 UTC), Monday to Friday."""

from django.conf import settings


def test_session_check_runs_before_market_open_on_weekdays():
    # given
    entry = settings.CELERY_BEAT_SCHEDULE["session-check-before-market-open"]
    schedule = entry["schedule"]
    # when / then
    assert settings.CELERY_TIMEZONE == "UTC"
    assert entry["task"] == "accounts.tasks.session_check_task"
    assert schedule.hour == {3}
    assert schedule.minute == {15}
    assert schedule.day_of_week == {1, 2, 3, 4, 5}


def test_task_is_registered_under_its_scheduled_name():
    # given
    from accounts.tasks import session_check_task

    # when / then
    assert session_check_task.name == "accounts.tasks.session_check_task"
