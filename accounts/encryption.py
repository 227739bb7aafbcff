"""AES-256-GCM encryption of credential fields, keyed by FIELD_ENCRYPTION_KEYS (first encrypts, all decrypt).

Stored format: ``ct1$<key id>$<urlsafe-base64(nonce || ciphertext+tag)>``. The key id is the first 8 hex
characters of sha256(key); the associated data (AAD) names the model, field and row, so ciphertext copied
to another row or field fails authentication. There is no plaintext fallback.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PREFIX = "ct1"
_NONCE_BYTES = 12


class DecryptionError(Exception):
    """Ciphertext is malformed, tampered with, bound to another row, or under an unknown key."""


@dataclass(frozen=True)
class _Key:
    key_id: str
    aead: AESGCM

    def __repr__(self) -> str:
        return f"<encryption key {self.key_id}>"


def _parse_key(raw: str, position: int) -> _Key:
    try:
        material = base64.urlsafe_b64decode(raw.strip().encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        material = b""
    if len(material) != 32:
        raise ImproperlyConfigured(
            f"FIELD_ENCRYPTION_KEYS entry #{position} is malformed: each key must be url-safe base64 of 32 "
            'bytes, as made by `python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"`.'
        )
    return _Key(key_id=hashlib.sha256(material).hexdigest()[:8], aead=AESGCM(material))


@lru_cache(maxsize=8)
def _keys_from(raw_keys: tuple[str, ...]) -> tuple[_Key, ...]:
    keys = tuple(_parse_key(raw, i) for i, raw in enumerate(raw_keys, start=1))
    if not keys:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS is not set: credentials are stored encrypted and there is no plaintext "
            "fallback. Set it to one or more comma-separated keys from "
            '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`.'
        )
    return keys


def load_keys() -> tuple[_Key, ...]:
    """The configured keys, validated; raises ImproperlyConfigured when missing or malformed."""
    configured = getattr(settings, "FIELD_ENCRYPTION_KEYS", None) or []
    if isinstance(configured, str):
        configured = configured.split(",")
    return _keys_from(tuple(k.strip() for k in configured if k and k.strip()))


def current_key_id() -> str:
    return load_keys()[0].key_id


def encrypt(plaintext: str, *, aad: str) -> str:
    """Encrypt with the first key, bound to `aad` (e.g. 'accounts.brokercredential.api_key:42')."""
    key = load_keys()[0]
    nonce = os.urandom(_NONCE_BYTES)
    sealed = key.aead.encrypt(nonce, plaintext.encode("utf-8"), aad.encode("utf-8"))
    body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii")
    return f"{PREFIX}${key.key_id}${body}"


def is_ciphertext(value: str) -> bool:
    return isinstance(value, str) and value.startswith(f"{PREFIX}$")


def key_id_of(ciphertext: str) -> str:
    parts = ciphertext.split("$")
    return parts[1] if len(parts) == 3 else ""


# Session tokens are decrypted on every order a follower is sent (the rules check the session, the client
# carries it): each process keeps what it decrypted, bounded, in memory only. A ciphertext (random nonce)
# with its row-bound AAD always decrypts to the same plaintext, so the cache never changes an answer; the
# key is still looked up first, so a key removed from FIELD_ENCRYPTION_KEYS stops decrypting at once.
_CACHED_FIELDS = ("accounts.brokercredential.access_token:", "accounts.brokercredential.broker_session_id:")


def decrypt(ciphertext: str, *, aad: str) -> str:
    """Decrypt with whichever configured key made it; DecryptionError on any mismatch."""
    parts = ciphertext.split("$") if isinstance(ciphertext, str) else []
    if len(parts) != 3 or parts[0] != PREFIX:
        raise DecryptionError("value is not in the encrypted format")
    _, key_id, body = parts
    key = next((k for k in load_keys() if k.key_id == key_id), None)
    if key is None:
        raise DecryptionError(f"value was encrypted with key {key_id}, which is not configured")
    if aad.startswith(_CACHED_FIELDS):
        return _decrypt_cached(key, str(body), aad)
    return _decrypt(key, body, aad)


@lru_cache(maxsize=4096)
def _decrypt_cached(key: _Key, body: str, aad: str) -> str:
    return _decrypt(key, body, aad)  # a DecryptionError is raised, never cached


def _decrypt(key: _Key, body: str, aad: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(body.encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise DecryptionError("value is not valid base64") from exc
    if len(raw) <= _NONCE_BYTES:
        raise DecryptionError("value is truncated")
    try:
        plain = key.aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], aad.encode("utf-8"))
    except InvalidTag as exc:
        raise DecryptionError("authentication failed (tampered, or bound to another row or field)") from exc
    return plain.decode("utf-8")


def mask_last4(secret: str) -> str:
    """The last 4 characters at most; short secrets show nothing."""
    if not secret:
        return ""
    return secret[-4:] if len(secret) >= 12 else ""


def token_mask(token: str) -> str:
    """The seed's tokenMask (first 10 + '...' + last 4); short tokens only show '...' + last 4."""
    if not token:
        return ""
    if len(token) < 24:
        return f"...{mask_last4(token)}"
    return f"{token[:10]}...{token[-4:]}"
