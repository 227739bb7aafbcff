"""Capitals for capital sizing (RiskConfig sizing mode CAPITAL): the master's and each follower's today.

An account's capital is its fixed capital, or the broker's opening cash (limits(), `openingCashLimit`: the
day's starting balance, which positions opened during the day do not change, unlike `tradingLimit`) read at
most once per trading day (Asia/Kolkata) and kept on the account row. The beat reads it before the open; a
fan-out reads it live only when today's value is missing (in parallel, as the loss rules read positions), and
the risk-snapshot refresh records it from the limits() read it makes anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from decimal import Decimal

from django.conf import settings
from django.db.models import Q

from accounts.models import Account, BrokerCredential
from accounts.selectors import account_capital_today, broker_calls_allowed, credential_of, master_get_active
from accounts.services.accounts import account_broker_capital_record
from replication import risk
from replication.services.risk_snapshot import account_opening_cash_read

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SizingCapitals:
    """The master's capital today (None: unknown) and the followers' rules with their capital filled in."""

    master_capital: Decimal | None
    rules: dict[int, risk.FollowerRules]
    # Opening cash read from limits() today, by account pk: the loss rules need not read it again.
    opening_cash: Mapping[int, Decimal]


def _capitals_read(accounts: Sequence[Account]) -> tuple[dict[int, Decimal | None], set[int]]:
    """Today's capital of each account (broker ones not read yet today are read now, in parallel, and kept),
    and the accounts whose session the broker refused (now marked EXPIRED)."""
    found: dict[int, Decimal | None] = {a.pk: account_capital_today(a) for a in accounts}
    refused: set[int] = set()
    missing = [
        a
        for a in accounts
        if found[a.pk] is None
        and a.capital_source == Account.CapitalSource.BROKER
        and broker_calls_allowed(credential_of(a))
    ]
    if not missing:
        return found, refused
    workers = min(len(missing), settings.REPLICATION_POSITIONS_CONCURRENCY)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        reads = list(pool.map(account_opening_cash_read, missing))
    for account, (cash, session_refused) in zip(missing, reads, strict=True):
        if session_refused:
            refused.add(account.pk)
        if cash is None:
            logger.warning("[CAPITAL] account %s: capital unreadable from broker limits", account.account_id)
            continue
        account_broker_capital_record(account=account, capital=cash)
        found[account.pk] = account_capital_today(account)
    return found, refused


def sizing_capitals(
    *, followers: Sequence[Account], rules: dict[int, risk.FollowerRules], limits: risk.GlobalLimits
) -> SizingCapitals:
    """The capitals capital sizing needs for these followers: none unless one is in CAPITAL mode and would
    reach sizing; then the master's and theirs, read from the broker only when today's value is missing."""
    sizing = [f for f in followers if risk.needs_capital(rules[f.pk], limits)]
    if not sizing:
        return SizingCapitals(master_capital=None, rules=rules, opening_cash={})
    master = master_get_active()
    accounts = [*([master] if master is not None else []), *sizing]
    capitals, refused = _capitals_read(accounts)
    filled = dict(rules)
    for follower in sizing:
        filled[follower.pk] = replace(rules[follower.pk], capital=capitals[follower.pk])
        if follower.pk in refused:  # skipped as the session's, not the capital's, fault
            filled[follower.pk] = replace(filled[follower.pk], session_status=risk.SESSION_EXPIRED)
    opening_cash = {
        a.pk: capital
        for a in sizing
        if a.capital_source == Account.CapitalSource.BROKER and (capital := capitals[a.pk]) is not None
    }
    return SizingCapitals(
        master_capital=capitals[master.pk] if master is not None else None,
        rules=filled,
        opening_cash=opening_cash,
    )


def accounts_needing_broker_capital() -> list[int]:
    """The active CAPITAL-mode followers whose capital comes from the broker and whose session is worth
    calling with, and the active master when a follower is in CAPITAL mode: what the morning refresh reads."""
    status = BrokerCredential.SessionStatus
    capital_followers = Account.objects.filter(
        role=Account.Role.FOLLOWER, status=Account.Status.ACTIVE, risk_config__sizing_mode=risk.CAPITAL
    )
    if not capital_followers.exists():
        return []
    return list(
        Account.objects.filter(status=Account.Status.ACTIVE, capital_source=Account.CapitalSource.BROKER)
        .filter(Q(role=Account.Role.MASTER) | Q(pk__in=capital_followers.values("pk")))
        .filter(credential__isnull=False)
        .exclude(credential__session_status__in=(status.EXPIRED, status.MISSING))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def capitals_refresh() -> int:
    """Read today's capital of every account that needs it and lacks it (beat, before the open); the count
    read."""
    accounts = list(
        Account.objects.filter(pk__in=accounts_needing_broker_capital()).select_related("credential")
    )
    before = {a.pk for a in accounts if account_capital_today(a) is not None}
    found, _refused = _capitals_read(accounts)
    read = sum(1 for pk, capital in found.items() if pk not in before and capital is not None)
    logger.info("[CAPITAL] morning refresh: %d of %d accounts read from broker limits", read, len(accounts))
    return read
