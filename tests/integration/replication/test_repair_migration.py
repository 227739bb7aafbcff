"""Rows poisoned before input was bounded (a price of 1e30 stored by SQLite) are repaired by migration 0005:
every list answers again and the in-flight ones are settled instead of crashing every sweep."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.db import connection

from replication.models import OrderMapping, TradeEvent
from tests.factories.replication import OrderMappingFactory

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "sqlite",
        reason="only SQLite could store such a price (MySQL strict mode refuses it)",
    ),
]

repair = importlib.import_module("replication.migrations.0005_repair_out_of_range_rows").repair


def _poison(table: str, column: str, pk: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = 1e30 WHERE id = %s", [pk])  # noqa: S608 - test names


def test_poisoned_rows_are_repaired_and_every_list_answers_again(client, settings):
    # given a pending mapping and its event whose price the old code stored as 1e30, and a sound mapping
    settings.QUANTUM_ALPHA_SECRET = "s3cret-for-this-test"
    poisoned = OrderMappingFactory(order_type="LIMIT")
    sound = OrderMappingFactory(status=OrderMapping.Status.ACTIVE, follower_order_id="1")
    _poison("order_mappings", "price", poisoned.pk)
    _poison("replication_tradeevent", "price", poisoned.trade_event_id)
    headers = {"x-qa-secret": "s3cret-for-this-test"}
    assert client.get("/api/trades/mappings", headers=headers).status_code == 500
    # when the data migration runs
    repair(apps, None)
    # then every list answers, the poisoned in-flight row is settled with its reason, the sound one untouched
    for path in ("/api/trades/mappings", "/api/trades/events", "/api/trade-events"):
        assert client.get(path, headers=headers).status_code == 200, path
    poisoned.refresh_from_db()
    assert (poisoned.status, poisoned.price, poisoned.reason_code) == ("FAILED", None, "INTERNAL_ERROR")
    assert "out of range" in poisoned.reason
    assert TradeEvent.objects.get(pk=poisoned.trade_event_id).price is None
    sound.refresh_from_db()
    assert sound.status == OrderMapping.Status.ACTIVE
