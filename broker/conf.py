"""The one Django-aware module of the client side: build an Alice Blue client from settings."""

from __future__ import annotations

from functools import cache

from django.conf import settings

from broker.budget import CallBudget
from broker.client import AliceBlueClient
from broker.types import ApiFlavor, Session


@cache
def _budget(rate: str, storage_uri: str) -> CallBudget:
    return CallBudget(rate=rate, storage_uri=storage_uri)


def call_budget() -> CallBudget | None:
    """The process's budget of non-order calls per account (ALICE_NON_ORDER_BUDGET in
    ALICE_NON_ORDER_BUDGET_STORAGE); None when the budget is switched off (an empty rate)."""
    if not settings.ALICE_NON_ORDER_BUDGET:
        return None
    return _budget(settings.ALICE_NON_ORDER_BUDGET, settings.ALICE_NON_ORDER_BUDGET_STORAGE)


def client_from_settings(
    *, flavor: ApiFlavor | str | None = None, session: Session | None = None
) -> AliceBlueClient:
    """The client for `flavor` (default: the session's flavour, else ALICE_API_FLAVOR) with the configured
    base URL, `(ALICE_CONNECT_TIMEOUT, ALICE_READ_TIMEOUT)`, ALICE_HTTP_POOL_SIZE and the call budget."""
    if flavor is None:
        flavor = session.flavor if session is not None else settings.ALICE_API_FLAVOR
    flavor = ApiFlavor(flavor)
    timeout = (float(settings.ALICE_CONNECT_TIMEOUT), float(settings.ALICE_READ_TIMEOUT))
    pool_size = int(settings.ALICE_HTTP_POOL_SIZE)
    if flavor is ApiFlavor.OPENAPI:
        from broker.openapi import OpenApiClient

        return OpenApiClient(
            base_url=settings.ALICE_API_BASE_URL,
            session=session,
            timeout=timeout,
            pool_size=pool_size,
            budget=call_budget(),
        )
    from broker.legacy import LegacyClient

    base_url = getattr(settings, "ALICE_LEGACY_BASE_URL", "") or settings.ALICE_API_BASE_URL
    return LegacyClient(
        base_url=base_url, session=session, timeout=timeout, pool_size=pool_size, budget=call_budget()
    )
