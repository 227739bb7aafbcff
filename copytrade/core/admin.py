"""Admin: the heartbeat row (read-only), and django-celery-beat's schedules with their times in IST beside the
zone each schedule runs in (beat's crontabs are stored in UTC)."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone
from django_celery_beat import admin as beat_admin  # type: ignore[import-untyped]
from django_celery_beat.models import (  # type: ignore[import-untyped]
    ClockedSchedule,
    CrontabSchedule,
    PeriodicTask,
)

from copytrade.core.admin_display import (
    TIME_ZONE_LABEL,
    ReadOnlyAdmin,
    TimesInIstMixin,
    admin_time_zone,
    local_time,
    time_column,
)
from copytrade.core.models import Heartbeat


@admin.register(Heartbeat)
class HeartbeatAdmin(ReadOnlyAdmin):
    list_display = ("name", time_column("last_seen", "Last seen"), "hostname")
    readonly_fields = ("name", "last_seen", "hostname")


def crontab_in_ist(crontab: CrontabSchedule) -> str:
    """When a crontab fires, in IST: "08:45 IST, mon-fri" for a daily time; "" for other patterns."""
    zone, ist = crontab.timezone, admin_time_zone()
    if not isinstance(zone, tzinfo):
        zone = ZoneInfo(str(zone))
    if not (crontab.minute.isdigit() and crontab.hour.isdigit()):
        return ""
    today = timezone.now().astimezone(zone).date()
    fires = datetime(today.year, today.month, today.day, int(crontab.hour), int(crontab.minute), tzinfo=zone)
    local = fires.astimezone(ist)
    shift = (local.date() - fires.date()).days
    days = crontab.day_of_week if crontab.day_of_week != "*" else "every day"
    if shift:
        days = f"{days}, {'the day after' if shift > 0 else 'the day before'} in {zone}"
    return f"{local:%H:%M} {TIME_ZONE_LABEL}, {days}"


def _crontab_text(crontab: CrontabSchedule) -> str:
    ist = crontab_in_ist(crontab)
    return f"{ist} ({crontab.human_readable})" if ist else str(crontab.human_readable)


admin.site.unregister(PeriodicTask)
admin.site.unregister(CrontabSchedule)
admin.site.unregister(ClockedSchedule)


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(TimesInIstMixin, beat_admin.PeriodicTaskAdmin):
    """django-celery-beat's tasks, each schedule shown with its own zone and, for a crontab, in IST."""

    list_display = ("name", "enabled", "schedule", time_column("last_run_at", "Last run"), "one_off")

    @admin.display(description="Schedule")
    def schedule(self, obj: PeriodicTask) -> str:
        if obj.crontab is not None:
            return _crontab_text(obj.crontab)
        if obj.clocked is not None:
            return f"once at {local_time(obj.clocked.clocked_time)} {TIME_ZONE_LABEL}"
        return str(obj.interval or obj.solar or "—")

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> Any:
        response = super().changeform_view(request, object_id, form_url, extra_context)
        # The form's "Translation" line under the crontab field: the crontab in its zone and in IST.
        readable = getattr(response, "context_data", {}).get("readable_crontabs")
        if readable is not None:
            for crontab in CrontabSchedule.objects.filter(pk__in=list(readable)):
                readable[crontab.pk] = _crontab_text(crontab)
        return response


@admin.register(CrontabSchedule)
class CrontabScheduleAdmin(TimesInIstMixin, beat_admin.CrontabScheduleAdmin):
    list_display = ("__str__", "human_readable", "in_ist")

    @admin.display(description=f"In {TIME_ZONE_LABEL}")
    def in_ist(self, obj: CrontabSchedule) -> str:
        return crontab_in_ist(obj) or "—"


@admin.register(ClockedSchedule)
class ClockedScheduleAdmin(TimesInIstMixin, beat_admin.ClockedScheduleAdmin):
    list_display = (time_column("clocked_time", "Runs at"),)
