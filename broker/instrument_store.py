"""The contract-master cache in the database: sync from the configured URL, resolve symbols to contracts."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict

from django.conf import settings
from django.db import connection, transaction

from broker.instruments import Instrument, fetch_contract_master
from broker.models import Instrument as InstrumentRow

logger = logging.getLogger(__name__)

_CACHE_TTL_SECONDS = 300.0
_cache: dict[tuple[str, str], tuple[float, Instrument]] = {}
_cache_lock = threading.Lock()

_EQUITY_EXCHANGES = {"NSE", "BSE"}


class UnknownInstrumentError(LookupError):
    """No contract matches (or several do) for the given exchange and symbol."""


def _to_instrument(row: InstrumentRow) -> Instrument:
    return Instrument(
        exchange=row.exchange,
        token=row.token,
        symbol=row.symbol,
        trading_symbol=row.trading_symbol,
        formatted_name=row.formatted_name,
        instrument_type=row.instrument_type,
        group_name=row.group_name,
        option_type=row.option_type,
        strike_price=row.strike_price,
        expiry=row.expiry,
        lot_size=row.lot_size,
        tick_size=row.tick_size,
        freeze_quantity=row.freeze_quantity,
    )


@transaction.atomic
def instruments_store(*, exchange: str, instruments: list[Instrument]) -> int:
    """Replace one exchange's contracts with `instruments`; returns how many are stored."""
    exchange = exchange.upper()
    rows = [InstrumentRow(**asdict(item)) for item in instruments if item.exchange == exchange]
    # MySQL/MariaDB upsert on any unique key (ON DUPLICATE KEY UPDATE) and refuse a named target.
    target = ["exchange", "token"] if connection.features.supports_update_conflicts_with_target else None
    InstrumentRow.objects.bulk_create(
        rows,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=target,
        update_fields=[
            "symbol",
            "trading_symbol",
            "formatted_name",
            "instrument_type",
            "group_name",
            "option_type",
            "strike_price",
            "expiry",
            "lot_size",
            "tick_size",
            "freeze_quantity",
        ],
    )
    tokens = {row.token for row in rows}
    stale = InstrumentRow.objects.filter(exchange=exchange).exclude(token__in=tokens)
    removed, _ = stale.delete()
    instrument_cache_clear()
    logger.info("contract master %s: %d contracts stored, %d expired removed", exchange, len(rows), removed)
    return len(rows)


def instruments_sync(*, base_url: str | None = None, exchanges: list[str] | None = None) -> dict[str, int]:
    """Download each exchange's contract master and store it; one transaction per exchange."""
    base_url = base_url or settings.ALICE_CONTRACT_MASTER_URL
    counts: dict[str, int] = {}
    for exchange in exchanges or settings.ALICE_CONTRACT_EXCHANGES:
        instruments = fetch_contract_master(base_url=base_url, exchange=exchange)
        counts[exchange.upper()] = instruments_store(exchange=exchange, instruments=instruments)
    return counts


def instrument_cache_clear() -> None:
    with _cache_lock:
        _cache.clear()


def _lookup(exchange: str, symbol: str) -> Instrument:
    base = InstrumentRow.objects.filter(exchange=exchange)
    for query in (
        {"trading_symbol": symbol},
        {"symbol": symbol, "group_name__in": ["EQ", "BE"]} if exchange in _EQUITY_EXCHANGES else None,
        {"formatted_name__iexact": symbol},
        {"token": symbol} if symbol.isdigit() else None,
        {"symbol": symbol},
    ):
        if query is None:
            continue
        matches = list(base.filter(**query).order_by("group_name")[:3])
        if len(matches) == 1:
            return _to_instrument(matches[0])
        if len(matches) > 1:
            # NSE lists some scrips in both EQ and BE groups: EQ is the normal market.
            eq = [row for row in matches if row.group_name == "EQ"]
            if len(eq) == 1:
                return _to_instrument(eq[0])
            raise UnknownInstrumentError(f"{symbol} is ambiguous on {exchange}: give the trading symbol")
    raise UnknownInstrumentError(f"Unknown instrument {symbol} on {exchange}")


def instrument_resolve(*, exchange: str, symbol: str) -> Instrument:
    """The contract for `symbol` on `exchange` (trading symbol, equity symbol, name or token).

    Raises UnknownInstrumentError. Results are cached per process for a few minutes.
    """
    key = (exchange.strip().upper(), symbol.strip().upper())
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
    if hit and now - hit[0] < _CACHE_TTL_SECONDS:
        return hit[1]
    instrument = _lookup(*key)
    with _cache_lock:
        _cache[key] = (now, instrument)
    return instrument
