"""Admin: trade events, order mappings, follower order actions and risk snapshots, read-only and filterable
(status, follower, master order), with a "Reconcile now" action for UNKNOWN mappings, "Sync status now"
for open ones and "Retry failed exit/modify/cancel actions" for trade events (all call services)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest

from accounts.models import Account
from replication import states
from replication.models import FollowerRiskSnapshot, MasterTrade, OrderAction, OrderMapping, TradeEvent
from replication.services.action_events import trade_events_retry_failed_actions
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
    list_display = [
        "broker_order_id",
        "account",
        "symbol",
        "side",
        "quantity",
        "filled_quantity",
        "price",
        "status",
        "state",
        "created_at",
    ]
    list_filter = ["state", "side", "exchange"]
    search_fields = ["broker_order_id", "symbol"]


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
