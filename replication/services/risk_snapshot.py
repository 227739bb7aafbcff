"""Follower risk snapshots: today's P&L and opening cash read from the broker, for the loss rules.

A beat task refreshes every active, session-VALID follower's snapshot each REPLICATION_RISK_SNAPSHOT_INTERVAL
(one task per follower, two broker reads: positions() and limits()). Alice Blue allows 1,800 non-order calls
per 15 minutes per account: 2 calls every 30 s is 60 per 15 minutes, leaving the rest for order books.
A fan-out uses a snapshot younger than REPLICATION_RISK_SNAPSHOT_MAX_AGE and reads the broker live otherwise,
so placing does not wait on an extra round trip. A refresh that finds a follower at or beyond a loss limit
auto-liquidates it when MasterSettings.auto_liquidate_on_loss is on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from accounts.exceptions import SessionMissing
from accounts.models import Account, BrokerCredential
from accounts.selectors import (
    account_broker_client,
    broker_calls_allowed,
    credential_of,
    market_today,
    master_settings_get,
)
from accounts.services.accounts import account_broker_capital_record
from accounts.services.sessions import account_session_mark_expired, account_session_note_success
from broker.exceptions import BrokerAuthError, BrokerError
from broker.types import Funds
from replication import risk, selectors
from replication.models import FollowerRiskSnapshot
from replication.services.liquidation import follower_liquidate
from replication.services.notify_hooks import loss_limit_notify

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AccountState:
    """What the loss rules read from the broker; None where the read failed or was not needed."""

    pnl_today: Decimal | None = None
    opening_cash: Decimal | None = None
    source: str = "live"  # "snapshot" or "live"
    session_expired: bool = False  # a live read was refused: the follower's session is dead (now marked so)


def opening_cash_of(funds: Funds) -> Decimal:
    """The day's opening cash; brokers that omit it get available cash plus the margin in use."""
    if funds.opening_cash is not None:
        return funds.opening_cash
    return funds.available_cash + funds.utilized_margin


def followers_for_risk_snapshot() -> list[int]:
    """Active followers with a session not known dead: whose snapshots the beat task refreshes."""
    return list(
        Account.objects.filter(
            role=Account.Role.FOLLOWER, status=Account.Status.ACTIVE, credential__isnull=False
        )
        .exclude(
            credential__session_status__in=(
                BrokerCredential.SessionStatus.EXPIRED,
                BrokerCredential.SessionStatus.MISSING,
            )
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _snapshot_is_fresh(snapshot: FollowerRiskSnapshot, *, need_opening_cash: bool) -> bool:
    if snapshot.error or snapshot.fetched_at is None:
        return False
    if need_opening_cash and snapshot.opening_cash is None:
        return False
    age = timezone.now() - snapshot.fetched_at
    return age <= timedelta(seconds=settings.REPLICATION_RISK_SNAPSHOT_MAX_AGE)


def _read_live(account: Account, what: str) -> tuple[Decimal | None, bool]:
    """Today's P&L ("positions") or opening cash ("limits") straight from the broker, and whether the broker
    refused the session (None when unreadable: the rule then skips, no guessing with real money)."""
    try:
        client = account_broker_client(account=account)
        if what == "positions":
            return risk.day_pnl(client.positions()), False
        return opening_cash_of(client.limits()), False
    except BrokerAuthError as exc:
        account_session_mark_expired(account=account, reason=f"Session expired: {exc.message}")
        return None, True
    except Exception as exc:  # any other failure (BrokerError, SessionMissing, a bug): the rule then skips
        logger.warning(
            "[RISK] follower %s: %s unreadable for the daily-loss rules: %s",
            account.account_id,
            what,
            getattr(exc, "code", type(exc).__name__),
        )
        return None, False
    finally:
        close_old_connections()


def account_opening_cash_read(account: Account) -> tuple[Decimal | None, bool]:
    """The account's opening cash straight from the broker's limits() (capital sizing's read), and whether
    the broker refused the session; None when unreadable."""
    return _read_live(account, "limits")


def follower_account_states(
    *,
    accounts: Sequence[Account],
    need_opening_cash: bool,
    opening_cash_known: Mapping[int, Decimal] | None = None,
) -> dict[int, AccountState]:
    """Each follower's P&L today (and opening cash): from a fresh snapshot, else read live in parallel.

    The live reads (positions, and limits when needed) all run at once, bounded by
    REPLICATION_POSITIONS_CONCURRENCY, so a stale follower costs about one broker round trip. Opening cash
    already read from limits() today (`opening_cash_known`, capital sizing's read) is not read again.
    """
    known = opening_cash_known or {}
    if not accounts:
        return {}
    snapshots = {
        s.follower_id: s
        for s in FollowerRiskSnapshot.objects.filter(follower_id__in=[a.pk for a in accounts])
    }
    states: dict[int, AccountState] = {}
    stale: list[Account] = []
    for account in accounts:
        snapshot = snapshots.get(account.pk)
        if snapshot is not None and _snapshot_is_fresh(snapshot, need_opening_cash=need_opening_cash):
            states[account.pk] = AccountState(
                pnl_today=snapshot.day_pnl, opening_cash=snapshot.opening_cash, source="snapshot"
            )
        else:
            stale.append(account)
    if not stale:
        return states
    reads = [(a, "positions") for a in stale] + (
        [(a, "limits") for a in stale if a.pk not in known] if need_opening_cash else []
    )
    with ThreadPoolExecutor(max_workers=min(len(reads), settings.REPLICATION_POSITIONS_CONCURRENCY)) as pool:
        values = list(pool.map(lambda job: _read_live(*job), reads))
    found = {(account.pk, what): value for (account, what), value in zip(reads, values, strict=True)}
    for account in stale:
        pnl, pnl_refused = found[(account.pk, "positions")]
        cash, cash_refused = found.get((account.pk, "limits"), (known.get(account.pk), False))
        states[account.pk] = AccountState(
            pnl_today=pnl, opening_cash=cash, source="live", session_expired=pnl_refused or cash_refused
        )
    return states


def _record_error(follower: Account, error: str) -> None:
    snapshot, _created = FollowerRiskSnapshot.objects.get_or_create(follower=follower)
    snapshot.error = error[:255]
    snapshot.save(update_fields=["error", "updated_at"])


def follower_risk_snapshot_refresh(*, follower_pk: int) -> FollowerRiskSnapshot | None:
    """Read the follower's positions and limits once; store the snapshot; auto-liquidate past a loss limit.

    Two non-order calls per run. A failed read keeps the last values, records the error (the fan-out then
    reads live), and marks the session EXPIRED when the broker says so. None when the follower is gone.
    """
    follower = (
        Account.objects.select_related("credential", "risk_config", "consent")
        .filter(pk=follower_pk, role=Account.Role.FOLLOWER)
        .first()
    )
    if follower is None:
        return None
    if not broker_calls_allowed(credential_of(follower)):
        return None  # no call with a session known to be dead; the next refresh after a login reads it
    try:
        client = account_broker_client(account=follower)
        realised, unrealised = risk.pnl_parts(client.positions())
        opening = opening_cash_of(client.limits())
    except BrokerAuthError as exc:
        account_session_mark_expired(account=follower, reason=f"Session expired: {exc.message}")
        _record_error(follower, f"Session expired: {exc.code}")
        logger.warning("[RISK] follower %s: session expired; snapshot not refreshed", follower.account_id)
        return None
    except (BrokerError, SessionMissing) as exc:
        code = getattr(exc, "code", type(exc).__name__)
        _record_error(follower, f"Positions/limits unreadable: {code}")
        logger.warning("[RISK] follower %s: positions/limits unreadable (%s)", follower.account_id, code)
        return None
    account_session_note_success(account=follower)
    if (
        follower.capital_source == Account.CapitalSource.BROKER
        and follower.broker_capital_day != market_today()
    ):
        account_broker_capital_record(account=follower, capital=opening)  # the day's read, at no extra call
    snapshot, _created = FollowerRiskSnapshot.objects.update_or_create(
        follower=follower,
        defaults={
            "realised_pnl": realised.quantize(Decimal("0.01")),
            "unrealised_pnl": unrealised.quantize(Decimal("0.01")),
            "opening_cash": opening.quantize(Decimal("0.01")),
            "fetched_at": timezone.now(),
            "error": "",
        },
    )
    logger.debug(
        "[RISK] follower %s: realised %s unrealised %s opening cash %s",
        follower.account_id,
        realised,
        unrealised,
        opening,
    )
    _liquidate_if_breached(follower=follower, snapshot=snapshot)
    return snapshot


def _liquidate_if_breached(*, follower: Account, snapshot: FollowerRiskSnapshot) -> None:
    master_settings = master_settings_get()
    rules = selectors.follower_rules(account=follower, master_settings=master_settings)
    limits = selectors.limits_from(master_settings)
    breach = risk.loss_limit_breach(
        rules=rules, limits=limits, pnl_today=snapshot.day_pnl, opening_cash=snapshot.opening_cash
    )
    if not breach:
        return
    loss_limit_notify(follower=follower, breach=breach, auto_liquidate=master_settings.auto_liquidate_on_loss)
    if not master_settings.auto_liquidate_on_loss:
        logger.info("[RISK] follower %s: %s (auto-liquidate is off)", follower.account_id, breach)
        return
    follower_liquidate(follower_pk=follower.pk, reason=breach)
