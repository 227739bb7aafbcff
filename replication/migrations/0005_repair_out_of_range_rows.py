"""Repair rows written before input was bounded, and give existing mappings their reason codes.

Before the replication API parsed with bounded serializers, a price such as 1e30 could be stored. SQLite keeps
it, and every read of that row then failed (the DecimalField(14, 4) cannot hold it), breaking every list that
showed it and every task that loaded it. Such prices are cleared here; mappings still in flight with an
out-of-range price or quantity could never be sent, so they are settled FAILED with the reason. Everything is
done with UPDATEs that never load the poisoned values. On MySQL/MariaDB (strict mode) no such row can exist.
"""

from decimal import Decimal

from django.db import migrations
from django.db.models import Q

MAX_PRICE = Decimal("100000000")
MAX_QUANTITY = 10_000_000
IN_FLIGHT = ("PENDING", "SUBMITTING", "UNKNOWN")
CONFIRMING_SUFFIX = ": confirming by order tag"


def out_of_range(name: str) -> Q:
    return Q(**{f"{name}__gte": MAX_PRICE}) | Q(**{f"{name}__lt": 0})


def repair(apps, schema_editor):
    OrderMapping = apps.get_model("replication", "OrderMapping")
    TradeEvent = apps.get_model("replication", "TradeEvent")
    MasterTrade = apps.get_model("replication", "MasterTrade")
    bad_price = out_of_range("price") | out_of_range("trigger_price")
    OrderMapping.objects.filter(status__in=IN_FLIGHT).filter(
        bad_price | Q(quantity__gt=MAX_QUANTITY)
    ).update(
        status="FAILED",
        reason="Not sent: its price or quantity was out of range (repaired by migration 0005)",
        reason_code="INTERNAL_ERROR",
    )
    for model, names in (
        (OrderMapping, ("price", "trigger_price", "average_price")),
        (TradeEvent, ("price", "trigger_price")),
        (MasterTrade, ("price",)),
    ):
        for name in names:
            model.objects.filter(out_of_range(name)).update(**{name: None})
    unknown = OrderMapping.objects.filter(status="UNKNOWN", reason_code="")
    unknown.filter(reason__endswith=CONFIRMING_SUFFIX).update(reason_code="CONFIRMING")
    unknown.filter(reason_code="").update(reason_code="OUTCOME_UNKNOWN")
    OrderMapping.objects.filter(status="PENDING", attempts__gt=0, reason_code="").update(reason_code="RETRYING")
    OrderMapping.objects.filter(status="FAILED", reason__startswith="Order not placed", reason_code="").update(
        reason_code="NOT_PLACED"
    )


class Migration(migrations.Migration):
    dependencies = [("replication", "0004_reason_code_and_enum_choices")]

    operations = [migrations.RunPython(repair, migrations.RunPython.noop)]
