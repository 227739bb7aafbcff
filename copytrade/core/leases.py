"""Leases: one holder at a time for a named job across processes and machines (see models.Lease)."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from copytrade.core.models import Lease


def holder_id(role: str) -> str:
    """A name unique to this process (host, pid and a random part), for `lease_acquire`'s `holder`."""
    return f"{role}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:200]


def lease_acquire(*, name: str, holder: str, seconds: float) -> bool:
    """Take the lease `name` for `seconds` if it is free, lapsed or already ours (then it is renewed)."""
    now = timezone.now()
    expires = now + timedelta(seconds=seconds)
    free = Q(holder=holder) | Q(holder="") | Q(expires_at__lt=now) | Q(expires_at__isnull=True)
    if Lease.objects.filter(free, name=name).update(holder=holder, expires_at=expires):
        return True
    if Lease.objects.filter(name=name).exists():
        return False
    try:
        with transaction.atomic():
            Lease.objects.create(name=name, holder=holder, expires_at=expires)
    except IntegrityError:
        return False  # another process created it first: it holds the lease
    return True


def lease_release(*, name: str, holder: str) -> None:
    """Give the lease up at once (only if we hold it)."""
    Lease.objects.filter(name=name, holder=holder).update(holder="", expires_at=None)


def lease_holder(*, name: str) -> str:
    """Who holds the lease now ("" when nobody, or it lapsed)."""
    lease = Lease.objects.filter(name=name).first()
    if lease is None or lease.expires_at is None or lease.expires_at < timezone.now():
        return ""
    return lease.holder
