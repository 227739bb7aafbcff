"""The consent link token: the follower's primary key and link nonce, signed and timestamped by Django's
signing (SECRET_KEY, with a salt used for nothing else)."""

from __future__ import annotations

from django.conf import settings
from django.core import signing

from accounts.exceptions import ConsentLinkGone, ConsentLinkInvalid

SALT = "copytrade.accounts.consent-link"


def consent_link_sign(*, account_pk: int, nonce: str) -> str:
    return signing.TimestampSigner(salt=SALT).sign_object({"a": account_pk, "n": nonce})


def consent_link_payload(token: str) -> tuple[int, str]:
    """(account pk, nonce) of a genuine, unexpired token; else ConsentLinkInvalid (400) or ConsentLinkGone
    (410, expired)."""
    max_age = settings.COPYTRADE_CONSENT_LINK_MAX_AGE_HOURS * 3600
    try:
        payload = signing.TimestampSigner(salt=SALT).unsign_object(token, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise ConsentLinkGone(
            "This consent link has expired. Ask the operator for a new link.", code="consent_link_expired"
        ) from exc
    except (signing.BadSignature, ValueError, UnicodeError) as exc:
        raise ConsentLinkInvalid() from exc
    if not isinstance(payload, dict):
        raise ConsentLinkInvalid()
    account_pk, nonce = payload.get("a"), payload.get("n")
    if not isinstance(account_pk, int) or not isinstance(nonce, str) or not nonce:
        raise ConsentLinkInvalid()
    return account_pk, nonce
