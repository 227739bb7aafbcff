"""The last price of an instrument for the price guard: read once per fan-out with the master's session,
cached for REPLICATION_LAST_PRICE_MAX_AGE seconds (shared cache); None when it cannot be read (the guard then
skips: no guessing with real money)."""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.cache import cache

from accounts.selectors import account_broker_client, broker_calls_allowed, credential_of, master_get_active
from broker.instruments import Instrument

logger = logging.getLogger(__name__)


def _key(instrument: Instrument) -> str:
    return f"last-price:{instrument.exchange}:{instrument.token}"


def instrument_last_price(*, instrument: Instrument) -> Decimal | None:
    """The instrument's last price (cached briefly), or None (no active master or session, a broker error)."""
    max_age = settings.REPLICATION_LAST_PRICE_MAX_AGE
    if max_age > 0:
        cached = cache.get(_key(instrument))
        if cached is not None:
            try:
                return Decimal(cached)
            except InvalidOperation:
                cache.delete(_key(instrument))
    master = master_get_active()
    if master is None or not broker_calls_allowed(credential_of(master)):
        logger.warning("[PRICE] no last price for %s: no master session", instrument.trading_symbol)
        return None
    try:
        price = account_broker_client(account=master).last_price(
            exchange=instrument.exchange, token=instrument.token
        )
    except Exception as exc:  # a broker error, no session, a bug: the guard then skips with its reason
        logger.warning(
            "[PRICE] no last price for %s: %s",
            instrument.trading_symbol,
            getattr(exc, "code", type(exc).__name__),
        )
        return None
    if price is not None and max_age > 0:
        cache.set(_key(instrument), str(price), timeout=max_age)
    return price
