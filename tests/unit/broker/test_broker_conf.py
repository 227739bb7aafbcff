"""`client_from_settings` builds the configured client flavour with the configured timeouts."""

from __future__ import annotations

import pytest

from broker.conf import client_from_settings
from broker.legacy import LegacyClient
from broker.openapi import OpenApiClient
from broker.types import ApiFlavor, Session


@pytest.fixture
def alice_settings(settings):
    settings.ALICE_API_FLAVOR = "openapi"
    settings.ALICE_API_BASE_URL = "http://127.0.0.1:9100"
    settings.ALICE_LEGACY_BASE_URL = "http://127.0.0.1:9200"
    settings.ALICE_CONNECT_TIMEOUT = 1.5
    settings.ALICE_READ_TIMEOUT = 4.0
    settings.ALICE_HTTP_POOL_SIZE = 7
    return settings


def test_default_flavor_from_settings(alice_settings):
    client = client_from_settings()

    assert isinstance(client, OpenApiClient)
    assert client.base_url == "http://127.0.0.1:9100"
    assert client.timeout == (1.5, 4.0)
    assert client.pool_size == 7


def test_flavor_from_the_session_or_the_argument(alice_settings):
    session = Session(user_id="CT1", token="secret-token", flavor=ApiFlavor.LEGACY)

    from_session = client_from_settings(session=session)
    explicit = client_from_settings(flavor="legacy")

    assert isinstance(from_session, LegacyClient)
    assert from_session.session is session
    assert from_session.base_url == "http://127.0.0.1:9200"
    assert isinstance(explicit, LegacyClient)
    assert "secret-token" not in repr(from_session)
