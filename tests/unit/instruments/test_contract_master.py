from datetime import date
from decimal import Decimal

import pytest

from broker.instruments import ContractMasterError, clean_token, parse_contract_master

NSE_CSV = (
    "Exch,Exchange Segment,Group Name,Symbol,Token,Instrument Type,Instrument Name,Formatted Ins Name,"
    "Trading Symbol,Lot Size,Tick Size\n"
    "NSE,nse_cm,EQ,SBIN,3045,EQ,STATE BANK OF INDIA,SBIN,SBIN-EQ,1,0.05\n"
    "NSE,nse_cm,EQ,RELIANCE,2885.0,EQ,RELIANCE INDUSTRIES LTD,RELIANCE,RELIANCE-EQ,1,0.1\n"
    "NSE,nse_cm,EQ,BROKEN,nan,EQ,NO TOKEN,BROKEN,BROKEN-EQ,1,0.05\n"
)
# Derivatives files order their columns differently: parse by name.
NFO_CSV = (
    "Exch,Exchange Segment,Symbol,Token,Instrument Type,Option Type,Strike Price,Instrument Name,"
    "Formatted Ins Name,Trading Symbol,Expiry Date,Lot Size,Tick Size\n"
    "NFO,nse_fo,NIFTY,35001,FUTIDX,,,NIFTY 50,NIFTY NOV FUT,NIFTY24NOV26F,2026-11-24,75,0.1\n"
    "NFO,nse_fo,NIFTY,35002,OPTIDX,CE,24000.0,NIFTY 50,NIFTY 24NOV26 24000 CE,NIFTY24NOV26C24000,"
    "2026-11-24,75,0.05\n"
)


def test_parses_equities_by_header_name_and_cleans_float_tokens():
    # when
    instruments = parse_contract_master(NSE_CSV, exchange="NSE")
    # then
    assert [i.token for i in instruments] == ["3045", "2885"]
    sbin = instruments[0]
    assert (sbin.exchange, sbin.symbol, sbin.trading_symbol, sbin.group_name) == (
        "NSE",
        "SBIN",
        "SBIN-EQ",
        "EQ",
    )
    assert sbin.lot_size == 1
    assert sbin.tick_size == Decimal("0.05")


def test_parses_derivatives_with_expiry_strike_and_lot_size():
    # when
    future, option = parse_contract_master(NFO_CSV, exchange="NFO")
    # then
    assert future.lot_size == 75
    assert future.expiry == date(2026, 11, 24)
    assert future.option_type == ""
    assert option.option_type == "CE"
    assert option.strike_price == Decimal("24000.0")


def test_a_freeze_quantity_column_is_read_by_name_and_its_absence_is_no_limit():
    # given a file with the column (blank on one row) and Alice Blue's V2 file without it
    with_freeze = (
        "Exch,Symbol,Token,Trading Symbol,Lot Size,Freeze Qty\n"
        "NFO,NIFTY,35001,NIFTY24NOV26F,75,1800\n"
        "NFO,FINNIFTY,35003,FINNIFTY24NOV26F,65,\n"
    )
    # when
    nifty, finnifty = parse_contract_master(with_freeze, exchange="NFO")
    future, _option = parse_contract_master(NFO_CSV, exchange="NFO")
    # then
    assert nifty.freeze_quantity == 1800
    assert finnifty.freeze_quantity is None
    assert future.freeze_quantity is None


def test_missing_required_columns_is_an_error():
    with pytest.raises(ContractMasterError, match="lacks columns"):
        parse_contract_master("Foo,Bar\n1,2\n", exchange="NSE")


@pytest.mark.parametrize(
    ("raw", "expected"), [("2885", "2885"), ("2885.0", "2885"), ("nan", None), ("", None), ("12.5", None)]
)
def test_clean_token(raw, expected):
    assert clean_token(raw) == expected
