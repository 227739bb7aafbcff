"""sync_instruments loads the simulator's contract master; symbols resolve to tokens and lot sizes."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from broker.instrument_store import UnknownInstrumentError, instrument_cache_clear, instrument_resolve
from broker.models import Instrument


@pytest.fixture
def contract_master_url(sim):
    return sim.base_url + "/restpy/static/contract_master/V2/"


@pytest.mark.integration
@pytest.mark.django_db
def test_sync_loads_contracts_and_resolves_symbols(contract_master_url):
    # given
    out = StringIO()
    # when
    call_command("sync_instruments", url=contract_master_url, exchanges=["NSE", "NFO"], stdout=out)
    # then
    assert "NSE:" in out.getvalue()
    assert "NFO:" in out.getvalue()
    sbin = instrument_resolve(exchange="NSE", symbol="sbin")
    assert (sbin.token, sbin.trading_symbol, sbin.lot_size) == ("3045", "SBIN-EQ", 1)
    assert instrument_resolve(exchange="NSE", symbol="SBIN-EQ") == sbin
    reliance = instrument_resolve(exchange="NSE", symbol="RELIANCE")
    assert reliance.token == "2885"  # written as 2885.0 in the file
    future = Instrument.objects.filter(exchange="NFO", instrument_type="FUTIDX", symbol="NIFTY").first()
    assert future is not None
    assert instrument_resolve(exchange="NFO", symbol=future.trading_symbol).lot_size == future.lot_size > 1


@pytest.mark.integration
@pytest.mark.django_db
def test_sync_twice_upserts_without_duplicates(contract_master_url):
    # given
    call_command("sync_instruments", url=contract_master_url, exchanges=["NSE"], stdout=StringIO())
    count = Instrument.objects.filter(exchange="NSE").count()
    # when
    call_command("sync_instruments", url=contract_master_url, exchanges=["NSE"], stdout=StringIO())
    # then
    assert Instrument.objects.filter(exchange="NSE").count() == count > 0


@pytest.mark.integration
@pytest.mark.django_db
def test_unknown_symbol_is_an_error(contract_master_url):
    # given
    call_command("sync_instruments", url=contract_master_url, exchanges=["NSE"], stdout=StringIO())
    instrument_cache_clear()
    # when / then
    with pytest.raises(UnknownInstrumentError, match="Unknown instrument NOPE on NSE"):
        instrument_resolve(exchange="NSE", symbol="NOPE")


@pytest.mark.integration
@pytest.mark.django_db
def test_sync_from_an_unreachable_url_fails_cleanly():
    # when / then nothing is stored and the command exits non-zero
    with pytest.raises(CommandError, match="Contract master sync failed"):
        call_command("sync_instruments", url="http://127.0.0.1:9/V2/", exchanges=["NSE"], stdout=StringIO())
    assert not Instrument.objects.exists()
