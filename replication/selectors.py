"""Reads of the replication app: targets and their rules, mappings, events, and result rows for the APIs."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from datetime import time as dt_time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.exceptions import CredentialUnreadable
from accounts.models import Account, BrokerCredential, Consent, MasterSettings, RiskConfig
from accounts.selectors import credential_session_token, master_settings_get
from replication import risk
from replication.models import OrderAction, OrderMapping, TradeEvent

Status = OrderMapping.Status


def followers_for_fanout(*, follower_ids: Iterable[str] | None = None) -> QuerySet[Account]:
    """Active followers (all, or those among `follower_ids`), with credential, risk config and consent."""
    queryset = Account.objects.filter(role=Account.Role.FOLLOWER, status=Account.Status.ACTIVE)
    if follower_ids is not None:
        queryset = queryset.filter(account_id__in=list(follower_ids))
    return queryset.select_related("credential", "risk_config", "consent").order_by("account_id")


def _related(account: Account, name: str, model: type) -> Any:
    try:
        return getattr(account, name)
    except model.DoesNotExist:  # type: ignore[attr-defined]
        return None


def follower_rules(*, account: Account, master_settings: MasterSettings) -> risk.FollowerRules:
    """The follower's rules, flattened; a missing risk config means the seed's defaults."""
    config: RiskConfig | None = _related(account, "risk_config", RiskConfig)
    consent: Consent | None = _related(account, "consent", Consent)
    credential: BrokerCredential | None = _related(account, "credential", BrokerCredential)
    try:
        token = credential_session_token(credential)
    except CredentialUnreadable:
        session_status = risk.SESSION_UNREADABLE
    else:
        session_status = credential.session_status if token else BrokerCredential.SessionStatus.MISSING.value
    base = {
        "copy_trading_active": account.copy_trading_active,
        "consent_given": bool(consent and consent.trade_replication_enabled),
        "session_status": session_status,
    }
    if config is None:
        return risk.FollowerRules(**base, lot_multiplier=Decimal(master_settings.default_lot_multiplier))
    return risk.FollowerRules(
        **base,
        enabled=config.enabled,
        sizing_mode=config.sizing_mode,
        lot_multiplier=Decimal(config.lot_multiplier),
        fixed_quantity=config.fixed_quantity,
        max_quantity=config.max_quantity,
        max_order_value=config.max_order_value,
        max_daily_loss=config.max_daily_loss,
        allowed_instruments=tuple(config.allowed_instruments or ()),
        allowed_product_types=tuple(config.allowed_product_types or ()),
        allowed_order_types=tuple(config.allowed_order_types or ()),
    )


def limits_from(row: MasterSettings) -> risk.GlobalLimits:
    return risk.GlobalLimits(
        max_quantity_per_trade=row.max_quantity_per_trade,
        min_lot_size=row.min_lot_size,
        require_consent=settings.COPYTRADE_REQUIRE_CONSENT,
        max_daily_loss_percentage=row.max_daily_loss_percentage,
        max_concurrent_trades=row.max_concurrent_trades,
    )


def global_limits() -> risk.GlobalLimits:
    return limits_from(master_settings_get())


def entry_mappings(*, master_order_id: str) -> QuerySet[OrderMapping]:
    return (
        OrderMapping.objects.filter(master_order_id=master_order_id, leg=OrderMapping.Leg.ENTRY)
        .select_related("follower")
        .order_by("follower__account_id")
    )


def mappings_list(*, filters: dict[str, str] | None = None) -> QuerySet[OrderMapping]:
    """Mappings newest first, filtered by masterOrderId, followerId, status, leg."""
    filters = filters or {}
    queryset = OrderMapping.objects.select_related("follower").order_by("-created_at", "-id")
    if filters.get("masterOrderId"):
        queryset = queryset.filter(master_order_id=filters["masterOrderId"])
    if filters.get("followerId"):
        queryset = queryset.filter(follower__account_id=filters["followerId"])
    if filters.get("status"):
        queryset = queryset.filter(status=filters["status"].upper())
    if filters.get("leg"):
        queryset = queryset.filter(leg=filters["leg"].upper())
    return queryset


def events_list(*, filters: dict[str, str] | None = None) -> QuerySet[TradeEvent]:
    filters = filters or {}
    queryset = TradeEvent.objects.order_by("-processed_at", "-id")
    if filters.get("masterOrderId"):
        queryset = queryset.filter(master_order_id=filters["masterOrderId"])
    if filters.get("eventType"):
        queryset = queryset.filter(event_type=filters["eventType"].upper())
    return queryset


# ---------------------------------------------------------------- result rows (the seed's JSON)
@dataclass(frozen=True)
class Counts:
    successful: int = 0
    failed: int = 0
    skipped: int = 0
    pending: int = 0


def mapping_result_status(mapping: OrderMapping) -> str:
    """SUCCESS / SKIPPED / FAILED / PENDING for the seed's results list."""
    if mapping.status in OrderMapping.PLACED:
        return "SUCCESS"
    if mapping.status == Status.SKIPPED:
        return "SKIPPED"
    if mapping.status in OrderMapping.IN_FLIGHT:
        return "PENDING"
    if mapping.status == Status.CANCELLED and mapping.follower_order_id:
        return "SUCCESS"  # placed, later cancelled by a master cancel/exit
    return "FAILED"


def mapping_result(mapping: OrderMapping) -> dict[str, Any]:
    """One follower's result in the replicate/copy-selected answer (keys without a value are omitted)."""
    status = mapping_result_status(mapping)
    row: dict[str, Any] = {"follower_id": mapping.follower.account_id, "status": status}
    if status == "PENDING":
        row["reason"] = f"Order {mapping.status.lower()}: still in flight"
    elif mapping.reason:
        row["reason"] = mapping.reason
    if mapping.follower_order_id:
        row["follower_order_id"] = mapping.follower_order_id
    if status == "SUCCESS":
        # The seed reported the quantity it placed; real fills replace it once the order book says so.
        row["executed_quantity"] = mapping.executed_quantity or mapping.quantity
    if mapping.quantity and status != "SKIPPED":
        row["quantity"] = mapping.quantity
    if mapping.note:
        row["note"] = mapping.note
    row["order_mapping_id"] = mapping.pk
    return row


def results_counts(results: Iterable[dict[str, Any]]) -> Counts:
    tally = {"SUCCESS": 0, "FAILED": 0, "SKIPPED": 0, "PENDING": 0}
    for row in results:
        tally[row["status"]] = tally.get(row["status"], 0) + 1
    return Counts(tally["SUCCESS"], tally["FAILED"], tally["SKIPPED"], tally["PENDING"])


def event_mapping_counts(*, event: TradeEvent) -> Counts:
    """Totals of a PLACE event from its ENTRY mappings."""
    rows = OrderMapping.objects.filter(trade_event=event, leg=OrderMapping.Leg.ENTRY).aggregate(
        successful=Count(
            "id",
            filter=Q(status__in=OrderMapping.PLACED) | Q(status=Status.CANCELLED, follower_order_id__gt=""),
        ),
        skipped=Count("id", filter=Q(status=Status.SKIPPED)),
        pending=Count("id", filter=Q(status__in=OrderMapping.IN_FLIGHT)),
        total=Count("id"),
    )
    failed = rows["total"] - rows["successful"] - rows["skipped"] - rows["pending"]
    return Counts(rows["successful"], failed, rows["skipped"], rows["pending"])


def action_result(action: OrderAction) -> dict[str, Any]:
    """One follower's result of an exit/modify/cancel (the seed's {follower_id, status, reason})."""
    mapping = action.mapping
    row: dict[str, Any] = {"follower_id": mapping.follower.account_id}
    if action.status in (OrderAction.Status.PENDING, OrderAction.Status.RUNNING):
        row.update(status="PENDING", reason="Still in progress")
    elif action.status == OrderAction.Status.SKIPPED:
        row.update(status="SKIPPED", reason=action.reason)
    elif action.status == OrderAction.Status.FAILED:
        row.update(status="FAILED", reason=action.reason)
    elif action.kind == OrderAction.Kind.EXIT:
        row.update(_exit_leg_result(action))
    else:
        row.update(status="SUCCESS", reason=action.reason)
    if mapping.follower_order_id:
        row["follower_order_id"] = mapping.follower_order_id
    if action.kind == OrderAction.Kind.MODIFY:
        row["message"] = row["reason"]
    return row


def _exit_leg_result(action: OrderAction) -> dict[str, Any]:
    leg = (
        OrderMapping.objects.filter(
            master_order_id=action.mapping.master_order_id,
            follower_id=action.mapping.follower_id,
            leg=OrderMapping.Leg.EXIT,
        )
        .only("status", "quantity", "reason", "follower_order_id", "executed_quantity")
        .first()
    )
    if leg is None:
        return {"status": "SUCCESS", "reason": action.reason or "Exit order processed"}
    extra = {"exit_order_id": leg.follower_order_id} if leg.follower_order_id else {}
    if leg.status in OrderMapping.IN_FLIGHT:
        return {"status": "PENDING", "reason": f"Square-off of {leg.quantity} {leg.status.lower()}", **extra}
    if leg.status in OrderMapping.PLACED:
        return {"status": "SUCCESS", "reason": action.reason or "Exit order processed", **extra}
    return {"status": "FAILED", "reason": f"Square-off failed: {leg.reason}", **extra}


def event_actions(*, event: TradeEvent) -> QuerySet[OrderAction]:
    return (
        OrderAction.objects.filter(trade_event=event)
        .select_related("mapping", "mapping__follower")
        .order_by("mapping__follower__account_id")
    )


# An ENTRY in one of these states is (or may become) a position at the broker.
OPEN_TRADE_STATUSES = (
    Status.PENDING,
    Status.SUBMITTING,
    Status.UNKNOWN,
    Status.ACTIVE,
    Status.PARTIAL,
    Status.COMPLETED,
)
# An EXIT leg in one of these states did not square anything off: the trade is still open.
EXIT_DID_NOT_CLOSE = (Status.FAILED, Status.REJECTED, Status.CANCELLED, Status.SKIPPED)


def market_day_start() -> datetime:
    """Midnight today in the market's time zone (Asia/Kolkata), as an aware datetime."""
    zone = ZoneInfo(settings.MARKET_TIME_ZONE)
    return datetime.combine(timezone.now().astimezone(zone).date(), dt_time.min, tzinfo=zone)


def open_copied_trades(*, follower_pks: Iterable[int]) -> QuerySet[OrderMapping]:
    """ENTRY mappings created today (Asia/Kolkata) that may hold a position and have no closing EXIT leg."""
    closing_exit = OrderMapping.objects.filter(
        master_order_id=OuterRef("master_order_id"),
        follower_id=OuterRef("follower_id"),
        leg=OrderMapping.Leg.EXIT,
    ).exclude(status__in=EXIT_DID_NOT_CLOSE)
    return OrderMapping.objects.filter(
        follower_id__in=list(follower_pks),
        leg=OrderMapping.Leg.ENTRY,
        status__in=OPEN_TRADE_STATUSES,
        created_at__gte=market_day_start(),
    ).exclude(Exists(closing_exit))


def open_copied_trade_counts(*, follower_pks: Iterable[int]) -> dict[int, int]:
    """How many open copied trades each follower has today (followers with none are absent)."""
    rows = (
        open_copied_trades(follower_pks=follower_pks)
        .order_by()
        .values("follower_id")
        .annotate(open_trades=Count("id"))
    )
    return {row["follower_id"]: row["open_trades"] for row in rows}


def open_mapping_followers() -> list[int]:
    """Followers with orders we believe open (ACTIVE/PARTIAL): what the status sync reads."""
    return list(
        OrderMapping.objects.filter(status__in=OrderMapping.OPEN_AT_BROKER)
        .values_list("follower_id", flat=True)
        .distinct()
        .order_by("follower_id")
    )


# ---------------------------------------------------------------- bounded synchronous wait
def _poll(done, *, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + max(timeout, 0.0)
    while True:
        if done():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def mappings_wait(*, mapping_ids: list[int], timeout: float) -> bool:
    """Wait until none of the mappings is in flight (PENDING/SUBMITTING/UNKNOWN), at most `timeout` s."""
    if not mapping_ids:
        return True
    return _poll(
        lambda: (
            not OrderMapping.objects.filter(pk__in=mapping_ids, status__in=OrderMapping.IN_FLIGHT).exists()
        ),
        timeout=timeout,
    )


def actions_wait(*, event: TradeEvent, timeout: float) -> bool:
    """Wait until the event's actions are done and any exit legs they created are out of flight."""

    def done() -> bool:
        if OrderAction.objects.filter(
            trade_event=event, status__in=[OrderAction.Status.PENDING, OrderAction.Status.RUNNING]
        ).exists():
            return False
        return not OrderMapping.objects.filter(
            trade_event=event, leg=OrderMapping.Leg.EXIT, status__in=OrderMapping.IN_FLIGHT
        ).exists()

    return _poll(done, timeout=timeout)
