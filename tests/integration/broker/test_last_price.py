"""The last price (the price guard's input) from both client generations against the simulator: the legacy
quote `ScripDetails/getScripQuoteDetails` and the open-api chart history's latest 1-minute candle."""

from __future__ import annotations

from decimal import Decimal

import pytest

from broker.exceptions import BrokerAuthError, BrokerError
from broker.legacy import LegacyClient
from broker.openapi import OpenApiClient
from broker.types import ApiFlavor, Session

TIMEOUT = (1.0, 2.0)
CLIENTS = {ApiFlavor.LEGACY: LegacyClient, ApiFlavor.OPENAPI: OpenApiClient}


@pytest.fixture(params=list(CLIENTS))
def client(request, sim, account):
    flavor = request.param
    session = Session(user_id=account, token=sim.issue_session(account), flavor=flavor)
    return CLIENTS[flavor](base_url=sim.base_url, timeout=TIMEOUT).with_session(session)


def test_last_price_is_the_simulators_last_price(sim, client):
    # given
    sim.set_price("NSE", "SBIN", "812.35")
    # when
    price = client.last_price(exchange="NSE", token="3045")
    # then
    assert price == Decimal("812.35")


def test_unknown_instrument_is_a_broker_error(client):
    with pytest.raises(BrokerError):
        client.last_price(exchange="NSE", token="999999")


def test_expired_session_is_an_auth_error(sim, client, account):
    # given
    sim.expire_sessions(account)
    # when / then
    with pytest.raises(BrokerAuthError):
        client.last_price(exchange="NSE", token="3045")
