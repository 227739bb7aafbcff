"""The one Django-aware module of the client side: build an Alice Blue client from settings."""

from __future__ import annotations

from django.conf import settings

from broker.client import AliceBlueClient
from broker.types import ApiFlavor, Session


def client_from_settings(
    *, flavor: ApiFlavor | str | None = None, session: Session | None = None
) -> AliceBlueClient:
    """The client for `flavor` (default: the session's flavour, else ALICE_API_FLAVOR) with the configured
    base URL, `(ALICE_CONNECT_TIMEOUT, ALICE_READ_TIMEOUT)` and ALICE_HTTP_POOL_SIZE."""
    if flavor is None:
        flavor = session.flavor if session is not None else settings.ALICE_API_FLAVOR
    flavor = ApiFlavor(flavor)
    timeout = (float(settings.ALICE_CONNECT_TIMEOUT), float(settings.ALICE_READ_TIMEOUT))
    pool_size = int(settings.ALICE_HTTP_POOL_SIZE)
    if flavor is ApiFlavor.OPENAPI:
        from broker.openapi import OpenApiClient

        return OpenApiClient(
            base_url=settings.ALICE_API_BASE_URL, session=session, timeout=timeout, pool_size=pool_size
        )
    from broker.legacy import LegacyClient

    base_url = getattr(settings, "ALICE_LEGACY_BASE_URL", "") or settings.ALICE_API_BASE_URL
    return LegacyClient(base_url=base_url, session=session, timeout=timeout, pool_size=pool_size)
