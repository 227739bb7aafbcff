from django.contrib import admin
from django.http import HttpRequest

from broker.models import Instrument


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = ("exchange", "trading_symbol", "symbol", "token", "lot_size", "tick_size", "expiry")
    list_filter = ("exchange", "instrument_type")
    search_fields = ("trading_symbol", "symbol", "token")
    readonly_fields = [f.name for f in Instrument._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Instrument | None = None) -> bool:
        return False
