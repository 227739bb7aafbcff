"""AES-256-GCM field encryption: formats, keys, binding, masks (no database)."""

from __future__ import annotations

import base64

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from accounts import encryption
from accounts.encryption import DecryptionError

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()
AAD = "accounts.brokercredential.access_token:1"


def test_round_trip_binds_to_aad_and_hides_plaintext(settings):
    # given
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    # when
    sealed = encryption.encrypt("canary-secret-value", aad=AAD)
    # then
    assert "canary" not in sealed
    assert sealed.startswith("ct1$")
    assert encryption.decrypt(sealed, aad=AAD) == "canary-secret-value"
    assert encryption.encrypt("canary-secret-value", aad=AAD) != sealed  # fresh nonce each time


def test_other_row_or_field_cannot_decrypt(settings):
    # given
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    sealed = encryption.encrypt("token", aad=AAD)
    # when / then
    with pytest.raises(DecryptionError):
        encryption.decrypt(sealed, aad="accounts.brokercredential.access_token:2")
    with pytest.raises(DecryptionError):
        encryption.decrypt(sealed, aad="accounts.brokercredential.api_key:1")


def test_tampered_ciphertext_is_rejected(settings):
    # given
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    prefix, key_id, body = encryption.encrypt("token", aad=AAD).split("$")
    raw = bytearray(base64.urlsafe_b64decode(body))
    raw[-1] ^= 0x01
    tampered = f"{prefix}${key_id}${base64.urlsafe_b64encode(bytes(raw)).decode()}"
    # when / then
    with pytest.raises(DecryptionError):
        encryption.decrypt(tampered, aad=AAD)
    with pytest.raises(DecryptionError):
        encryption.decrypt("plaintext-token", aad=AAD)
    with pytest.raises(DecryptionError):
        encryption.decrypt(f"ct1${key_id}$!!notbase64", aad=AAD)


def test_second_key_decrypts_first_key_encrypts(settings):
    # given: a value encrypted under the old key
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    old = encryption.encrypt("token", aad=AAD)
    # when: a new key is put first
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    new = encryption.encrypt("token", aad=AAD)
    # then
    assert encryption.decrypt(old, aad=AAD) == "token"
    assert encryption.key_id_of(new) == encryption.current_key_id() != encryption.key_id_of(old)
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    with pytest.raises(DecryptionError, match="not configured"):
        encryption.decrypt(old, aad=AAD)


@pytest.mark.parametrize(
    "keys",
    [[], [""], ["not-a-key"], [base64.urlsafe_b64encode(b"short").decode()], [KEY_A, "bad!"]],
)
def test_missing_or_malformed_keys_are_improperly_configured(settings, keys):
    # given
    settings.FIELD_ENCRYPTION_KEYS = keys
    # when / then
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS"):
        encryption.load_keys()


def test_masks_show_at_most_last_four():
    # given
    token = "abc1234567XYZlongtokenvalue8901"
    # when / then
    assert encryption.mask_last4(token) == "8901"
    assert encryption.mask_last4("short") == ""
    assert encryption.token_mask(token) == "abc1234567...8901"
    assert encryption.token_mask("shorttoken1234") == "...1234"
    assert encryption.token_mask("") == ""


def test_a_session_token_decrypted_once_still_obeys_the_configured_keys(settings):
    # given a session token decrypted (and kept by the process) under key A
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    sealed = encryption.encrypt("session-token", aad=AAD)
    assert encryption.decrypt(sealed, aad=AAD) == "session-token"
    assert encryption.decrypt(sealed, aad=AAD) == "session-token"
    # then it is still bound to its row and field ...
    with pytest.raises(DecryptionError):
        encryption.decrypt(sealed, aad="accounts.brokercredential.access_token:2")
    # ... a tampered copy is refused ...
    with pytest.raises(DecryptionError):
        encryption.decrypt(sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB"), aad=AAD)
    # ... and once key A is no longer configured, it no longer decrypts
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    with pytest.raises(DecryptionError):
        encryption.decrypt(sealed, aad=AAD)
