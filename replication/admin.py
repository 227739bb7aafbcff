"""Admin: master trades and capture health, trade events, order mappings, follower order actions and risk
snapshots, read-only and filterable (status, follower, master order), with actions that call services: "Copy
to followers now", "Dismiss" and "Poll the master now" for master trades, "Reconcile now" for UNKNOWN
mappings, "Sync status now" for open ones and "Retry failed exit/modify/cancel/close actions" for trade
events."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest

from accounts.models import Account
from copytrade.core.exceptions import ApplicationError
from replication import states
from replication.models import (
    CaptureStatus,
    FollowerRiskSnapshot,
    MasterTrade,
    OrderAction,
    OrderMapping,
    TradeEvent,
)
from replication.services.action_events import trade_events_retry_failed_actions
from replication.services.capture import master_trades_copy, master_trades_dismiss
from replication.services.capture_poll import master_poll_now
from replication.services.reconcile import order_mappings_reconcile_now
from replication.services.sweeper import order_mappings_sync_now


def _actor(request: HttpRequest) -> str:
    return f"admin:{request.user.get_username()}"


class ReadOnlyAdmin(admin.ModelAdmin):
    """Audit views: nothing is added, changed or deleted from here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class MasterOrderFilter(admin.SimpleListFilter):
    """The most recent master orders to pick from; any id works through ?master_order=<id>."""

    title = "master order"
    parameter_name = "master_order"
    RECENT = 20

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        recent: list[str] = []
        rows = model_admin.model.objects.order_by("-id").values_list("master_order_id", flat=True)[:500]
        for master_order_id in rows:
            if master_order_id not in recent:
                recent.append(master_order_id)
            if len(recent) == self.RECENT:
                break
        return [(value, value) for value in recent]

    def queryset(self, request: HttpRequest, queryset):
        if self.value():
            return queryset.filter(master_order_id=self.value())
        return queryset


class EventFollowerFilter(admin.SimpleListFilter):
    """Trade events that have a mapping for the follower."""

    title = "follower"
    parameter_name = "follower"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        followers = Account.objects.filter(role=Account.Role.FOLLOWER).order_by("account_id")[:200]
        return [(str(f.pk), f.account_id) for f in followers]

    def queryset(self, request: HttpRequest, queryset):
        if self.value():
            return queryset.filter(mappings__follower_id=self.value()).distinct()
        return queryset


class OrderMappingInline(admin.TabularInline):
    model = OrderMapping
    extra = 0
    can_delete = False
    fields = ("follower", "leg", "status", "quantity", "executed_quantity", "follower_order_id", "reason")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(TradeEvent)
class TradeEventAdmin(ReadOnlyAdmin):
    list_display = [
        "event_id",
        "event_type",
        "master_order_id",
        "symbol",
        "side",
        "quantity",
        "total_followers",
        "successful_followers",
        "failed_followers",
        "skipped_followers",
        "status",
        "source",
        "processed_at",
    ]
    list_filter = ["event_type", "status", "source", "exchange", EventFollowerFilter, MasterOrderFilter]
    search_fields = ["event_id", "master_order_id", "symbol"]
    date_hierarchy = "processed_at"
    inlines = [OrderMappingInline]
    actions = ["retry_failed_actions"]

    @admin.action(description="Retry failed exit/modify/cancel actions")
    def retry_failed_actions(self, request: HttpRequest, queryset) -> None:
        events = list(queryset.exclude(event_type=TradeEvent.EventType.PLACE).values_list("pk", flat=True))
        retried = trade_events_retry_failed_actions(event_ids=events, actor=_actor(request))
        self.message_user(
            request,
            f"{len(retried)} failed actions of {len(events)} exit/modify/cancel events run again.",
            messages.INFO,
        )


@admin.register(OrderMapping)
class OrderMappingAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "master_order_id",
        "follower",
        "leg",
        "symbol",
        "side",
        "quantity",
        "executed_quantity",
        "average_price",
        "status",
        "follower_order_id",
        "order_tag",
        "attempts",
        "updated_at",
    ]
    list_filter = [
        "status",
        "leg",
        "side",
        "exchange",
        "product_type",
        ("follower", admin.RelatedOnlyFieldListFilter),
        MasterOrderFilter,
    ]
    search_fields = ["master_order_id", "follower__account_id", "follower_order_id", "order_tag"]
    list_select_related = ["follower"]
    actions = ["reconcile_now", "sync_status_now"]

    @admin.action(description="Reconcile now (UNKNOWN: look the order tag up in the follower's order book)")
    def reconcile_now(self, request: HttpRequest, queryset) -> None:
        outcomes = order_mappings_reconcile_now(
            mapping_ids=list(queryset.values_list("pk", flat=True)), actor=_actor(request)
        )
        ignored = outcomes.pop("not UNKNOWN", 0)
        summary = ", ".join(f"{count} {status}" for status, count in sorted(outcomes.items())) or "none"
        self.message_user(
            request, f"Reconciled: {summary}; {ignored} not UNKNOWN (left alone).", messages.INFO
        )

    @admin.action(description="Sync status now (read the followers' order books)")
    def sync_status_now(self, request: HttpRequest, queryset) -> None:
        ids = list(queryset.filter(status__in=states.OPEN_AT_BROKER).values_list("pk", flat=True))
        changed = order_mappings_sync_now(mapping_ids=ids)
        self.message_user(request, f"{len(ids)} open mappings checked, {changed} changed.", messages.INFO)


@admin.register(OrderAction)
class OrderActionAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "trade_event", "mapping", "status", "reason", "attempts", "updated_at"]
    list_filter = ["kind", "status"]
    search_fields = ["trade_event__master_order_id", "mapping__follower__account_id"]


@admin.register(MasterTrade)
class MasterTradeAdmin(ReadOnlyAdmin):
    """The master's orders as captured: what each meant (entry, close, reversal), whether it was copied or
    waits for the operator (NEW), and the actions to copy or dismiss the waiting ones and to poll now."""

    # What an operator scans for first (state, and the note saying why) before the order's details.
    list_display = [
        "broker_order_id",
        "order_time",
        "symbol",
        "side",
        "quantity",
        "state",
        "kind",
        "status",
        "note",
    ]
    list_filter = ["state", "kind", "status", "source", "side", "exchange"]
    search_fields = ["broker_order_id", "symbol", "trading_symbol"]
    date_hierarchy = "created_at"
    list_select_related = ["account"]
    actions = ["copy_now", "dismiss", "poll_now"]
    readonly_fields = [field.name for field in MasterTrade._meta.fields]

    def has_copy_permission(self, request: HttpRequest) -> bool:
        # Copying places orders on every follower's account: a right of its own (superusers have it).
        return request.user.has_perm("replication.change_mastertrade")

    @admin.action(description="Copy to followers now (waiting trades)", permissions=["copy"])
    def copy_now(self, request: HttpRequest, queryset) -> None:
        pks = list(queryset.values_list("pk", flat=True))
        copied, followers = master_trades_copy(trade_pks=pks, actor=_actor(request))
        level = messages.SUCCESS if copied else messages.WARNING
        self.message_user(
            request,
            f"{copied} of {len(pks)} selected trades copied to {followers} followers "
            "(only waiting trades are copied; see each trade's note).",
            level,
        )

    @admin.action(description="Dismiss (never copy) waiting trades", permissions=["copy"])
    def dismiss(self, request: HttpRequest, queryset) -> None:
        dismissed = master_trades_dismiss(
            trade_pks=list(queryset.values_list("pk", flat=True)), actor=_actor(request)
        )
        self.message_user(request, f"{dismissed} waiting trades dismissed.", messages.INFO)

    @admin.action(description="Poll the master now (read its order book)", permissions=["copy"])
    def poll_now(self, request: HttpRequest, queryset) -> None:
        try:
            result = master_poll_now()
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        text = result.skipped or f"Polled: {result.new_trades} new, {result.changed} changed master orders."
        self.message_user(request, text, messages.INFO)


@admin.register(CaptureStatus)
class CaptureStatusAdmin(ReadOnlyAdmin):
    """How the master's orders are being captured: the order-update stream and the poll."""

    list_display = [
        "account",
        "kind",
        "connected",
        "feed_enabled",
        "connected_at",
        "last_frame_at",
        "last_run_at",
        "reconnects",
        "last_error",
        "holder",
    ]
    list_select_related = ["account"]


@admin.register(FollowerRiskSnapshot)
class FollowerRiskSnapshotAdmin(ReadOnlyAdmin):
    list_display = [
        "follower",
        "realised_pnl",
        "unrealised_pnl",
        "day_pnl",
        "opening_cash",
        "fetched_at",
        "error",
    ]
    list_select_related = ["follower"]
    search_fields = ["follower__account_id"]

    @admin.display(description="Day P&L")
    def day_pnl(self, obj: FollowerRiskSnapshot):
        return obj.day_pnl
