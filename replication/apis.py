"""Replication APIs with the seed's paths and JSON: replicate, copy-selected, exit, modify, cancel, events,
mappings, and the trade-event log lines.

Mutations answer after the follower orders settle or REPLICATION_SYNC_TIMEOUT passes, whichever is first;
what is still in flight is reported PENDING and can be read back with GET /api/trades/replicate.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from copytrade.core.exceptions import ValidationFailed
from replication import selectors
from replication import serializers as s
from replication.models import TradeEvent
from replication.services import actions, fanout
from replication.services.events import trade_event_refresh_totals

MASTER_ORDER_PARAM = OpenApiParameter(
    "masterOrderId", OpenApiTypes.STR, OpenApiParameter.QUERY, required=True
)
PAGE_PARAMS = [
    OpenApiParameter("limit", OpenApiTypes.INT, OpenApiParameter.QUERY, description="<= 200, default 50"),
    OpenApiParameter("offset", OpenApiTypes.INT, OpenApiParameter.QUERY),
    OpenApiParameter("masterOrderId", OpenApiTypes.STR, OpenApiParameter.QUERY),
]
ERRORS = {
    400: OpenApiResponse(description="Validation failed; the message names the field"),
    401: OpenApiResponse(description="Missing or wrong x-qa-secret"),
}
NOT_FOUND = {404: OpenApiResponse(description="Unknown master order")}
REPLAY_CONFLICT = {
    409: OpenApiResponse(description="The trade id was replicated with other details, or already exited")
}


def _sync_timeout(request: Request) -> float:
    """REPLICATION_SYNC_TIMEOUT, or a shorter `?wait=` (0 answers at once)."""
    limit = float(settings.REPLICATION_SYNC_TIMEOUT)
    raw = request.query_params.get("wait")
    if raw in (None, ""):
        return limit
    try:
        return min(max(float(raw), 0.0), limit)
    except ValueError:
        raise ValidationFailed("wait must be a number of seconds", extra={"field": "wait"}) from None


def _master_order_id(data: Any, name: str = "masterOrderId") -> str:
    value = data.get(name) if hasattr(data, "get") else None
    if value in (None, "") or not str(value).strip():
        raise ValidationFailed(f"{name} is required", extra={"field": name})
    return str(value).strip()


def _fan_out_answer(*, request: Request, result: fanout.FanOutResult, message: str) -> dict[str, Any]:
    selectors.mappings_wait(mapping_ids=[m.pk for m in result.mappings], timeout=_sync_timeout(request))
    mappings = list(
        selectors.entry_mappings(master_order_id=result.event.master_order_id).filter(
            pk__in=[m.pk for m in result.mappings]
        )
    )
    results = [selectors.mapping_result(m) for m in mappings]
    results += [
        {"follower_id": fid, "status": "FAILED", "reason": fanout.NOT_FOUND_REASON}
        for fid in result.not_found
    ]
    counts = selectors.results_counts(results)
    trade_event_refresh_totals(event=result.event)
    return {
        "ok": True,
        "message": message,
        "eventId": result.event.event_id,
        "master_order_id": result.event.master_order_id,
        "summary": {
            "total_followers": len(results),
            "successful": counts.successful,
            "failed": counts.failed,
            "skipped": counts.skipped,
            "pending": counts.pending,
        },
        "results": results,
    }


def _action_answer(
    *, request: Request, event: TradeEvent, message: str, modify: bool = False
) -> dict[str, Any]:
    selectors.actions_wait(event=event, timeout=_sync_timeout(request))
    results = [selectors.action_result(a) for a in selectors.event_actions(event=event)]
    counts = selectors.results_counts(results)
    trade_event_refresh_totals(event=event)
    if modify:
        summary = {"total_orders": len(results), "successful": counts.successful, "failed": counts.failed}
    else:
        summary = {"total_followers": len(results), "successful": counts.successful, "failed": counts.failed}
    summary.update(skipped=counts.skipped, pending=counts.pending)
    return {
        "ok": True,
        "message": message,
        "masterOrderId": event.master_order_id,
        "eventId": event.event_id,
        "summary": summary,
        "results": results,
    }


def _page(request: Request, queryset: QuerySet) -> tuple[list, dict[str, Any]]:
    try:
        limit = int(request.query_params.get("limit", 50))
        offset = int(request.query_params.get("offset", 0))
    except ValueError:
        raise ValidationFailed("limit and offset must be whole numbers", extra={"field": "limit"}) from None
    if limit < 1 or offset < 0:
        raise ValidationFailed("limit must be >= 1 and offset >= 0", extra={"field": "limit"})
    limit = min(limit, 200)
    total = queryset.count()
    rows = list(queryset[offset : offset + limit])
    return rows, {"total": total, "limit": limit, "offset": offset, "hasMore": offset + len(rows) < total}


class TradeReplicateApi(APIView):
    """Replicate a master trade to every active follower; read back a master order's mappings."""

    @extend_schema(
        request=s.ReplicateInput,
        responses={200: s.ReplicateOutput, **ERRORS, **REPLAY_CONFLICT},
        summary="Replicate a trade",
    )
    def post(self, request: Request) -> Response:
        trade = fanout.trade_input_parse(request.data.get("trade") if hasattr(request.data, "get") else None)
        event_type = str(request.data.get("eventType") or "PLACE").upper()
        if event_type not in fanout.EVENT_TYPES:
            raise ValidationFailed(
                f"eventType must be one of {', '.join(fanout.EVENT_TYPES)}", extra={"field": "eventType"}
            )
        # The seed labelled the event with eventType; an exit or cancel replicated as a new entry would open
        # positions instead of closing them, so those go to the exit and cancel services.
        if event_type == "EXIT":
            event = actions.trade_exit(master_order_id=trade.id)
            return Response(
                _action_answer(request=request, event=event, message="Exit order processed successfully")
            )
        if event_type == "CANCEL":
            event = actions.trade_cancel(master_order_id=trade.id)
            return Response(
                _action_answer(request=request, event=event, message="Cancel processed successfully")
            )
        if event_type == "MODIFY":
            raise ValidationFailed(
                "eventType MODIFY: send the change to POST /api/trades/modify", extra={"field": "eventType"}
            )
        result = fanout.trade_fan_out(trade=trade)
        return Response(
            _fan_out_answer(request=request, result=result, message="Trade replicated successfully")
        )

    @extend_schema(
        parameters=[MASTER_ORDER_PARAM],
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
        summary="Mappings of a master order",
    )
    def get(self, request: Request) -> Response:
        master_order_id = _master_order_id(request.query_params)
        mappings = selectors.mappings_list(filters={"masterOrderId": master_order_id})
        return Response(
            {
                "ok": True,
                "masterOrderId": master_order_id,
                "mappings": s.MappingOutput(mappings, many=True).data,
            }
        )


class TradeCopySelectedApi(APIView):
    """Copy a master trade to the selected followers only."""

    @extend_schema(
        request=s.CopySelectedInput,
        responses={200: s.ReplicateOutput, **ERRORS, **REPLAY_CONFLICT},
        summary="Copy a trade to selected followers",
    )
    def post(self, request: Request) -> Response:
        data = request.data if hasattr(request.data, "get") else {}
        trade = fanout.trade_input_parse(data.get("trade"))
        follower_ids = data.get("follower_ids")
        if not isinstance(follower_ids, list) or not follower_ids:
            raise ValidationFailed("At least one follower must be selected", extra={"field": "follower_ids"})
        if not all(isinstance(item, str) and item.strip() for item in follower_ids):
            raise ValidationFailed(
                "follower_ids must be a list of follower ids", extra={"field": "follower_ids"}
            )
        ids = list(dict.fromkeys(item.strip() for item in follower_ids))
        result = fanout.trade_fan_out(trade=trade, follower_ids=ids, source=TradeEvent.Source.API)
        return Response(_fan_out_answer(request=request, result=result, message="Trade copied successfully"))


class TradeExitApi(APIView):
    """Exit a master order on every follower: cancel what is open, square off what is filled."""

    @extend_schema(
        request=s.MasterOrderInput,
        responses={200: s.ActionOutput, **ERRORS, **NOT_FOUND},
        summary="Exit a master order",
    )
    def post(self, request: Request) -> Response:
        master_order_id = _master_order_id(request.data)
        event = actions.trade_exit(master_order_id=master_order_id)
        return Response(
            _action_answer(request=request, event=event, message="Exit order processed successfully")
        )


class TradeModifyApi(APIView):
    """Apply a master modification (price, trigger, re-scaled quantity, order type) to open orders."""

    @extend_schema(
        request=s.ModifyInput,
        responses={200: s.ActionOutput, **ERRORS, **NOT_FOUND},
        summary="Modify follower orders",
    )
    def post(self, request: Request) -> Response:
        master_order_id = _master_order_id(request.data)
        modification = actions.modification_parse(request.data.get("modification"))
        event = actions.trade_modify(master_order_id=master_order_id, modification=modification)
        return Response(
            _action_answer(request=request, event=event, message="Order modifications processed", modify=True)
        )


class TradeCancelApi(APIView):
    """Cancel the open follower orders of a master order (master cancel)."""

    @extend_schema(
        request=s.MasterOrderInput,
        responses={200: s.ActionOutput, **ERRORS, **NOT_FOUND},
        summary="Cancel follower orders",
    )
    def post(self, request: Request) -> Response:
        master_order_id = _master_order_id(request.data)
        event = actions.trade_cancel(master_order_id=master_order_id)
        return Response(_action_answer(request=request, event=event, message="Cancel processed successfully"))


class TradeEventListApi(APIView):
    @extend_schema(
        parameters=[*PAGE_PARAMS, OpenApiParameter("eventType", OpenApiTypes.STR, OpenApiParameter.QUERY)],
        responses={200: s.EventsPageOutput, **ERRORS},
        summary="Trade events",
    )
    def get(self, request: Request) -> Response:
        rows, pagination = _page(request, selectors.events_list(filters=request.query_params))
        return Response({"ok": True, "events": s.EventOutput(rows, many=True).data, "pagination": pagination})


class OrderMappingListApi(APIView):
    @extend_schema(
        parameters=[
            *PAGE_PARAMS,
            OpenApiParameter("followerId", OpenApiTypes.STR, OpenApiParameter.QUERY),
            OpenApiParameter("status", OpenApiTypes.STR, OpenApiParameter.QUERY),
            OpenApiParameter("leg", OpenApiTypes.STR, OpenApiParameter.QUERY),
        ],
        responses={200: s.MappingsPageOutput, **ERRORS},
        summary="Order mappings",
    )
    def get(self, request: Request) -> Response:
        rows, pagination = _page(request, selectors.mappings_list(filters=request.query_params))
        return Response(
            {"ok": True, "mappings": s.MappingOutput(rows, many=True).data, "pagination": pagination}
        )


class TradeEventLogApi(APIView):
    @extend_schema(responses={200: s.LogsOutput, **ERRORS}, summary="Trade events as log lines (last 100)")
    def get(self, request: Request) -> Response:
        logs = [s.event_log_line(event) for event in selectors.events_list()[:100]]
        return Response({"ok": True, "count": len(logs), "logs": logs})
