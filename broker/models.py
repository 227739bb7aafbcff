"""The contract-master cache: the one model of the broker app."""

from django.db import models


class Instrument(models.Model):
    """One contract from Alice Blue's contract master (refreshed by `manage.py sync_instruments`)."""

    exchange = models.CharField(max_length=8)
    token = models.CharField(max_length=20)
    symbol = models.CharField(max_length=64)
    trading_symbol = models.CharField(max_length=80)
    formatted_name = models.CharField(max_length=120, blank=True, default="")
    instrument_type = models.CharField(max_length=16, blank=True, default="")
    group_name = models.CharField(max_length=8, blank=True, default="")
    option_type = models.CharField(max_length=4, blank=True, default="")
    strike_price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    expiry = models.DateField(null=True, blank=True)
    lot_size = models.PositiveIntegerField(default=1)
    tick_size = models.DecimalField(max_digits=10, decimal_places=4, default="0.05")
    freeze_quantity = models.PositiveIntegerField(
        null=True, blank=True, help_text="The largest single order the exchange accepts (from the file)."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["exchange", "trading_symbol"]
        constraints = [models.UniqueConstraint(fields=["exchange", "token"], name="uniq_instrument_token")]
        indexes = [
            models.Index(fields=["exchange", "trading_symbol"], name="instrument_tsym_idx"),
            models.Index(fields=["exchange", "symbol"], name="instrument_symbol_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.exchange}:{self.trading_symbol} ({self.token})"
