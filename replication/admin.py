"""Admin: master trades and capture health, trade events, order mappings, follower order actions and risk
snapshots, read-only and filterable (status, follower, master order), with actions that call services: "Copy
to followers now", "Dismiss" and "Poll the master now" for master trades, "Reconcile now" for UNKNOWN
mappings, "Sync status now" for open ones and "Retry failed exit/modify/cancel/close actions" for trade
events."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.html import format_html

from accounts import validators as v
from accounts.models import Account
from copytrade.core.admin_display import ReadOnlyAdmin, icon, time_column, truncated
from copytrade.core.exceptions import ApplicationError
from replication import states
from replication.models import (
    CaptureStatus,
    FollowerRiskSnapshot,
    FreezeQuantity,
    MasterTrade,
    OrderAction,
    OrderMapping,
    TradeEvent,
)
from replication.services.action_events import trade_events_retry_failed_actions
from replication.services.capture import master_trades_copy, master_trades_dismiss
from replication.services.capture_poll import master_poll_now
from replication.services.freeze import freeze_quantity_delete, freeze_quantity_save
from replication.services.reconcile import order_mappings_reconcile_now
from replication.services.sweeper import order_mappings_sync_now


def _actor(request: HttpRequest) -> str:
    return f"admin:{request.user.get_username()}"


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
    fields = (
        "follower",
        "leg",
        "status",
        "quantity",
        "executed_quantity",
        "follower_order_id",
        "reason_short",
    )
    readonly_fields = fields
    show_change_link = True

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).select_related("follower")

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="Reason")
    def reason_short(self, obj: OrderMapping) -> str:
        return truncated(obj.reason, 60)


def _order(side: str, symbol: str, quantity: int) -> str:
    """An order as operators say it, e.g. BUY SBIN 10 (one column: a changelist fits a 1,366 px screen)."""
    return f"{side} {symbol} {quantity}"


@admin.register(TradeEvent)
class TradeEventAdmin(ReadOnlyAdmin):
    # The columns an operator scans; the event id, source, prices and message are on the event's page.
    list_display = [
        time_column("processed_at", "Time"),
        "event_type",
        "master_order",
        "order",
        "followers",
        "outcome",
    ]
    list_filter = ["event_type", "status", "source", "exchange", EventFollowerFilter, MasterOrderFilter]
    search_fields = ["event_id", "master_order_id", "symbol"]
    date_hierarchy = "processed_at"
    inlines = [OrderMappingInline]
    actions = ["retry_failed_actions"]

    @admin.display(description="Master order", ordering="master_order_id")
    def master_order(self, obj: TradeEvent) -> str:
        return obj.master_order_id

    @admin.display(description="Order", ordering="symbol")
    def order(self, obj: TradeEvent) -> str:
        return _order(obj.side, obj.symbol, obj.quantity)

    @admin.display(description="Followers")
    def followers(self, obj: TradeEvent) -> str:
        parts = [f"{obj.successful_followers}/{obj.total_followers} ok"]
        for count, word in (
            (obj.failed_followers, "failed"),
            (obj.skipped_followers, "skipped"),
            (obj.pending_followers, "pending"),
        ):
            if count:
                parts.append(f"{count} {word}")
        return ", ".join(parts)

    @admin.display(description="Status", ordering="status")
    def outcome(self, obj: TradeEvent) -> str:
        icons: dict[str, str] = {TradeEvent.Status.SUCCESS: "yes", TradeEvent.Status.WARNING: "alert"}
        kind = icons.get(obj.status, "no")
        return icon(kind, obj.get_status_display())

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
    # The columns an operator scans; prices, order tag, attempts and the follower's order id are on its page.
    list_display = [
        time_column("created_at", "Time"),
        "status",
        "follower_account",
        "master_order",
        "order",
        "filled",
        "reason_short",
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
    date_hierarchy = "created_at"
    actions = ["reconcile_now", "sync_status_now"]

    @admin.display(description="Master order", ordering="master_order_id")
    def master_order(self, obj: OrderMapping) -> str:
        return obj.master_order_id

    @admin.display(description="Follower", ordering="follower__account_id")
    def follower_account(self, obj: OrderMapping) -> str:
        return obj.follower.account_id

    @admin.display(description="Order", ordering="symbol")
    def order(self, obj: OrderMapping) -> str:
        part = f" slice {obj.slice_label}" if obj.slice_label else ""
        return f"{obj.leg}{part} {_order(obj.side, obj.symbol, obj.quantity)}"

    @admin.display(description="Filled", ordering="executed_quantity")
    def filled(self, obj: OrderMapping) -> int:
        return obj.executed_quantity

    @admin.display(description="Reason")
    def reason_short(self, obj: OrderMapping) -> str:
        return truncated(obj.reason, 32)

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
    list_display = [
        time_column("updated_at", "Updated"),
        "kind",
        "status",
        "follower_account",
        "master_order",
        "tries",
        "reason_short",
    ]
    list_filter = ["kind", "status"]
    search_fields = ["trade_event__master_order_id", "mapping__follower__account_id"]
    list_select_related = ["trade_event", "mapping__follower"]

    @admin.display(description="Master order", ordering="trade_event__master_order_id")
    def master_order(self, obj: OrderAction) -> str:
        return obj.trade_event.master_order_id

    @admin.display(description="Follower", ordering="mapping__follower__account_id")
    def follower_account(self, obj: OrderAction) -> str:
        return obj.mapping.follower.account_id

    @admin.display(description="Tries", ordering="attempts")
    def tries(self, obj: OrderAction) -> int:
        return obj.attempts

    @admin.display(description="Reason")
    def reason_short(self, obj: OrderAction) -> str:
        return truncated(obj.reason, 48)


@admin.register(MasterTrade)
class MasterTradeAdmin(ReadOnlyAdmin):
    """The master's orders as captured: what each meant (entry, close, reversal), whether it was copied or
    waits for the operator (NEW), and the actions to copy or dismiss the waiting ones and to poll now."""

    # What an operator scans for first (state, and the note saying why) before the order's details; the
    # capture bookkeeping (prices, sources, applied values) is on the trade's page.
    list_display = [
        "state_code",
        time_column("order_time", "Time"),
        "order_id",
        "order",
        "kind_code",
        "status",
        "note_short",
    ]
    list_display_links = ["order_id"]
    list_filter = ["state", "kind", "status", "source", "side", "exchange"]
    search_fields = ["broker_order_id", "symbol", "trading_symbol"]
    date_hierarchy = "created_at"
    list_select_related = ["account"]
    actions = ["copy_now", "dismiss", "poll_now"]
    readonly_fields = [field.name for field in MasterTrade._meta.fields]

    @admin.display(description="State", ordering="state")
    def state_code(self, obj: MasterTrade) -> str:
        return format_html('<span title="{}">{}</span>', obj.get_state_display(), obj.state)

    @admin.display(description="Order id", ordering="broker_order_id")
    def order_id(self, obj: MasterTrade) -> str:
        return obj.broker_order_id

    @admin.display(description="Order", ordering="symbol")
    def order(self, obj: MasterTrade) -> str:
        return _order(obj.side, obj.symbol, obj.quantity)

    @admin.display(description="Kind", ordering="kind")
    def kind_code(self, obj: MasterTrade) -> str:
        return format_html('<span title="{}">{}</span>', obj.get_kind_display(), obj.kind)

    @admin.display(description="Note")
    def note_short(self, obj: MasterTrade) -> str:
        return truncated(obj.note, 40)

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
        "account_name",
        "kind",
        "connected",
        "feed",
        time_column("last_frame_at", "Last frame"),
        time_column("last_run_at", "Last run"),
        "reconnects",
        "error_short",
    ]
    list_select_related = ["account"]

    @admin.display(description="Account", ordering="account__account_id")
    def account_name(self, obj: CaptureStatus) -> str:
        return obj.account.account_id

    @admin.display(description="Feed", boolean=True, ordering="feed_enabled")
    def feed(self, obj: CaptureStatus) -> bool | None:
        return obj.feed_enabled

    @admin.display(description="Last error")
    def error_short(self, obj: CaptureStatus) -> str:
        return truncated(obj.last_error, 40)


@admin.register(FollowerRiskSnapshot)
class FollowerRiskSnapshotAdmin(ReadOnlyAdmin):
    list_display = [
        "follower_account",
        "realised",
        "unrealised",
        "day_pnl",
        "opening",
        time_column("fetched_at", "Fetched"),
        "error_short",
    ]
    list_select_related = ["follower"]
    search_fields = ["follower__account_id"]

    @admin.display(description="Follower", ordering="follower__account_id")
    def follower_account(self, obj: FollowerRiskSnapshot) -> str:
        return obj.follower.account_id

    @admin.display(description="Realised", ordering="realised_pnl")
    def realised(self, obj: FollowerRiskSnapshot) -> Decimal:
        return obj.realised_pnl

    @admin.display(description="Unrealised", ordering="unrealised_pnl")
    def unrealised(self, obj: FollowerRiskSnapshot) -> Decimal:
        return obj.unrealised_pnl

    @admin.display(description="Day P&L")
    def day_pnl(self, obj: FollowerRiskSnapshot) -> Decimal:
        return obj.day_pnl

    @admin.display(description="Opening cash", ordering="opening_cash")
    def opening(self, obj: FollowerRiskSnapshot) -> Decimal | None:
        return obj.opening_cash

    @admin.display(description="Error")
    def error_short(self, obj: FollowerRiskSnapshot) -> str:
        return truncated(obj.error, 40)


class FreezeQuantityForm(forms.ModelForm):
    # A quantity's bounds, as everywhere (the column alone would take billions, and MariaDB then fails).
    freeze_quantity = forms.IntegerField(
        min_value=v.QUANTITY_MIN,
        max_value=v.QUANTITY_MAX,
        help_text=FreezeQuantity._meta.get_field("freeze_quantity").help_text,
    )

    class Meta:
        model = FreezeQuantity
        fields = ("exchange", "symbol", "freeze_quantity")

    def clean_symbol(self) -> str:
        symbol = self.cleaned_data["symbol"].strip().upper()
        if not v.SYMBOL_KEY.fullmatch(symbol):
            raise forms.ValidationError("An underlying as the contract master spells it: A-Z, 0-9, & . _ -")
        return symbol


@admin.register(FreezeQuantity)
class FreezeQuantityAdmin(admin.ModelAdmin):
    """The freeze quantities the operator keeps for underlyings the contract master gives none for: an F&O
    order above it is sent as slices. Every add, change and delete is audited."""

    form = FreezeQuantityForm
    list_display = ("exchange", "symbol", "freeze_quantity", "updated_at")
    list_filter = ("exchange",)
    search_fields = ("symbol",)

    def save_model(self, request, obj, form, change) -> None:
        freeze_quantity_save(actor=_actor(request), row=obj, changed=list(form.changed_data))

    def delete_model(self, request, obj) -> None:
        freeze_quantity_delete(actor=_actor(request), row=obj)

    def delete_queryset(self, request, queryset) -> None:
        for row in queryset:
            freeze_quantity_delete(actor=_actor(request), row=row)
