from django.contrib import admin

from copytrade.core.models import Heartbeat


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ("name", "last_seen", "hostname")
    readonly_fields = ("name", "last_seen", "hostname")

    def has_add_permission(self, request) -> bool:
        return False
