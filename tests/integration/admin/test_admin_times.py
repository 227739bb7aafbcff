"""Every time the admin shows is IST (the database keeps UTC), and its pages say so."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from accounts.models import AuditEvent
from copytrade.core.admin import crontab_in_ist
from copytrade.core.models import Heartbeat
from tests.factories.replication import TradeEventFactory

pytestmark = pytest.mark.django_db

# 20:00 UTC on 31 January is 01:30 IST on 1 February: the date changes too.
UTC_TIME = datetime(2025, 1, 31, 20, 0, 5, tzinfo=UTC)


@pytest.fixture
def operator(client, django_user_model, otp_login):
    user = django_user_model.objects.create_superuser(username="ops", password="pw-ops-123", email="o@x.io")
    otp_login(client, user)
    return client


def _audit_event_at(when: datetime) -> AuditEvent:
    event = AuditEvent.objects.create(actor="admin:ops", action="account.created", target="TEST-USER-1")
    AuditEvent.objects.filter(pk=event.pk).update(created_at=when)
    return AuditEvent.objects.get(pk=event.pk)


def test_changelist_shows_a_row_created_at_a_known_utc_time_in_ist(operator):
    # given
    _audit_event_at(UTC_TIME)
    # when
    page = operator.get(reverse("admin:accounts_auditevent_changelist")).content.decode()
    # then
    assert "2025-02-01 01:30:05" in page
    assert "2025-01-31 20:00" not in page
    assert "When (IST)" in page
    assert "Times are IST (Asia/Kolkata, UTC+05:30)." in page


def test_date_hierarchy_groups_rows_by_their_ist_date(operator):
    # given: the one row's UTC date is 31 January, its IST date 1 February
    _audit_event_at(UTC_TIME)
    url = reverse("admin:accounts_auditevent_changelist")
    # when
    page = operator.get(url).content.decode()
    day = operator.get(url, {"created_at__year": 2025, "created_at__month": 2, "created_at__day": 1})
    other_day = operator.get(url, {"created_at__year": 2025, "created_at__month": 1, "created_at__day": 31})
    # then the hierarchy offers 1 February (on MySQL too, whose time zone tables may be empty)
    assert "created_at__day=1" in page
    assert "created_at__day=31" not in page
    assert [e.action for e in day.context["cl"].result_list] == ["account.created"]
    assert list(other_day.context["cl"].result_list) == []


def test_detail_page_and_title_show_ist(operator):
    # given
    event = _audit_event_at(UTC_TIME)
    # when
    page = operator.get(reverse("admin:accounts_auditevent_change", args=[event.pk])).content.decode()
    # then
    assert "account.created TEST-USER-1 by admin:ops at 2025-02-01 01:30:05 IST" in page
    assert "Feb. 1, 2025, 1:30 a.m." in page
    assert "Times are IST (Asia/Kolkata, UTC+05:30)." in page


def test_times_outside_the_admin_stay_utc():
    # given
    event = _audit_event_at(UTC_TIME)
    # when
    title = str(event)
    # then
    assert title.endswith("at 2025-01-31 20:00:05 UTC")


def test_today_rows_show_the_time_alone(operator):
    # given
    event = TradeEventFactory(master_order_id="M-TODAY-1")
    shown = timezone.localtime(event.processed_at, ZoneInfo("Asia/Kolkata"))
    # when
    page = operator.get(reverse("admin:replication_tradeevent_changelist")).content.decode()
    # then
    assert "Time (IST)" in page
    assert f">{shown:%H:%M:%S}</a>" in page
    assert f"{shown:%Y-%m-%d} {shown:%H:%M:%S}" not in page


def test_crontabs_and_periodic_tasks_say_their_zone_and_ist(operator):
    # given the session check's schedule, stored in UTC
    crontab = CrontabSchedule.objects.create(minute="15", hour="3", day_of_week="mon-fri", timezone="UTC")
    PeriodicTask.objects.create(
        name="session-check", task="accounts.tasks.session_check_task", crontab=crontab
    )
    # when
    tasks = operator.get(reverse("admin:django_celery_beat_periodictask_changelist")).content.decode()
    crontabs = operator.get(reverse("admin:django_celery_beat_crontabschedule_changelist")).content.decode()
    # then
    assert crontab_in_ist(crontab) == "08:45 IST, mon-fri"
    assert "08:45 IST, mon-fri (At 03:15 AM" in tasks
    assert "UTC)" in tasks
    assert "Last run (IST)" in tasks
    assert "(m/h/dM/MY/d) UTC" in crontabs
    assert "08:45 IST, mon-fri" in crontabs


def test_a_crontab_that_crosses_midnight_in_ist_says_so():
    # given 20:00 UTC, which is 01:30 IST the next day
    crontab = CrontabSchedule(minute="0", hour="20", day_of_week="mon-fri", timezone="UTC")
    # then
    assert crontab_in_ist(crontab) == "01:30 IST, mon-fri, the day after in UTC"


def test_heartbeat_title_and_column_in_ist(operator):
    # given
    beat = Heartbeat.objects.create(name="worker", last_seen=UTC_TIME)
    # when
    page = operator.get(reverse("admin:core_heartbeat_change", args=[beat.pk])).content.decode()
    # then
    assert "worker heartbeat at 2025-02-01 01:30:05 IST" in page
