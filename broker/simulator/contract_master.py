"""The seeded contract master: V2 CSV files parsed by column name, plus seed last prices."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"
EXCHANGE_FILES: dict[str, str] = {"NSE": "NSE.csv", "NFO": "NFO.csv"}
EXCHANGE_SEGMENTS: dict[str, str] = {
    "NSE": "nse_cm",
    "BSE": "bse_cm",
    "NFO": "nse_fo",
    "BFO": "bse_fo",
    "MCX": "mcx_fo",
    "CDS": "cde_fo",
    "BCD": "bcs_fo",
}

SEED_PRICES: dict[tuple[str, str], Decimal] = {
    ("NSE", "ACC-EQ"): Decimal("1820.40"),
    ("NSE", "ASHOKLEY-EQ"): Decimal("145.37"),
    ("NSE", "HDFCBANK-EQ"): Decimal("985.55"),
    ("NSE", "INFY-EQ"): Decimal("1510.20"),
    ("NSE", "RELIANCE-EQ"): Decimal("1452.30"),
    ("NSE", "SBIN-EQ"): Decimal("812.40"),
    ("NSE", "ICICIBANK-EQ"): Decimal("1391.70"),
    ("NSE", "TCS-EQ"): Decimal("3204.60"),
    ("NSE", "IDEA-EQ"): Decimal("9.47"),
    ("NFO", "NIFTY26NOVFUT"): Decimal("26152.30"),
    ("NFO", "NIFTY26DECFUT"): Decimal("26310.50"),
    ("NFO", "NIFTY26NOV26000CE"): Decimal("182.45"),
    ("NFO", "NIFTY26NOV26000PE"): Decimal("41.30"),
    ("NFO", "NIFTY26DEC26500CE"): Decimal("156.90"),
    ("NFO", "BANKNIFTY26NOVFUT"): Decimal("59210.40"),
    ("NFO", "BANKNIFTY26NOV59000CE"): Decimal("402.15"),
    ("NFO", "BANKNIFTY26NOV59000PE"): Decimal("188.60"),
    ("NFO", "RELIANCE26NOVFUT"): Decimal("1458.60"),
    ("NFO", "RELIANCE26NOV1500CE"): Decimal("9.85"),
    ("NFO", "SBIN26NOVFUT"): Decimal("815.10"),
    ("NFO", "SBIN26NOV800PE"): Decimal("6.40"),
    ("NFO", "INFY26DECFUT"): Decimal("1521.80"),
    ("NFO", "INFY27JAN1600CE"): Decimal("38.25"),
}
DEFAULT_SEED_PRICE = Decimal("100.00")


@dataclass(frozen=True)
class Instrument:
    """One contract-master row."""

    exchange: str
    segment: str
    token: str
    symbol: str
    trading_symbol: str
    formatted_name: str
    instrument_name: str
    instrument_type: str
    lot_size: int
    tick_size: Decimal
    option_type: str = ""
    strike_price: str = ""
    expiry_date: str = ""
    freeze_quantity: int | None = None  # the exchange's largest single order (NFO rows)

    @property
    def is_derivative(self) -> bool:
        return self.exchange in {"NFO", "BFO", "MCX", "CDS", "BCD"}


def parse_token(raw: str) -> str | None:
    """An integer token string from the CSV cell (`2885.0` -> `2885`); None for an empty/NaN cell."""
    text = raw.strip()
    if not text or text.lower() == "nan":
        return None
    return str(int(float(text)))


def _instrument_from_row(row: dict[str, str]) -> Instrument | None:
    token = parse_token(row.get("Token", ""))
    if token is None:
        return None
    return Instrument(
        exchange=row["Exch"].strip(),
        segment=row["Exchange Segment"].strip(),
        token=token,
        symbol=row["Symbol"].strip(),
        trading_symbol=row["Trading Symbol"].strip(),
        formatted_name=row["Formatted Ins Name"].strip(),
        instrument_name=row["Instrument Name"].strip(),
        instrument_type=row["Instrument Type"].strip(),
        lot_size=int(float(row["Lot Size"])),
        tick_size=Decimal(row["Tick Size"].strip()),
        option_type=row.get("Option Type", "").strip(),
        strike_price=row.get("Strike Price", "").strip(),
        expiry_date=row.get("Expiry Date", "").strip(),
        freeze_quantity=int(float(row["Freeze Quantity"]))
        if (row.get("Freeze Quantity") or "").strip()
        else None,
    )


class ContractMaster:
    """Instruments by (exchange, token) and by (exchange, trading symbol)."""

    def __init__(self, instruments: list[Instrument]) -> None:
        self.instruments = instruments
        self._by_token = {(i.exchange, i.token): i for i in instruments}
        self._by_trading_symbol = {(i.exchange, i.trading_symbol.upper()): i for i in instruments}

    def by_token(self, exchange: str, token: str) -> Instrument | None:
        """The instrument with this token on this exchange, or None."""
        return self._by_token.get((exchange.upper(), token.strip()))

    def by_trading_symbol(self, exchange: str, trading_symbol: str) -> Instrument | None:
        """The instrument with this trading symbol on this exchange, or None."""
        return self._by_trading_symbol.get((exchange.upper(), trading_symbol.strip().upper()))

    def resolve(self, exchange: str, symbol: str) -> list[Instrument]:
        """Instruments matching a trading symbol, a token, or a bare symbol (may be several)."""
        exact = self.by_trading_symbol(exchange, symbol) or self.by_token(exchange, symbol)
        if exact:
            return [exact]
        wanted = symbol.strip().upper()
        return [i for i in self.instruments if i.exchange == exchange.upper() and i.symbol.upper() == wanted]


def csv_path(exchange: str) -> Path | None:
    """The seeded CSV file of an exchange, or None."""
    name = EXCHANGE_FILES.get(exchange.upper())
    return DATA_DIR / name if name else None


@cache
def load_contract_master() -> ContractMaster:
    """Parse every seeded CSV (by column name, skipping rows without a token)."""
    instruments: list[Instrument] = []
    for exchange in EXCHANGE_FILES:
        path = csv_path(exchange)
        assert path is not None
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                instrument = _instrument_from_row(row)
                if instrument is not None:
                    instruments.append(instrument)
    return ContractMaster(instruments)


def seed_prices(master: ContractMaster) -> dict[tuple[str, str], Decimal]:
    """The opening last price of every instrument, keyed by (exchange, token)."""
    return {
        (i.exchange, i.token): SEED_PRICES.get((i.exchange, i.trading_symbol), DEFAULT_SEED_PRICE)
        for i in master.instruments
    }
