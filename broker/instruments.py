"""The Alice Blue contract master: V2 CSV parsing (by header name) and download. No Django here."""

from __future__ import annotations

import csv
import io
import logging
import math
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

import requests

from broker.exceptions import BrokerUnavailableError

logger = logging.getLogger(__name__)

# V2 column names; the order differs per file, so rows are read by name. INDICES.csv uses lower case.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "exchange": ("Exch", "exch"),
    "segment": ("Exchange Segment",),
    "group_name": ("Group Name",),
    "symbol": ("Symbol", "symbol"),
    "token": ("Token", "token"),
    "instrument_type": ("Instrument Type",),
    "instrument_name": ("Instrument Name",),
    "formatted_name": ("Formatted Ins Name",),
    "trading_symbol": ("Trading Symbol",),
    "lot_size": ("Lot Size",),
    "tick_size": ("Tick Size",),
    "option_type": ("Option Type",),
    "strike_price": ("Strike Price",),
    "expiry_date": ("Expiry Date",),
    # Not in Alice Blue's V2 files today; read when a file carries it (else the operator's table applies).
    "freeze_quantity": ("Freeze Quantity", "Freeze Qty", "FreezeQty", "freeze_qty", "freeze_quantity"),
}


@dataclass(frozen=True)
class Instrument:
    """One contract: how an (exchange, symbol) becomes a token, lot size and tick size."""

    exchange: str
    token: str
    symbol: str
    trading_symbol: str
    formatted_name: str = ""
    instrument_type: str = ""
    group_name: str = ""
    option_type: str = ""
    strike_price: Decimal | None = None
    expiry: date | None = None
    lot_size: int = 1
    tick_size: Decimal = Decimal("0.05")
    freeze_quantity: int | None = None  # the exchange's largest single order; None: not in the file


class ContractMasterError(ValueError):
    """The contract master file could not be understood."""


def clean_token(raw: str) -> str | None:
    """'2885', '2885.0' -> '2885'; blank or NaN -> None (pandas-written files carry float tokens)."""
    text = (raw or "").strip()
    if not text or text.lower() in {"nan", "none", "null"}:
        return None
    try:
        value = float(text)
    except ValueError:
        return text if text.isdigit() else None
    if math.isnan(value) or value <= 0 or value != int(value):
        return None
    return str(int(value))


def _decimal(raw: str) -> Decimal | None:
    text = (raw or "").strip().replace(",", "")
    if not text or text.lower() in {"nan", "na", "--"}:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _int(raw: str, default: int) -> int:
    value = _decimal(raw)
    if value is None or value <= 0:
        return default
    return int(value)


def _freeze(raw: str) -> int | None:
    value = _decimal(raw)
    if value is None or value <= 0 or value != int(value):
        return None
    return int(value)


def _expiry(raw: str) -> date | None:
    text = (raw or "").strip()
    if not text or text.lower() in {"nan", "na", "--"}:
        return None
    for fmt in ("%Y-%m-%d", "%d-%m-%Y", "%d-%b-%Y", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).date()  # noqa: DTZ007 - a calendar date, no time zone
        except ValueError:
            continue
    if text.isdigit():  # epoch milliseconds (the JSON/zip variant)
        return datetime.fromtimestamp(int(text) / 1000, tz=None).date()  # noqa: DTZ006
    return None


def _column_map(header: list[str]) -> dict[str, str]:
    present = {name.strip(): name for name in header}
    mapping: dict[str, str] = {}
    for field, aliases in COLUMN_ALIASES.items():
        for alias in aliases:
            if alias in present:
                mapping[field] = present[alias]
                break
    missing = {"exchange", "token", "symbol"} - mapping.keys()
    if missing:
        raise ContractMasterError(f"contract master lacks columns: {', '.join(sorted(missing))}")
    return mapping


def parse_contract_master(text: str, *, exchange: str = "") -> list[Instrument]:
    """Parse one V2 CSV file; rows without a usable token are skipped."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames:
        raise ContractMasterError("contract master is empty")
    columns = _column_map(list(reader.fieldnames))
    instruments: list[Instrument] = []
    skipped = 0
    for row in reader:

        def get(field: str, row: dict = row) -> str:
            return (row.get(columns.get(field, ""), "") or "").strip()

        token = clean_token(get("token"))
        if token is None:
            skipped += 1
            continue
        symbol = get("symbol").upper()
        instruments.append(
            Instrument(
                exchange=(get("exchange") or exchange).upper(),
                token=token,
                symbol=symbol,
                trading_symbol=(get("trading_symbol") or symbol).upper(),
                formatted_name=get("formatted_name"),
                instrument_type=get("instrument_type").upper(),
                group_name=get("group_name").upper(),
                option_type=get("option_type").upper(),
                strike_price=_decimal(get("strike_price")),
                expiry=_expiry(get("expiry_date")),
                lot_size=_int(get("lot_size"), 1),
                tick_size=_decimal(get("tick_size")) or Decimal("0.05"),
                freeze_quantity=_freeze(get("freeze_quantity")),
            )
        )
    if skipped:
        logger.info("contract master %s: skipped %d rows without a usable token", exchange, skipped)
    return instruments


def fetch_contract_master(
    *, base_url: str, exchange: str, timeout: tuple[float, float] = (3.05, 30.0)
) -> list[Instrument]:
    """Download `<base_url>/<EXCH>.csv` and parse it."""
    url = f"{base_url.rstrip('/')}/{exchange.upper()}.csv"
    try:
        response = requests.get(url, timeout=timeout)
    except requests.RequestException as exc:
        raise BrokerUnavailableError(f"contract master {exchange}: {type(exc).__name__}") from exc
    if response.status_code != 200:
        raise BrokerUnavailableError(
            f"contract master {exchange}: HTTP {response.status_code}", http_status=response.status_code
        )
    if "html" in response.headers.get("Content-Type", "").lower():
        raise BrokerUnavailableError(f"contract master {exchange}: HTML answer instead of CSV")
    return parse_contract_master(response.text, exchange=exchange)
