"""Request and response shapes of the replication API (the seed's JSON keys), for parsing and the schema.

The trade object is validated by `services.fanout.trade_input_parse` (the seed's messages, naming the
field); these serializers document it and render rows.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from replication.models import OrderMapping, TradeEvent


class TradeInput(serializers.Serializer):
    id = serializers.CharField(max_length=100)
    symbol = serializers.CharField(max_length=80)
    side = serializers.ChoiceField(choices=["BUY", "SELL"])
    quantity = serializers.IntegerField(min_value=1)
    price = serializers.DecimalField(max_digits=14, decimal_places=4, required=False)
    trigger_price = serializers.DecimalField(max_digits=14, decimal_places=4, required=False)
    exchange = serializers.CharField(required=False, default="NSE")
    product_type = serializers.ChoiceField(choices=["MIS", "CNC", "NRML"], required=False, default="MIS")
    order_type = serializers.ChoiceField(
        choices=["MARKET", "LIMIT", "SL", "SLM"], required=False, default="MARKET"
    )


class ReplicateInput(serializers.Serializer):
    trade = TradeInput()
    eventType = serializers.CharField(required=False, default="PLACE")


class CopySelectedInput(serializers.Serializer):
    trade = TradeInput()
    follower_ids = serializers.ListField(child=serializers.CharField(max_length=120), min_length=1)


class MasterOrderInput(serializers.Serializer):
    masterOrderId = serializers.CharField(max_length=100)


class ModificationInput(serializers.Serializer):
    price = serializers.DecimalField(max_digits=14, decimal_places=4, required=False)
    trigger_price = serializers.DecimalField(max_digits=14, decimal_places=4, required=False)
    quantity = serializers.IntegerField(min_value=1, required=False)
    order_type = serializers.ChoiceField(choices=["MARKET", "LIMIT", "SL", "SLM"], required=False)


class ModifyInput(MasterOrderInput):
    modification = ModificationInput()


class ResultOutput(serializers.Serializer):
    follower_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["SUCCESS", "SKIPPED", "FAILED", "PENDING"])
    reason = serializers.CharField(required=False)
    follower_order_id = serializers.CharField(required=False)
    executed_quantity = serializers.IntegerField(required=False)


class SummaryOutput(serializers.Serializer):
    total_followers = serializers.IntegerField()
    successful = serializers.IntegerField()
    failed = serializers.IntegerField()
    skipped = serializers.IntegerField()
    pending = serializers.IntegerField()


class ReplicateOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    message = serializers.CharField()
    eventId = serializers.CharField()
    master_order_id = serializers.CharField()
    summary = SummaryOutput()
    results = ResultOutput(many=True)


class ActionOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    message = serializers.CharField()
    masterOrderId = serializers.CharField()
    eventId = serializers.CharField()
    summary = serializers.DictField(child=serializers.IntegerField())
    results = ResultOutput(many=True)


class PaginationOutput(serializers.Serializer):
    total = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    hasMore = serializers.BooleanField()


class MappingOutput(serializers.ModelSerializer):
    follower_id = serializers.CharField(source="follower.account_id")
    error_message = serializers.CharField(source="reason")

    class Meta:
        model = OrderMapping
        fields = [
            "id",
            "master_order_id",
            "follower_id",
            "follower_order_id",
            "leg",
            "order_tag",
            "symbol",
            "exchange",
            "side",
            "quantity",
            "executed_quantity",
            "average_price",
            "product_type",
            "order_type",
            "price",
            "status",
            "error_message",
            "note",
            "attempts",
            "created_at",
            "updated_at",
        ]


class EventOutput(serializers.ModelSerializer):
    id = serializers.CharField(source="event_id")

    class Meta:
        model = TradeEvent
        fields = [
            "id",
            "master_order_id",
            "event_type",
            "source",
            "symbol",
            "exchange",
            "side",
            "quantity",
            "price",
            "product_type",
            "order_type",
            "total_followers",
            "successful_followers",
            "failed_followers",
            "skipped_followers",
            "pending_followers",
            "status",
            "message",
            "processed_at",
        ]


class MappingsPageOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    mappings = MappingOutput(many=True)
    pagination = PaginationOutput()


class EventsPageOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    events = EventOutput(many=True)
    pagination = PaginationOutput()


LEVELS = {TradeEvent.Status.ERROR: "Error", TradeEvent.Status.WARNING: "Warning"}


def event_log_line(event: TradeEvent) -> dict[str, Any]:
    """A trade event as the seed's Logs page line."""
    return {
        "id": event.event_id,
        "timestamp": event.processed_at.isoformat(),
        "level": LEVELS.get(event.status, "Info"),
        "message": event.message or f"{event.event_type}: {event.master_order_id}",
        "eventType": event.event_type,
        "masterOrderId": event.master_order_id,
        "followerId": None,
        "quantity": event.quantity,
        "riskValidated": event.risk_validated,
    }


class LogLineOutput(serializers.Serializer):
    id = serializers.CharField()
    timestamp = serializers.CharField()
    level = serializers.CharField()
    message = serializers.CharField()
    eventType = serializers.CharField()
    masterOrderId = serializers.CharField()
    followerId = serializers.CharField(allow_null=True)
    quantity = serializers.IntegerField()
    riskValidated = serializers.BooleanField()


class LogsOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    count = serializers.IntegerField()
    logs = LogLineOutput(many=True)
