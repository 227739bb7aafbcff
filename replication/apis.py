"""Replication APIs with the seed's paths and JSON: replicate, copy-selected, exit, modify, cancel, events,
mappings, and the trade-event log lines. Each parses with a serializer, calls one service, and serializes.

Mutations answer after the follower orders settle or REPLICATION_SYNC_TIMEOUT passes (or a shorter `?wait=`),
whichever is first; what is still in flight is reported PENDING and can be read back with
GET /api/trades/replicate.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts.selectors import account_get, master_get_active
from copytrade.core.exceptions import NotFound
from copytrade.core.schema import error_responses
from replication import dispatch, selectors
from replication import serializers as s
from replication.models import OrderAction, TradeEvent
from replication.services import capture, capture_inbound, capture_poll, exits, fanout, modify
from replication.services.events import trade_event_refresh_totals

S = TypeVar("S", bound=serializers.Serializer)
WAIT_PARAM = s.WaitQuery


def _parse(serializer_class: type[S], data: Any) -> S:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer


def _actor(request: Request) -> str:
    return getattr(request.user, "username", "") or "api"


def _wait(request: Request) -> float:
    return _parse(s.WaitQuery, request.query_params).seconds()


def _fan_out_answer(*, result: fanout.FanOutResult, wait: float, message: str) -> dict[str, Any]:
    ids = [m.pk for m in result.mappings]
    selectors.mappings_wait(mapping_ids=ids, timeout=wait)
    mappings = list(selectors.entry_mappings(master_order_id=result.event.master_order_id).filter(pk__in=ids))
    results = s.results_per_order(mappings, s.MappingResultOutput)
    counts = s.counts_of(results)
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


def _action_answer(*, event: TradeEvent, wait: float, message: str) -> dict[str, Any]:
    selectors.actions_wait(event=event, timeout=wait)
    actions: list[OrderAction] = list(selectors.event_actions(event=event))
    context = {"exit_legs": selectors.exit_legs_by_follower(event=event)}
    results = s.results_per_order(actions, s.ActionResultOutput, context=context)
    counts = s.counts_of(results)
    trade_event_refresh_totals(event=event)
    total = "total_orders" if event.event_type == TradeEvent.EventType.MODIFY else "total_followers"
    return {
        "ok": True,
        "message": message,
        "masterOrderId": event.master_order_id,
        "eventId": event.event_id,
        "summary": {
            total: len(results),
            "successful": counts.successful,
            "failed": counts.failed,
            "skipped": counts.skipped,
            "pending": counts.pending,
        },
        "results": results,
    }


def _page(query: s.PageQuery, queryset: QuerySet) -> tuple[list, dict[str, Any]]:
    limit, offset = query.validated_data["limit"], query.validated_data["offset"]
    total = queryset.count()
    rows = list(queryset[offset : offset + limit]) if offset < total else []
    return rows, {"total": total, "limit": limit, "offset": offset, "hasMore": offset + len(rows) < total}


def _exit_answer(event: TradeEvent, wait: float) -> dict[str, Any]:
    return _action_answer(event=event, wait=wait, message="Exit order processed successfully")


def _cancel_answer(event: TradeEvent, wait: float) -> dict[str, Any]:
    return _action_answer(event=event, wait=wait, message="Cancel processed successfully")


class TradeReplicateApi(APIView):
    """Replicate a master trade to every active follower; read back a master order's mappings."""

    @extend_schema(
        operation_id="trades_replicate",
        request=s.ReplicateInput,
        parameters=[WAIT_PARAM],
        responses={200: s.ReplicateOutput, **error_responses(400, 401, 404, 409, 429)},
        summary="Replicate a trade",
        description=(
            "eventType EXIT or CANCEL exits or cancels the master order instead (answering as /trades/exit); "
            "MODIFY is refused: send it to /trades/modify. 409 `copying_stopped` while the operator's kill "
            "switch is on (nothing is written; exits still work), `trade_conflict` for a replay with other "
            "details, `trade_exited` after the master order was exited."
        ),
    )
    def post(self, request: Request) -> Response:
        wait = _wait(request)
        data = _parse(s.ReplicateInput, request.data)
        trade = fanout.TradeInput(**data.validated_data["trade"])
        event_type = data.validated_data["eventType"]
        # The seed labelled the event with eventType; an exit or cancel replicated as a new entry would open
        # positions instead of closing them, so those go to the exit and cancel services.
        if event_type == TradeEvent.EventType.EXIT:
            return Response(_exit_answer(exits.trade_exit(master_order_id=trade.id), wait))
        if event_type == TradeEvent.EventType.CANCEL:
            return Response(_cancel_answer(exits.trade_cancel(master_order_id=trade.id), wait))
        if event_type == TradeEvent.EventType.MODIFY:
            raise serializers.ValidationError(
                {"eventType": "MODIFY: send the change to POST /api/trades/modify"}
            )
        result = fanout.trade_fan_out(trade=trade)
        return Response(_fan_out_answer(result=result, wait=wait, message="Trade replicated successfully"))

    @extend_schema(
        operation_id="trades_replicate_read",
        parameters=[s.MasterOrderQuery],
        responses={200: s.MappingsReadOutput, **error_responses(400, 401, 429)},
        summary="Mappings of a master order",
    )
    def get(self, request: Request) -> Response:
        master_order_id = _parse(s.MasterOrderQuery, request.query_params).validated_data["masterOrderId"]
        mappings = selectors.mappings_list(filters={"masterOrderId": master_order_id})
        body = {
            "ok": True,
            "masterOrderId": master_order_id,
            "mappings": s.MappingOutput(mappings, many=True).data,
        }
        return Response(body)


class TradeCopySelectedApi(APIView):
    """Copy a master trade to the selected followers only."""

    @extend_schema(
        operation_id="trades_copy_selected",
        request=s.CopySelectedInput,
        parameters=[WAIT_PARAM],
        responses={200: s.ReplicateOutput, **error_responses(400, 401, 404, 409, 429)},
        summary="Copy a trade to selected followers",
        description=(
            "Every follower id must exist (404 naming the unknown ones, and nothing is written); 409 "
            "`copying_stopped` while the kill switch is on."
        ),
    )
    def post(self, request: Request) -> Response:
        wait = _wait(request)
        data = _parse(s.CopySelectedInput, request.data).validated_data
        trade = fanout.TradeInput(**data["trade"])
        result = fanout.trade_fan_out(
            trade=trade, follower_ids=data["follower_ids"], source=TradeEvent.Source.API
        )
        return Response(_fan_out_answer(result=result, wait=wait, message="Trade copied successfully"))


class TradeExitApi(APIView):
    """Exit a master order on every follower: cancel what is open, square off what is filled."""

    @extend_schema(
        operation_id="trades_exit",
        request=s.MasterOrderInput,
        parameters=[WAIT_PARAM],
        responses={200: s.ActionOutput, **error_responses(400, 401, 404, 429)},
        summary="Exit a master order",
    )
    def post(self, request: Request) -> Response:
        wait = _wait(request)
        master_order_id = _parse(s.MasterOrderInput, request.data).validated_data["masterOrderId"]
        return Response(_exit_answer(exits.trade_exit(master_order_id=master_order_id), wait))


class TradeModifyApi(APIView):
    """Apply a master modification (price, trigger, re-scaled quantity, order type) to open orders."""

    @extend_schema(
        operation_id="trades_modify",
        request=s.ModifyInput,
        parameters=[WAIT_PARAM],
        responses={200: s.ActionOutput, **error_responses(400, 401, 404, 429)},
        summary="Modify follower orders",
    )
    def post(self, request: Request) -> Response:
        wait = _wait(request)
        data = _parse(s.ModifyInput, request.data)
        event = modify.trade_modify(
            master_order_id=data.validated_data["masterOrderId"],
            modification=s.ModifyInput.modification_of(data.validated_data),
        )
        return Response(_action_answer(event=event, wait=wait, message="Order modifications processed"))


class TradeCancelApi(APIView):
    """Cancel the open follower orders of a master order (master cancel)."""

    @extend_schema(
        operation_id="trades_cancel",
        request=s.MasterOrderInput,
        parameters=[WAIT_PARAM],
        responses={200: s.ActionOutput, **error_responses(400, 401, 404, 429)},
        summary="Cancel follower orders",
    )
    def post(self, request: Request) -> Response:
        wait = _wait(request)
        master_order_id = _parse(s.MasterOrderInput, request.data).validated_data["masterOrderId"]
        return Response(_cancel_answer(exits.trade_cancel(master_order_id=master_order_id), wait))


class TradeEventListApi(APIView):
    @extend_schema(
        operation_id="trades_events_list",
        parameters=[s.EventsQuery],
        responses={200: s.EventsPageOutput, **error_responses(400, 401, 429)},
        summary="Trade events",
    )
    def get(self, request: Request) -> Response:
        query = _parse(s.EventsQuery, request.query_params)
        rows, pagination = _page(query, selectors.events_list(filters=query.validated_data))
        return Response({"ok": True, "events": s.EventOutput(rows, many=True).data, "pagination": pagination})


class OrderMappingListApi(APIView):
    @extend_schema(
        operation_id="trades_mappings_list",
        parameters=[s.MappingsQuery],
        responses={200: s.MappingsPageOutput, **error_responses(400, 401, 429)},
        summary="Order mappings",
    )
    def get(self, request: Request) -> Response:
        query = _parse(s.MappingsQuery, request.query_params)
        rows, pagination = _page(query, selectors.mappings_list(filters=query.validated_data))
        return Response(
            {"ok": True, "mappings": s.MappingOutput(rows, many=True).data, "pagination": pagination}
        )


class TradeEventLogApi(APIView):
    @extend_schema(
        operation_id="trade_events_log",
        responses={200: s.LogsOutput, **error_responses(401, 429)},
        summary="Trade events as log lines (last 100)",
    )
    def get(self, request: Request) -> Response:
        logs = s.LogLineOutput(selectors.events_list()[:100], many=True).data
        return Response({"ok": True, "count": len(logs), "logs": logs})


# ---------------------------------------------------------------- master capture and the incoming queue
class MasterPollApi(APIView):
    """Poll the master's order book now (what beat does every few seconds)."""

    @extend_schema(
        operation_id="alice_poll",
        request=None,
        responses={200: s.PollOutput, **error_responses(401, 409, 429, 502)},
        summary="Poll the master now",
        description="Reads the active master's order book once and ingests what changed; newTrades counts "
        "the master orders seen for the first time. 409 while another poll is running, 502 when Alice Blue "
        "cannot be read.",
    )
    def post(self, request: Request) -> Response:
        result = capture_poll.master_poll_now()
        message = result.skipped if result.skipped else f"Polled {result.accounts} accounts"
        return Response({"ok": True, "newTrades": result.new_trades, "message": message})


class MasterPushApi(APIView):
    """Master trades from an external feed (the seed's push)."""

    @extend_schema(
        operation_id="alice_push",
        request=s.PushInput,
        responses={200: s.PushOutput, **error_responses(400, 401, 404, 429)},
        summary="Push master trades",
        description="accountId must be the active master (its account id or Alice Blue user id). Each trade "
        "goes through the same ingest as the stream and the poll: copied, queued or closing as it means; "
        "stored counts the trades not seen before.",
    )
    def post(self, request: Request) -> Response:
        data = _parse(s.PushInput, request.data).validated_data
        trades = [capture_inbound.pushed_trade(row) for row in data["trades"]]
        received, stored = capture_inbound.master_trades_push(account_id=data["accountId"], trades=trades)
        return Response({"ok": True, "received": received, "stored": stored})


class MasterIncomingApi(APIView):
    """The master trades captured (the operator's queue), newest first."""

    @extend_schema(
        operation_id="alice_incoming",
        parameters=[s.IncomingQuery],
        responses={200: s.IncomingOutput, **error_responses(400, 401, 429)},
        summary="Captured master trades",
        description="Trades not cleared from the queue; `state` filters (NEW: waiting for the operator).",
    )
    def get(self, request: Request) -> Response:
        query = _parse(s.IncomingQuery, request.query_params).validated_data
        trades = selectors.master_trades_incoming(state=query.get("state"))[: query["limit"]]
        return Response({"ok": True, "trades": s.IncomingTradeOutput(trades, many=True).data})


class MasterClearApi(APIView):
    @extend_schema(
        operation_id="alice_clear",
        request=None,
        responses={200: s.ClearOutput, **error_responses(401, 429)},
        summary="Clear the queue",
        description="Every trade leaves the queue; those waiting (NEW) are dismissed and never copied. The "
        "rows stay as the record (admin, Master trades).",
    )
    def delete(self, request: Request) -> Response:
        cleared = capture.master_trades_clear(actor=_actor(request))
        return Response({"ok": True, "success": True, "cleared": cleared})


class MasterRemoveApi(APIView):
    @extend_schema(
        operation_id="alice_remove",
        request=s.RemoveInput,
        responses={200: s.RemoveOutput, **error_responses(400, 401, 404, 429)},
        summary="Remove trades from the queue",
        description="The given tradeIds of the account (all of its trades without tradeIds) leave the queue; "
        "those waiting (NEW) are dismissed and never copied.",
    )
    def post(self, request: Request) -> Response:
        data = _parse(s.RemoveInput, request.data).validated_data
        account = account_get(account_id=data["accountId"])
        removed = capture.master_trades_clear(
            actor=_actor(request), account=account, broker_order_ids=data.get("tradeIds")
        )
        return Response({"ok": True, "removed": removed})


class MasterAutoReplicateApi(APIView):
    @extend_schema(
        operation_id="alice_auto_replicate",
        request=None,
        responses={200: s.AutoReplicateOutput, **error_responses(401, 429)},
        summary="Copy every waiting master trade",
        description="Fans out every queued (NEW) master trade to the active followers, as each order stands "
        "now (an executed order is copied as a market order for what filled; a cancelled one is dismissed).",
    )
    def post(self, request: Request) -> Response:
        if master_get_active() is None:
            return Response(
                {
                    "ok": True,
                    "autoReplicated": 0,
                    "totalFollowers": 0,
                    "message": "No master account configured",
                }
            )
        if not selectors.followers_for_fanout().exists():
            return Response(
                {"ok": True, "autoReplicated": 0, "totalFollowers": 0, "message": "No active followers"}
            )
        copied, followers = capture.master_trades_auto_replicate(actor=_actor(request))
        return Response(
            {
                "ok": True,
                "autoReplicated": copied,
                "totalFollowers": followers,
                "message": f"Auto-replicated {copied} trades to {followers} followers",
            }
        )


class AliceWebhookApi(APIView):
    """Alice Blue's order webhook, at /api/alice/webhook/<this deployment's token>.

    Unsigned by Alice Blue, so never trusted: a payload only names an order, which a task then reads from the
    master's own book. A wrong token is a 404 like any unknown path (it reveals nothing).
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "webhook"

    @extend_schema(
        operation_id="alice_webhook",
        request=OpenApiTypes.OBJECT,
        responses={200: s.OkOutput, **error_responses(400, 404, 429)},
        auth=[],
        summary="Alice Blue's order webhook",
        description=(
            "For Alice Blue, not for clients: register the URL with `manage.py alice_webhook subscribe`. "
            "`token` is this deployment's secret (ALICE_WEBHOOK_TOKEN, or derived from DJANGO_SECRET_KEY); "
            "any other token is a 404. The payload only names an order (norenordno); that order is read from "
            "the master's own order book and the read is ingested."
        ),
    )
    def post(self, request: Request, token: str) -> Response:
        if not capture_inbound.webhook_token_matches(token):
            raise NotFound("Not found", code="not_found")
        order_id, _account = capture_inbound.webhook_order_id(request.data)
        if order_id:
            dispatch.webhook_order_refresh_enqueue(order_id)
        return Response({"ok": True})
