"""Consent to trade replication: given by the follower through a signed consent link, recorded by an operator
with a reference to consent obtained elsewhere, or revoked. Every write leaves an audit row.

A consent link carries the follower's id and the nonce stored on their Consent row, signed with Django's
signing (SECRET_KEY, a salt of its own) and timestamped: it works for COPYTRADE_CONSENT_LINK_MAX_AGE_HOURS,
once. Issuing a new link or revoking replaces the nonce, so every older link stops working.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.views.decorators.debug import sensitive_variables

from accounts.consent_links import consent_link_sign
from accounts.exceptions import ConsentLinkGone, ConsentLinkNotConfigured
from accounts.models import Account, Consent
from accounts.selectors import consent_link_read, follower_get
from accounts.services.audit import audit_record
from accounts.validators import REFERENCE_MAX_LENGTH, TERMS_VERSION_MAX_LENGTH, validate_printable
from copytrade.core.exceptions import ValidationFailed

logger = logging.getLogger(__name__)

# The terms the follower agrees to; a change of wording is a new template and a new version.
TERMS_VERSION = "v1"
TERMS_TEMPLATE = "accounts/consent/terms_v1.html"

CONSENT_REQUIRED_MESSAGE = (
    "Consent comes from the follower: send them a consent link (POST /api/followers/consent-link, or "
    "'Send consent link' in the admin) and they agree on its page. To record consent the follower gave "
    'elsewhere, send "recordedByOperator": true with a "reference" (e.g. "signed form #123").'
)


@dataclass(frozen=True)
class ConsentLink:
    url: str
    expires_at: datetime


def _consent_for_update(account: Account) -> Consent:
    consent, _ = Consent.objects.select_for_update().get_or_create(account=account)
    return consent


@sensitive_variables("token")
@transaction.atomic
def consent_link_issue(*, account: Account, actor: str) -> ConsentLink:
    """A new consent link for the follower; every older link stops working. The audit row holds no link."""
    base = settings.COPYTRADE_PUBLIC_URL.strip().rstrip("/")
    if not base:
        raise ConsentLinkNotConfigured()
    if account.role != Account.Role.FOLLOWER:
        raise ValidationFailed("Consent links are for followers", code="not_a_follower")
    account = Account.objects.select_for_update().get(pk=account.pk)
    consent = _consent_for_update(account)
    consent.link_nonce = secrets.token_urlsafe(24)
    consent.save(update_fields=["link_nonce", "updated_at"])
    token = consent_link_sign(account_pk=account.pk, nonce=consent.link_nonce)
    expires_at = timezone.now() + timedelta(hours=settings.COPYTRADE_CONSENT_LINK_MAX_AGE_HOURS)
    audit_record(
        actor=actor,
        action="consent.link_issued",
        target=account.account_id,
        details={"expires_at": expires_at.isoformat()},
    )
    logger.info("consent link issued for %s (expires %s)", account.account_id, expires_at.isoformat())
    return ConsentLink(url=base + reverse("consent:page", args=[token]), expires_at=expires_at)


@sensitive_variables("token", "nonce")
@transaction.atomic
def consent_give_by_link(*, token: str, ip_address: str, user_agent: str) -> Consent:
    """The follower agrees on the consent link's page: record time, IP, user agent and terms version.

    ConsentLinkInvalid (400) or ConsentLinkGone (410) for a link that does not work; nothing is written then.
    The link is spent: its nonce is cleared.
    """
    account, nonce = consent_link_read(token=token)
    account = Account.objects.select_for_update().get(pk=account.pk)
    consent = _consent_for_update(account)
    if not consent.link_nonce or not constant_time_compare(consent.link_nonce, nonce):
        raise ConsentLinkGone()
    now = timezone.now()
    consent.trade_replication_enabled = True
    consent.consent_given_at = now
    consent.consent_token = f"link-{nonce[:12]}"
    consent.ip_address = (ip_address or "unknown")[:45]
    consent.user_agent = user_agent[:1000]
    consent.terms_version = TERMS_VERSION
    consent.recorded_by = Consent.RecordedBy.FOLLOWER
    consent.recorded_by_actor = f"follower:{account.account_id}"[:150]
    consent.reference = ""
    consent.revoked_at = None
    consent.revoked_by = ""
    consent.link_nonce = ""
    consent.save()
    audit_record(
        actor=consent.recorded_by_actor,
        action="consent.given",
        target=account.account_id,
        details={"terms_version": TERMS_VERSION, "ip_address": consent.ip_address},
    )
    logger.info("consent given by %s through a consent link (terms %s)", account.account_id, TERMS_VERSION)
    return consent


@transaction.atomic
def consent_record_by_operator(
    *, follower_id: str, actor: str, reference: str, consent_token: str = "", terms_version: str = ""
) -> Consent:
    """Record consent the follower gave elsewhere (a signed form, a recorded call), on the operator's word.

    `reference` says where the evidence is; no IP or user agent is stored (they would be the operator's).
    """
    reference = reference.strip()
    if not reference:
        raise ValidationFailed(
            CONSENT_REQUIRED_MESSAGE, code="consent_needs_follower", extra={"field": "reference"}
        )
    if len(reference) > REFERENCE_MAX_LENGTH:
        raise ValidationFailed(
            f"reference: at most {REFERENCE_MAX_LENGTH} characters", extra={"field": "reference"}
        )
    if len(terms_version) > TERMS_VERSION_MAX_LENGTH or len(consent_token) > 255:
        raise ValidationFailed("termsVersion or consentToken too long", extra={"field": "termsVersion"})
    for name, value in (
        ("reference", reference),
        ("consentToken", consent_token),
        ("termsVersion", terms_version),
    ):
        try:
            validate_printable(value)
        except ValidationError as exc:
            raise ValidationFailed(f"{name}: {exc.messages[0]}", extra={"field": name}) from exc
    account = follower_get(follower_id=follower_id, for_update=True)
    consent = _consent_for_update(account)
    consent.trade_replication_enabled = True
    consent.consent_given_at = timezone.now()
    consent.consent_token = consent_token or f"operator-{secrets.token_hex(8)}"
    consent.ip_address = ""
    consent.user_agent = ""
    consent.terms_version = terms_version
    consent.recorded_by = Consent.RecordedBy.OPERATOR
    consent.recorded_by_actor = actor[:150]
    consent.reference = reference
    consent.revoked_at = None
    consent.revoked_by = ""
    consent.save()
    audit_record(
        actor=actor,
        action="consent.recorded",
        target=account.account_id,
        details={"recorded_by": Consent.RecordedBy.OPERATOR, "reference": reference},
    )
    logger.info("consent recorded by %s for %s (operator, with a reference)", actor, account.account_id)
    return consent


@transaction.atomic
def consent_revoke(*, account: Account, actor: str) -> Consent:
    """Withdraw consent (no more copies) and end every consent link issued so far."""
    account = Account.objects.select_for_update().get(pk=account.pk)
    consent = _consent_for_update(account)
    was_given = consent.trade_replication_enabled
    consent.trade_replication_enabled = False
    consent.revoked_at = timezone.now()
    consent.revoked_by = actor[:150]
    consent.link_nonce = ""
    consent.save()
    audit_record(
        actor=actor, action="consent.revoked", target=account.account_id, details={"was_given": was_given}
    )
    logger.info("consent revoked for %s by %s", account.account_id, actor)
    return consent
