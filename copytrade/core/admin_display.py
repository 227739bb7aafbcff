"""How every app's admin shows times (in IST), long text and states (the admin's own SVG icons)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import admin
from django.db import connections
from django.db.models import DateTimeField, ExpressionWrapper, F, Model, QuerySet
from django.http import HttpRequest
from django.templatetags.static import static
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString

TIME_ZONE_LABEL = "IST"
TIMES_NOTE = "Times are IST (Asia/Kolkata, UTC+05:30)."
TIME_FORMAT = "Y-m-d H:i:s"
TODAY_FORMAT = "H:i:s"
# The admin's own icons (django.contrib.admin's static files): they render where an emoji font is missing.
ICONS = {"yes": "icon-yes.svg", "no": "icon-no.svg", "alert": "icon-alert.svg", "unknown": "icon-unknown.svg"}


def admin_time_zone() -> ZoneInfo:
    """The zone every admin page shows times in: the market's (IST)."""
    return ZoneInfo(settings.MARKET_TIME_ZONE)


def local_time(value: datetime | None) -> str:
    """`value` in the current time zone (IST on admin pages) as 2025-02-01 01:30:05, or "—"."""
    if value is None:
        return "—"
    return date_format(timezone.localtime(value), TIME_FORMAT)


def local_time_short(value: datetime | None) -> str:
    """Like local_time, but only the time for today's (the day trading happens on, so most rows are)."""
    if value is None:
        return "—"
    local = timezone.localtime(value)
    return date_format(local, TODAY_FORMAT if local.date() == timezone.localdate() else TIME_FORMAT)


def time_column(field: str, label: str) -> Callable[[Model], str]:
    """A changelist column showing `field` in IST (today's rows by their time alone), headed "<label> (IST)"
    and sortable by `field`."""

    @admin.display(description=f"{label} ({TIME_ZONE_LABEL})", ordering=field)
    def column(obj: Model) -> str:
        return local_time_short(getattr(obj, field))

    column.__name__ = f"{field}_{TIME_ZONE_LABEL.lower()}"
    return column


def truncated(text: str, length: int = 48) -> str:
    """`text` cut to `length` characters; the full text is the cell's tooltip (its title attribute)."""
    text = text or ""
    if len(text) <= length:
        return text or "—"
    return format_html('<span title="{}">{}…</span>', text, text[: length - 1].rstrip())


def icon(kind: str, text: str) -> SafeString:
    """The admin's `kind` icon (yes, no, alert, unknown) before `text`; `text` is also its alt text."""
    return format_html(
        '<img src="{}" alt="{}" width="13" height="13" style="vertical-align:-2px"> {}',
        static(f"admin/img/{ICONS[kind]}"),
        kind,
        text,
    )


def _fixed_offset(zone: tzinfo) -> timedelta | None:
    """The zone's UTC offset when it never changes (IST has had no daylight saving since 1945), else None."""
    winter = zone.utcoffset(datetime(2025, 1, 15))  # noqa: DTZ001 - probing the zone itself
    summer = zone.utcoffset(datetime(2025, 7, 15))  # noqa: DTZ001
    return winter if winter == summer else None


class LocalDatetimesQuerySet(QuerySet):
    """`datetimes()` in a fixed-offset zone on MySQL/MariaDB without their time zone tables.

    The date hierarchy asks for the years, months and days of its rows in the current zone; on MySQL Django
    converts with CONVERT_TZ(col, 'UTC', 'Asia/Kolkata'), which is NULL unless the server's zone tables are
    loaded. Shifting by the zone's constant offset and truncating in UTC gives the same local dates anywhere.
    """

    def datetimes(
        self,
        field_name: str,
        kind: Literal["year", "month", "week", "day", "hour", "minute", "second"],
        order: Literal["ASC", "DESC"] = "ASC",
        tzinfo: tzinfo | None = None,
    ) -> Any:
        zone = tzinfo or timezone.get_current_timezone()
        offset = _fixed_offset(zone)
        if connections[self.db].vendor != "mysql" or offset is None or not settings.USE_TZ:
            return super().datetimes(field_name, kind, order, tzinfo=tzinfo)
        local = f"{field_name}_local"
        # The rows' local wall-clock times, labelled UTC: the caller reads only year, month and day.
        shifted = ExpressionWrapper(F(field_name) + offset, output_field=DateTimeField())
        return super(LocalDatetimesQuerySet, self.annotate(**{local: shifted})).datetimes(
            local, kind, order, tzinfo=UTC
        )


_LOCAL_DATETIMES_CLASSES: dict[type[QuerySet], type[QuerySet]] = {}


def _local_datetimes_class(queryset_class: type[QuerySet]) -> type[QuerySet]:
    """`queryset_class` (a model's own QuerySet, maybe) with LocalDatetimesQuerySet's datetimes()."""
    if queryset_class not in _LOCAL_DATETIMES_CLASSES:
        _LOCAL_DATETIMES_CLASSES[queryset_class] = type(
            f"LocalDatetimes{queryset_class.__name__}", (LocalDatetimesQuerySet, queryset_class), {}
        )
    return _LOCAL_DATETIMES_CLASSES[queryset_class]


class TimesInIstMixin:
    """A ModelAdmin whose pages say their times are IST and whose date hierarchy groups rows by IST dates.

    The times themselves are shown in IST by copytrade.core.middleware.AdminTimeZoneMiddleware.
    """

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)  # type: ignore[misc]
        if isinstance(queryset, LocalDatetimesQuerySet):
            return queryset
        chained = queryset._chain()
        chained.__class__ = _local_datetimes_class(type(queryset))
        return chained

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> Any:
        extra_context = {"times_note": TIMES_NOTE, **(extra_context or {})}
        return super().changelist_view(request, extra_context)  # type: ignore[misc]

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> Any:
        extra_context = {"times_note": TIMES_NOTE, **(extra_context or {})}
        return super().changeform_view(request, object_id, form_url, extra_context)  # type: ignore[misc]


class ReadOnlyAdmin(TimesInIstMixin, admin.ModelAdmin):
    """Records nobody edits from the admin (audit trails, captured state): viewed, never added, changed or
    deleted, so their pages show no Save or Delete button."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
