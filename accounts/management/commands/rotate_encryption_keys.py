"""Re-encrypt every credential with the first FIELD_ENCRYPTION_KEYS key, in one transaction."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts.encryption import DecryptionError, current_key_id
from accounts.services.keys import credentials_reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt all stored credentials with the first key of FIELD_ENCRYPTION_KEYS. Put the new key "
        "first, keep the old ones after it, run this, then remove the old keys."
    )

    def handle(self, *args, **options) -> None:
        try:
            count = credentials_reencrypt()
        except DecryptionError as exc:
            raise CommandError(f"Nothing was changed: a stored value cannot be decrypted ({exc}).") from exc
        self.stdout.write(
            self.style.SUCCESS(f"✅ Re-encrypted {count} credentials with key {current_key_id()}.")
        )
