"""Staff logins: the TOTP device that is an operator's second factor in the admin."""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.services.audit import audit_record
from copytrade.core.exceptions import Conflict, NotFound, ValidationFailed

logger = logging.getLogger(__name__)

DEFAULT_DEVICE_NAME = "authenticator"


@dataclass(frozen=True)
class TotpEnrolment:
    """A new device's setup for an authenticator app; `config_url` and `secret` hold the key."""

    username: str
    device_name: str
    replaced: int
    config_url: str = field(repr=False)
    secret: str = field(repr=False)


@transaction.atomic
def staff_totp_device_enrol(
    *, username: str, actor: str, device_name: str = DEFAULT_DEVICE_NAME, replace: bool = False
) -> TotpEnrolment:
    """Give an active staff user a confirmed TOTP device, their only one; audited without the key.

    Raises NotFound for an unknown user, ValidationFailed for a user who may not use the admin, Conflict when
    the user has a device and `replace` is false. Replacing ends the sessions the old device verified.
    """
    name_limit = TOTPDevice._meta.get_field("name").max_length
    if not device_name.strip() or len(device_name) > name_limit:
        raise ValidationFailed(f"The device name must be 1 to {name_limit} characters.")
    user_model = get_user_model()
    user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).first()
    if user is None:
        raise NotFound(f"No user {username!r}.")
    if not (user.is_active and user.is_staff):
        raise ValidationFailed(
            f"{username} is not an active staff user: only staff log in to the admin. "
            "Make them staff first (is_staff), or enrol someone else."
        )
    existing = TOTPDevice.objects.select_for_update().filter(user=user)
    names = [device.name for device in existing]
    if names and not replace:
        raise Conflict(f"{username} already has a TOTP device ({', '.join(names)}); --force replaces it.")
    existing.delete()
    device = TOTPDevice.objects.create(user=user, name=device_name, confirmed=True)
    audit_record(
        actor=actor,
        action="otp.enrolled",
        target=username,
        details={"device": device_name, "replaced": names},
    )
    logger.info("otp device %s enrolled for %s, %d replaced", device.pk, username, len(names))
    return TotpEnrolment(
        username=username,
        device_name=device_name,
        replaced=len(names),
        config_url=device.config_url,
        secret=base64.b32encode(device.bin_key).decode("ascii"),
    )
