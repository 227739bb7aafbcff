"""Request parsing and response shapes of the replication API (the seed's JSON keys and messages).

Inputs are bounded to what the columns and the market allow (quantities 1..10,000,000, prices below 10^8
with at most 2 decimals, ids of 1..64 printable characters, 1..500 unique follower ids), so a request that
passes here can be written and read back. Outputs build the seed's result rows from mappings and actions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.validators import ACCOUNT_ID_MAX_LENGTH
from broker.types import Exchange, OrderType, ProductType, Side
from copytrade.core.exceptions import SEED_MESSAGE
from copytrade.core.fields import (
    IDENTIFIER_CHARS,
    CaseInsensitiveChoiceField,
    IdentifierField,
    PriceField,
    QuantityField,
    StrictIntegerField,
    case_insensitive_pattern,
)
from copytrade.core.schema import schema_keywords
from replication import risk, states
from replication.models import MasterTrade, OrderAction, OrderMapping, TradeEvent
from replication.selectors import Counts
from replication.services.modify import Modification

TRADE_ID_MAX = 64
MAX_SELECTED_FOLLOWERS = 500
# What a client may label a replicated trade with (CLOSE events are capture's own).
EVENT_TYPES = ("PLACE", "MODIFY", "CANCEL", "EXIT")
MAX_PUSHED_TRADES = 500
ORDER_TYPE_ALIASES = {"SL-M": "SLM", "SL-L": "SL"}


def values(enum: Any) -> list[str]:
    return [member.value for member in enum]


def trade_id_field(**kwargs: Any) -> IdentifierField:
    return IdentifierField(max_length=TRADE_ID_MAX, **kwargs)


def follower_id_field(**kwargs: Any) -> IdentifierField:
    return IdentifierField(max_length=ACCOUNT_ID_MAX_LENGTH, **kwargs)


def _seed_error(message: str) -> serializers.ValidationError:
    """A validation error whose message is the seed's, shown as is (not prefixed with the field name)."""
    return serializers.ValidationError(message, code=SEED_MESSAGE)


# ------------------------------------------------------------------------------------------- inputs
def _order_type_rules(
    field: str = "order_type", aliases: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """The trade's cross-field rule as JSON schema: a LIMIT order needs a price above 0, an SL order a price
    and a trigger price, an SLM order a trigger price; MARKET (the default) needs neither. `field` names the
    order type, `aliases` its other spellings."""
    positive = PriceField(positive=True).openapi_schema
    aliases = ORDER_TYPE_ALIASES if aliases is None else aliases

    def kind(*names: str) -> dict[str, Any]:
        targets = [name for name in names if name not in aliases]
        spellings = {alias: target for alias, target in aliases.items() if target in targets}
        return {"type": "string", "pattern": case_insensitive_pattern(targets, spellings)}

    def needs(order_type: dict[str, Any], *prices: str) -> dict[str, Any]:
        properties = {field: order_type, **{name: positive for name in prices}}
        return {"properties": properties, "required": [field, *prices]}

    return [
        {"not": {"required": [field]}},
        needs(kind("MARKET")),
        needs(kind("LIMIT"), "price"),
        needs(kind("SL"), "price", "trigger_price"),
        needs(kind("SLM"), "trigger_price"),
    ]


@schema_keywords("TradeInput", anyOf=_order_type_rules())
class TradeInputSerializer(serializers.Serializer):
    """The seed's `trade` object."""

    REQUIRED = ("id", "symbol", "side", "quantity")

    id = trade_id_field()
    symbol = IdentifierField(max_length=80)
    side = CaseInsensitiveChoiceField(choices=values(Side))
    quantity = QuantityField()
    price = PriceField()
    trigger_price = PriceField()
    exchange = CaseInsensitiveChoiceField(choices=values(Exchange), required=False, default="NSE")
    product_type = CaseInsensitiveChoiceField(choices=values(ProductType), required=False, default="MIS")
    order_type = CaseInsensitiveChoiceField(
        choices=values(OrderType), aliases=ORDER_TYPE_ALIASES, required=False, default="MARKET"
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict) or not data:
            raise _seed_error("Trade data is required")
        missing = [name for name in self.REQUIRED if data.get(name) in (None, "")]
        if missing:
            raise _seed_error(f"Missing required trade fields: {', '.join(missing)}")
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs["symbol"] = attrs["symbol"].upper()
        order_type = attrs["order_type"]
        if order_type in ("LIMIT", "SL") and attrs.get("price") is None:
            raise serializers.ValidationError({"price": f"required for {order_type} orders"})
        if order_type in ("SL", "SLM") and attrs.get("trigger_price") is None:
            raise serializers.ValidationError({"trigger_price": f"required for {order_type} orders"})
        return attrs


def _trade_field() -> TradeInputSerializer:
    return TradeInputSerializer(error_messages={"required": "Trade data is required"})


class ReplicateInput(serializers.Serializer):
    trade = _trade_field()
    eventType = CaseInsensitiveChoiceField(choices=EVENT_TYPES, required=False, default="PLACE")


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "minLength": 1, "maxLength": 120, "pattern": f"^{IDENTIFIER_CHARS}+$"},
        "minItems": 1,
        "maxItems": MAX_SELECTED_FOLLOWERS,
        "uniqueItems": True,
    }
)
class FollowerIdsField(serializers.ListField):
    """1..500 unique follower ids (the seed's "At least one follower must be selected" when none)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("child", follower_id_field())
        kwargs.setdefault("max_length", MAX_SELECTED_FOLLOWERS)
        kwargs.setdefault(
            "error_messages",
            {
                "required": "At least one follower must be selected",
                "null": "At least one follower must be selected",
            },
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[str]:
        if isinstance(data, list) and not data:
            raise _seed_error("At least one follower must be selected")
        if not isinstance(data, list):
            raise serializers.ValidationError("Must be a list of follower ids.")
        ids = super().to_internal_value(data)
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError("Follower ids must be unique.")
        return ids


class CopySelectedInput(serializers.Serializer):
    trade = _trade_field()
    follower_ids = FollowerIdsField()


class MasterOrderInput(serializers.Serializer):
    masterOrderId = trade_id_field(error_messages={"required": "masterOrderId is required"})

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict) or data.get("masterOrderId") in (None, ""):
            raise serializers.ValidationError(
                {"masterOrderId": _seed_error("masterOrderId is required").detail}
            )
        return super().to_internal_value(data)


@schema_keywords("ModificationInput", minProperties=1, additionalProperties=False)
class ModificationInput(serializers.Serializer):
    """What changes; at least one of its fields."""

    price = PriceField(positive=True)
    trigger_price = PriceField(positive=True)
    quantity = QuantityField(required=False)
    order_type = CaseInsensitiveChoiceField(
        choices=values(OrderType), aliases=ORDER_TYPE_ALIASES, required=False
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not any(
            attrs.get(name) is not None for name in ("price", "trigger_price", "quantity", "order_type")
        ):
            raise serializers.ValidationError(
                "needs at least one of price, trigger_price, quantity, order_type"
            )
        return attrs


class ModifyInput(MasterOrderInput):
    modification = ModificationInput()

    @staticmethod
    def modification_of(validated: dict[str, Any]) -> Modification:
        return Modification(**{k: v for k, v in validated["modification"].items() if v is not None})


class WaitQuery(serializers.Serializer):
    wait = serializers.FloatField(
        required=False,
        min_value=0,
        max_value=60,
        help_text="Seconds to wait for the follower orders (capped at REPLICATION_SYNC_TIMEOUT; 0: at once)",
    )

    def validate_wait(self, value: float) -> float:
        if not math.isfinite(value):
            raise serializers.ValidationError("A finite number is required.")
        return value

    def seconds(self) -> float:
        limit = float(settings.REPLICATION_SYNC_TIMEOUT)
        wait = self.validated_data.get("wait")
        return limit if wait is None else min(float(wait), limit)


class MasterOrderQuery(serializers.Serializer):
    masterOrderId = trade_id_field(error_messages={"required": "masterOrderId is required"})

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not data.get("masterOrderId"):
            raise serializers.ValidationError(
                {"masterOrderId": _seed_error("masterOrderId is required").detail}
            )
        return super().to_internal_value(data)


class PageQuery(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=200, default=50)
    offset = serializers.IntegerField(min_value=0, max_value=1_000_000_000, default=0)
    masterOrderId = trade_id_field(required=False)


class EventsQuery(PageQuery):
    eventType = CaseInsensitiveChoiceField(choices=TradeEvent.EventType.values, required=False)


class MappingsQuery(PageQuery):
    followerId = follower_id_field(required=False)
    status = CaseInsensitiveChoiceField(choices=states.MappingStatus.values, required=False)
    leg = CaseInsensitiveChoiceField(choices=OrderMapping.Leg.values, required=False)


# ------------------------------------------------------------------------------------------ master capture
PUSH_STATUSES = ("COMPLETE", "OPEN", "PENDING", "TRIGGER_PENDING", "CANCELLED", "REJECTED")
PUSH_STATUS_ALIASES = {
    "COMPLETED": "COMPLETE",
    "EXECUTED": "COMPLETE",
    "FILLED": "COMPLETE",
    "TRADED": "COMPLETE",
    "TRIGGER PENDING": "TRIGGER_PENDING",
    "CANCELED": "CANCELLED",
}
PUSH_ORDER_TYPE_ALIASES = {**ORDER_TYPE_ALIASES, "MKT": "MARKET", "L": "LIMIT"}


@schema_keywords(
    "PushedTradeInput",
    allOf=[
        {"anyOf": _order_type_rules("type", PUSH_ORDER_TYPE_ALIASES)},
        {"anyOf": [{"required": ["quantity"]}, {"required": ["qty"]}]},
    ],
)
class PushedTradeInput(serializers.Serializer):
    """One trade of a push: the seed's {id, timestamp, symbol, quantity|qty, price, side, status, type}, plus
    the optional exchange, product_type, trigger_price and filledQuantity."""

    id = trade_id_field()
    symbol = IdentifierField(max_length=80)
    side = CaseInsensitiveChoiceField(choices=values(Side))
    quantity = QuantityField(required=False)
    qty = QuantityField(required=False)
    price = PriceField()
    trigger_price = PriceField()
    filledQuantity = StrictIntegerField(min_value=0, max_value=10_000_000, required=False)
    exchange = CaseInsensitiveChoiceField(choices=values(Exchange), required=False, default="NSE")
    product_type = CaseInsensitiveChoiceField(choices=values(ProductType), required=False, default="MIS")
    type = CaseInsensitiveChoiceField(
        choices=values(OrderType), aliases=PUSH_ORDER_TYPE_ALIASES, required=False, default="MARKET"
    )
    status = CaseInsensitiveChoiceField(
        choices=PUSH_STATUSES, aliases=PUSH_STATUS_ALIASES, required=False, default="COMPLETE"
    )
    timestamp = StrictIntegerField(
        min_value=0, max_value=10**13, required=False, help_text="Epoch milliseconds (default: now)"
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        quantity = attrs.get("quantity") or attrs.get("qty")
        if not quantity:
            raise serializers.ValidationError({"quantity": "required (quantity or qty)"})
        if attrs["type"] in ("LIMIT", "SL") and attrs.get("price") is None:
            raise serializers.ValidationError({"price": f"required for {attrs['type']} orders"})
        if attrs["type"] in ("SL", "SLM") and attrs.get("trigger_price") is None:
            raise serializers.ValidationError({"trigger_price": f"required for {attrs['type']} orders"})
        attrs["quantity"] = quantity
        return attrs


class PushInput(serializers.Serializer):
    accountId = follower_id_field()
    trades = serializers.ListField(child=PushedTradeInput(), min_length=1, max_length=MAX_PUSHED_TRADES)

    def validate_trades(self, trades: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The seed's dedupe: one trade per id, the last one given wins."""
        return list({trade["id"]: trade for trade in trades}.values())


class RemoveInput(serializers.Serializer):
    accountId = follower_id_field()
    tradeIds = serializers.ListField(child=trade_id_field(), required=False, max_length=MAX_PUSHED_TRADES)


class IncomingQuery(serializers.Serializer):
    state = CaseInsensitiveChoiceField(choices=MasterTrade.State.values, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=500, default=200)


class OkOutput(serializers.Serializer):
    ok = serializers.BooleanField()


class PollOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    newTrades = serializers.IntegerField()
    message = serializers.CharField()


class PushOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    received = serializers.IntegerField()
    stored = serializers.IntegerField()


class AutoReplicateOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    autoReplicated = serializers.IntegerField()
    totalFollowers = serializers.IntegerField()
    message = serializers.CharField()


class IncomingTradeOutput(serializers.ModelSerializer):
    """A master trade in the seed's incoming shape ({id, timestamp, account, symbol, type, side, quantity,
    price, status}) plus what capture decided about it."""

    id = serializers.CharField(source="broker_order_id")
    timestamp = serializers.SerializerMethodField()
    account = serializers.CharField(source="account.account_id")
    type = serializers.CharField(source="order_type")
    tradingSymbol = serializers.CharField(source="trading_symbol")
    product = serializers.CharField(source="product_type")
    filledQuantity = serializers.IntegerField(source="filled_quantity")
    averagePrice = serializers.DecimalField(source="average_price", max_digits=14, decimal_places=4)
    triggerPrice = serializers.DecimalField(source="trigger_price", max_digits=14, decimal_places=4)
    positionBefore = serializers.IntegerField(source="position_before")
    closeQuantity = serializers.IntegerField(source="close_quantity")
    entryQuantity = serializers.IntegerField(source="entry_quantity")
    capturedAt = serializers.DateTimeField(source="created_at")
    capturedBy = serializers.CharField(source="source")

    class Meta:
        model = MasterTrade
        fields = [
            "id",
            "timestamp",
            "account",
            "symbol",
            "tradingSymbol",
            "exchange",
            "type",
            "product",
            "side",
            "quantity",
            "filledQuantity",
            "price",
            "averagePrice",
            "triggerPrice",
            "status",
            "state",
            "kind",
            "positionBefore",
            "closeQuantity",
            "entryQuantity",
            "note",
            "capturedBy",
            "capturedAt",
        ]

    def get_timestamp(self, trade: MasterTrade) -> int:
        moment = trade.order_time or trade.created_at
        return int(moment.timestamp() * 1000)


class IncomingOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    trades = IncomingTradeOutput(many=True)


class ClearOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    success = serializers.BooleanField()
    cleared = serializers.IntegerField()


class RemoveOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    removed = serializers.IntegerField()


# ------------------------------------------------------------------------------------------ outputs
def counts_of(rows: Iterable[dict[str, Any]]) -> Counts:
    """The summary of result rows (SUCCESS / FAILED / SKIPPED / PENDING)."""
    tally = {"SUCCESS": 0, "FAILED": 0, "SKIPPED": 0, "PENDING": 0}
    for row in rows:
        tally[row["status"]] += 1
    return Counts(tally["SUCCESS"], tally["FAILED"], tally["SKIPPED"], tally["PENDING"])


RESULT_STATUSES = ["SUCCESS", "SKIPPED", "FAILED", "PENDING"]


class _OmitEmpty(serializers.Serializer):
    """The seed omitted keys that had no value; so do we."""

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return {key: value for key, value in self.row(instance).items() if value not in (None, "")}

    def row(self, instance: Any) -> dict[str, Any]:
        raise NotImplementedError


class MappingResultOutput(_OmitEmpty):
    """One follower's result in the replicate / copy-selected answer."""

    follower_id = serializers.CharField()
    status = serializers.ChoiceField(choices=RESULT_STATUSES)
    reason = serializers.CharField(required=False)
    follower_order_id = serializers.CharField(required=False)
    executed_quantity = serializers.IntegerField(required=False)
    quantity = serializers.IntegerField(required=False)
    note = serializers.CharField(required=False)
    order_mapping_id = serializers.IntegerField()
    slices = serializers.IntegerField(required=False, help_text="an order sent as slices (freeze quantity)")
    follower_order_ids = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="every slice's order id, first slice first"
    )

    def row(self, mapping: OrderMapping) -> dict[str, Any]:
        status = states.result_status(mapping.status, has_order_id=bool(mapping.follower_order_id))
        reason = f"Order {mapping.status.lower()}: still in flight" if status == "PENDING" else mapping.reason
        return {
            "follower_id": mapping.follower.account_id,
            "status": status,
            "reason": reason,
            "follower_order_id": mapping.follower_order_id,
            # The seed reported the quantity it placed; real fills replace it once the order book says so.
            "executed_quantity": (mapping.executed_quantity or mapping.quantity)
            if status == "SUCCESS"
            else None,
            "quantity": mapping.quantity if status != "SKIPPED" and mapping.quantity else None,
            "note": mapping.note,
            "order_mapping_id": mapping.pk,
        }


class ActionResultOutput(_OmitEmpty):
    """One follower's result of an exit / modify / cancel (the seed's {follower_id, status, reason}).

    Exit results read the follower's EXIT legs from `context["exit_legs"]` ({follower pk: mappings}), fetched
    once for all followers by the view.
    """

    follower_id = serializers.CharField()
    status = serializers.ChoiceField(choices=RESULT_STATUSES)
    reason = serializers.CharField(required=False)
    message = serializers.CharField(required=False)
    follower_order_id = serializers.CharField(required=False)
    exit_order_id = serializers.CharField(required=False)
    slices = serializers.IntegerField(required=False, help_text="an order sent as slices (freeze quantity)")
    follower_order_ids = serializers.ListField(child=serializers.CharField(), required=False)

    def row(self, action: OrderAction) -> dict[str, Any]:
        mapping = action.mapping
        row: dict[str, Any] = {"follower_id": mapping.follower.account_id}
        if action.status in (states.ActionStatus.PENDING, states.ActionStatus.RUNNING):
            row.update(status="PENDING", reason="Still in progress")
        elif action.status == states.ActionStatus.SKIPPED:
            row.update(status="SKIPPED", reason=action.reason)
        elif action.status == states.ActionStatus.FAILED:
            row.update(status="FAILED", reason=action.reason)
        elif action.kind in (OrderAction.Kind.EXIT, OrderAction.Kind.CLOSE):
            legs = self.context.get("exit_legs", {}).get(mapping.follower_id, [])
            if action.kind == OrderAction.Kind.EXIT:
                legs = [
                    leg
                    for leg in legs
                    if risk.exit_slice_of(exit_slice_no=leg.slice_no, entry_slice_count=mapping.slice_count)
                    == mapping.slice_no
                ]
            row.update(self._exit_leg(action, legs))
        else:
            row.update(status="SUCCESS", reason=action.reason)
        row["follower_order_id"] = mapping.follower_order_id
        if action.kind == OrderAction.Kind.MODIFY:
            row["message"] = row["reason"]
        return row

    @staticmethod
    def _exit_leg(action: OrderAction, legs: list[OrderMapping]) -> dict[str, Any]:
        if not legs:
            return {"status": "SUCCESS", "reason": action.reason or "Exit order processed"}
        extra = {"exit_order_id": legs[0].follower_order_id}
        flying = [leg for leg in legs if leg.status in states.IN_FLIGHT]
        if flying:
            quantity = sum(leg.quantity for leg in flying)
            return {
                "status": "PENDING",
                "reason": f"Square-off of {quantity} {flying[0].status.lower()}",
                **extra,
            }
        failed = [leg for leg in legs if leg.status not in states.PLACED]
        if not failed:
            return {"status": "SUCCESS", "reason": action.reason or "Exit order processed", **extra}
        return {"status": "FAILED", "reason": f"Square-off failed: {failed[0].reason}", **extra}


def slices_merged(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One follower order's result from the results of its slices (several when above the freeze quantity).

    SUCCESS only when every slice succeeded (skipped slices aside); any slice in flight: PENDING; else any
    failed slice: FAILED, saying how many; all skipped: SKIPPED. The first slice's fields stay (its
    `follower_order_id`), except a reason that differs between slices: each slice's is given; `slices` and
    `follower_order_ids` are added, quantities summed.
    """
    if len(rows) == 1:
        return rows[0]
    merged = dict(rows[0])
    statuses = [row["status"] for row in rows]
    merged["status"] = states.sliced_result_status(statuses)
    if merged["status"] == "PENDING":
        merged["reason"] = f"{statuses.count('PENDING')} of {len(rows)} slices in flight"
    elif merged["status"] == "FAILED":
        failed = [row for row in rows if row["status"] == "FAILED"]
        merged["reason"] = f"{len(failed)} of {len(rows)} slices failed: {failed[0].get('reason', '')}"
    elif len({row.get("reason", "") for row in rows}) > 1:  # e.g. each slice's square-off: say every one
        merged["reason"] = "; ".join(
            f"slice {number}/{len(rows)}: {row.get('reason', '')}" for number, row in enumerate(rows, 1)
        )
    for name in ("quantity", "executed_quantity"):
        if any(name in row for row in rows):
            merged[name] = sum(int(row.get(name) or 0) for row in rows)
    merged["slices"] = len(rows)
    merged["follower_order_ids"] = [row.get("follower_order_id", "") for row in rows]
    return merged


def results_per_order(items: Iterable[Any], serializer: type[_OmitEmpty], **kwargs: Any) -> list[dict]:
    """Serialized results of mappings (or actions on them), one per follower order: the slices of one
    follower's leg merged (`slices_merged`), in the order of their first slice."""
    groups: dict[tuple[int, str], list[Any]] = {}
    for item in items:
        mapping = item if isinstance(item, OrderMapping) else item.mapping
        groups.setdefault((mapping.follower_id, mapping.leg), []).append(item)
    return [slices_merged(list(serializer(group, many=True, **kwargs).data)) for group in groups.values()]


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
    results = MappingResultOutput(many=True)


class ActionSummaryOutput(serializers.Serializer):
    total_followers = serializers.IntegerField(required=False, help_text="exit and cancel")
    total_orders = serializers.IntegerField(required=False, help_text="modify")
    successful = serializers.IntegerField()
    failed = serializers.IntegerField()
    skipped = serializers.IntegerField()
    pending = serializers.IntegerField()


class ActionOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    message = serializers.CharField()
    masterOrderId = serializers.CharField()
    eventId = serializers.CharField()
    summary = ActionSummaryOutput()
    results = ActionResultOutput(many=True)


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
            "reason_code",
            "note",
            "attempts",
            "created_at",
            "updated_at",
        ]


class MappingsReadOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    masterOrderId = serializers.CharField()
    mappings = MappingOutput(many=True)


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


LEVELS: dict[str, str] = {TradeEvent.Status.ERROR: "Error", TradeEvent.Status.WARNING: "Warning"}


class LogLineOutput(serializers.Serializer):
    """A trade event as the seed's Logs page line."""

    id = serializers.CharField(source="event_id")
    timestamp = serializers.DateTimeField(source="processed_at")
    level = serializers.SerializerMethodField()
    message = serializers.SerializerMethodField()
    eventType = serializers.CharField(source="event_type")
    masterOrderId = serializers.CharField(source="master_order_id")
    followerId = serializers.SerializerMethodField()
    quantity = serializers.IntegerField()
    riskValidated = serializers.BooleanField(source="risk_validated")

    def get_level(self, event: TradeEvent) -> str:
        return LEVELS.get(event.status, "Info")

    def get_message(self, event: TradeEvent) -> str:
        return event.message or f"{event.event_type}: {event.master_order_id}"

    @extend_schema_field({"type": "string", "nullable": True})
    def get_followerId(self, event: TradeEvent) -> None:
        return None


class LogsOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    count = serializers.IntegerField()
    logs = LogLineOutput(many=True)
