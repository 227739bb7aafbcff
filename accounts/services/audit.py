"""The append-only audit log."""

from __future__ import annotations

from typing import Any

from accounts.models import AuditEvent

SYSTEM_ACTOR = "system"


def audit_record(
    *, actor: str, action: str, target: str = "", details: dict[str, Any] | None = None
) -> AuditEvent:
    """Append one audit event; `details` must never hold a secret value (names of changed fields only)."""
    return AuditEvent.objects.create(
        actor=(actor or SYSTEM_ACTOR)[:150], action=action, target=target[:200], details=details or {}
    )
