"""Import of the seed's tokens file (`.alice.tokens.json`: `{userId: token}`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from accounts.models import Account
from accounts.selectors import account_find_by_user_id
from accounts.services.accounts import follower_create
from accounts.services.sessions import account_session_store
from accounts.validators import TOKEN_MAX_LENGTH, secret_check
from copytrade.core.exceptions import NotFound, ValidationFailed


@dataclass
class TokensImportResult:
    updated: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)


def tokens_file_read(*, path: Path) -> dict[str, str]:
    """Parse and validate a tokens file; ValidationFailed names what is wrong (never a token value)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ValidationFailed(f"Tokens file not found: {path}") from exc
    except OSError as exc:
        raise ValidationFailed(f"Cannot read tokens file {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno})") from exc
    if not isinstance(data, dict):
        raise ValidationFailed(f'{path} must hold a JSON object {{"<userId>": "<token>"}}')
    bad = [str(k) for k, v in data.items() if not isinstance(v, str) or not v.strip() or not str(k).strip()]
    if bad:
        raise ValidationFailed(f"{path}: entries without a token string: {', '.join(sorted(bad))}")
    tokens = {str(k).strip(): v.strip() for k, v in data.items()}
    unsendable = []
    for user_id, token in tokens.items():
        try:
            secret_check(field="token", value=token, max_length=TOKEN_MAX_LENGTH)
        except ValidationFailed:
            unsendable.append(user_id)
    if unsendable:
        raise ValidationFailed(
            f"{path}: tokens that are not printable ASCII (or longer than {TOKEN_MAX_LENGTH} characters) "
            f"cannot be sent to Alice Blue: {', '.join(sorted(unsendable))}"
        )
    return tokens


@transaction.atomic
def tokens_import(*, tokens: dict[str, str], actor: str, create_missing: bool = False) -> TokensImportResult:
    """Store every token on its account in one transaction (all or nothing).

    A userId matches an account's account_id or client_id. Unknown userIds fail the whole import unless
    `create_missing`, which creates them as followers (never as the master). Imported tokens are UNVERIFIED
    (or wait as the replacement of a session that works today) and are checked in the background.
    """
    result = TokensImportResult()
    resolved: list[tuple[str, Account | None]] = [
        (uid, account_find_by_user_id(user_id=uid)) for uid in tokens
    ]
    unknown = sorted(uid for uid, account in resolved if account is None)
    if unknown and not create_missing:
        raise NotFound(
            f"No account for: {', '.join(unknown)} (create them first, or pass --create-followers)",
            code="account_not_found",
        )
    for user_id, account in resolved:
        if account is None:
            account = follower_create(follower_id=user_id, client_id=user_id, actor=actor)
            result.created.append(user_id)
        account_session_store(
            account=account, token=tokens[user_id], actor=actor, source="tokens_import", verified=False
        )
        result.updated.append(account.account_id)
    return result
