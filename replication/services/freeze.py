"""The operator's freeze-quantity table (used where the contract master has no freeze quantity): audited."""

from __future__ import annotations

from django.db import transaction

from accounts.services.audit import audit_record
from replication.models import FreezeQuantity


@transaction.atomic
def freeze_quantity_save(*, actor: str, row: FreezeQuantity, changed: list[str]) -> FreezeQuantity:
    """Save an operator's freeze quantity (exchange and symbol upper-case); audited with what changed."""
    adding = row.pk is None
    row.exchange = row.exchange.strip().upper()
    row.symbol = row.symbol.strip().upper()
    row.full_clean()
    row.save()
    audit_record(
        actor=actor,
        action="freeze_quantity.added" if adding else "freeze_quantity.changed",
        target=f"{row.exchange}:{row.symbol}",
        details={"freeze_quantity": row.freeze_quantity, "changed": sorted(changed)},
    )
    return row


@transaction.atomic
def freeze_quantity_delete(*, actor: str, row: FreezeQuantity) -> None:
    """Remove an operator's freeze quantity (that underlying is no longer sliced unless the contract master
    has one); audited."""
    target = f"{row.exchange}:{row.symbol}"
    freeze = row.freeze_quantity
    row.delete()
    audit_record(
        actor=actor, action="freeze_quantity.deleted", target=target, details={"freeze_quantity": freeze}
    )
