"""Encryption key rotation."""

from __future__ import annotations

import logging

from django.db import transaction

from accounts.models import BrokerCredential
from accounts.services.audit import SYSTEM_ACTOR, audit_record

logger = logging.getLogger(__name__)


@transaction.atomic
def credentials_reencrypt(*, actor: str = SYSTEM_ACTOR) -> int:
    """Decrypt every credential field and save it again under the first key; all rows or none.

    Raises DecryptionError (rolling everything back) when any value cannot be decrypted.
    """
    count = 0
    for credential in BrokerCredential.objects.select_for_update().order_by("pk"):
        for name in BrokerCredential.ENCRYPTED_FIELDS:
            getattr(credential, name)  # decrypts; the next save encrypts under the first key
        credential.save(update_fields=[*BrokerCredential.ENCRYPTED_FIELDS])
        count += 1
    audit_record(
        actor=actor, action="encryption.rotated", target="broker_credentials", details={"rows": count}
    )
    logger.info("re-encrypted %d credentials", count)
    return count
