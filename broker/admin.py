"""Admin: the contract-master cache, read-only (`manage.py sync_instruments` refreshes it)."""

from decimal import Decimal

from django.contrib import admin

from broker.models import Instrument
from copytrade.core.admin_display import ReadOnlyAdmin


@admin.register(Instrument)
class InstrumentAdmin(ReadOnlyAdmin):
    list_display = ("exchange", "trading_symbol", "symbol", "token", "lot", "tick", "freeze", "expiry")
    list_filter = ("exchange", "instrument_type")
    search_fields = ("trading_symbol", "symbol", "token")
    readonly_fields = [f.name for f in Instrument._meta.fields]

    @admin.display(description="Lot", ordering="lot_size")
    def lot(self, obj: Instrument) -> int:
        return obj.lot_size

    @admin.display(description="Tick", ordering="tick_size")
    def tick(self, obj: Instrument) -> Decimal:
        return obj.tick_size

    @admin.display(description="Freeze", ordering="freeze_quantity")
    def freeze(self, obj: Instrument) -> int | None:
        return obj.freeze_quantity
