"""Replication API routes (the seed's paths), relative to /api/."""

from django.urls import path

from replication import apis

app_name = "replication"
urlpatterns = [
    path("trades/replicate", apis.TradeReplicateApi.as_view(), name="trade-replicate"),
    path("trades/copy-selected", apis.TradeCopySelectedApi.as_view(), name="trade-copy-selected"),
    path("trades/exit", apis.TradeExitApi.as_view(), name="trade-exit"),
    path("trades/modify", apis.TradeModifyApi.as_view(), name="trade-modify"),
    path("trades/cancel", apis.TradeCancelApi.as_view(), name="trade-cancel"),
    path("trades/events", apis.TradeEventListApi.as_view(), name="trade-events"),
    path("trades/mappings", apis.OrderMappingListApi.as_view(), name="trade-mappings"),
    path("trade-events", apis.TradeEventLogApi.as_view(), name="trade-event-logs"),
    path("alice/poll", apis.MasterPollApi.as_view(), name="alice-poll"),
    path("alice/push", apis.MasterPushApi.as_view(), name="alice-push"),
    path("alice/incoming", apis.MasterIncomingApi.as_view(), name="alice-incoming"),
    path("alice/clear", apis.MasterClearApi.as_view(), name="alice-clear"),
    path("alice/remove", apis.MasterRemoveApi.as_view(), name="alice-remove"),
    path("alice/auto-replicate", apis.MasterAutoReplicateApi.as_view(), name="alice-auto-replicate"),
    path("alice/webhook/<str:token>", apis.AliceWebhookApi.as_view(), name="alice-webhook"),
]
