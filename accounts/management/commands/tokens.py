"""Manage Alice Blue session tokens (the seed's scripts/fetch_tokens.py, done properly).

  tokens add <userId> [--auth-code-stdin | --token-stdin]   default: legacy API-key session
  tokens list
  tokens import [<file>] [--create-followers]               seed format {"<userId>": "<token>"}
  tokens refresh [<userId> ...] [--all]

Secrets come from a prompt (getpass), stdin or environment variables, never from the command line.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.encryption import mask_last4
from accounts.models import Account
from accounts.selectors import (
    account_find_by_user_id,
    accounts_with_token,
    session_ready_today,
    session_state,
)
from accounts.services.sessions import (
    account_session_check,
    account_session_from_api_key,
    account_session_from_auth_code,
    account_session_store,
)
from accounts.services.tokens import tokens_file_read, tokens_import
from copytrade.core.exceptions import ApplicationError

API_KEY_ENV = "ALICE_USER_API_KEY"
AUTH_CODE_ENV = "ALICE_AUTH_CODE"
TOKEN_ENV = "ALICE_SESSION_TOKEN"  # noqa: S105 - the name of an env variable, not a secret


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli"


class Command(BaseCommand):
    help = "Add, list, import and verify Alice Blue session tokens (stored encrypted in the database)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, parser_class=type(parser))
        add = sub.add_parser("add", help="Obtain and store a session for one account.")
        add.add_argument("user_id", metavar="userId", help="account id or Alice Blue user id")
        source = add.add_mutually_exclusive_group()
        source.add_argument(
            "--auth-code-stdin",
            action="store_true",
            help=f"read a vendor-login authCode from stdin (or ${AUTH_CODE_ENV}) and exchange it",
        )
        source.add_argument(
            "--token-stdin",
            action="store_true",
            help=f"read an existing session token from stdin (or ${TOKEN_ENV}) and store it as is",
        )
        add.add_argument(
            "--api-key-prompt",
            action="store_true",
            help=f"legacy API-key session: prompt for the API key (else ${API_KEY_ENV}, else the stored key)",
        )
        sub.add_parser("list", help="List stored tokens (masked).")
        imp = sub.add_parser("import", help="Import a seed-format tokens file, all or nothing.")
        imp.add_argument("file", nargs="?", help="default: settings.ALICE_OAUTH_TOKENS_FILE")
        imp.add_argument(
            "--create-followers",
            action="store_true",
            help="create unknown userIds as follower accounts (never as the master)",
        )
        refresh = sub.add_parser(
            "refresh",
            help="Verify sessions with a read call (a replacement token first); mark VALID or EXPIRED.",
        )
        refresh.add_argument("user_ids", nargs="*", metavar="userId")
        refresh.add_argument(
            "--all", action="store_true", help="every account with a token (default: not ready today)"
        )

    def handle(self, *args, subcommand: str, **options) -> None:
        try:
            getattr(self, f"handle_{subcommand}")(**options)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc

    # ------------------------------------------------------------------------------------------ add
    def _account(self, user_id: str) -> Account:
        account = account_find_by_user_id(user_id=user_id)
        if account is None:
            raise CommandError(f"No account {user_id}: create it first (API, admin or create_master).")
        return account

    def _secret(self, *, env_name: str, prompt: str, from_stdin: bool) -> str:
        value = os.environ.get(env_name, "")
        if not value and from_stdin:
            value = sys.stdin.readline()
        if not value and from_stdin is False:
            value = getpass.getpass(prompt)
        value = value.strip()
        if not value:
            raise CommandError(f"No value given (stdin, prompt or ${env_name}).")
        return value

    def handle_add(
        self, *, user_id: str, auth_code_stdin: bool, token_stdin: bool, api_key_prompt: bool, **_
    ) -> None:
        account = self._account(user_id)
        actor = _actor()
        if auth_code_stdin:
            code = self._secret(env_name=AUTH_CODE_ENV, prompt="authCode: ", from_stdin=True)
            account_session_from_auth_code(account=account, auth_code=code, actor=actor)
            source = "vendor authCode"
        elif token_stdin:
            token = self._secret(env_name=TOKEN_ENV, prompt="token: ", from_stdin=True)
            account_session_store(
                account=account, token=token, actor=actor, source="cli_token", verified=False
            )
            source = "pasted token"
        else:
            api_key = os.environ.get(API_KEY_ENV, "") or None
            if api_key_prompt and not api_key:
                api_key = self._secret(env_name=API_KEY_ENV, prompt="API key: ", from_stdin=False)
            account_session_from_api_key(account=account, api_key=api_key, actor=actor)
            source = "legacy API key"
        account.refresh_from_db()
        credential = account.credential
        self.stdout.write(self.style.SUCCESS(f"✅ Token saved for {account.account_id} ({source})"))
        if credential.has_pending_token:
            self.stdout.write(
                f"  • {account.account_id}: {_mask(credential.pending_session_token)} waits for its check; "
                f"the working session {_mask(credential.session_token)} stays in use until it passes"
            )
        else:
            self.stdout.write(
                f"  • {account.account_id}: {_mask(credential.session_token)} ({_state(credential)})"
            )

    # ----------------------------------------------------------------------------------------- list
    def handle_list(self, **_) -> None:
        accounts = accounts_with_token()
        if not accounts:
            self.stdout.write("No tokens stored.")
            return
        self.stdout.write("📋 Stored tokens:")
        for account in accounts:
            credential = account.credential
            self.stdout.write(
                f"  • {account.account_id}: {_mask(credential.session_token)} "
                f"({account.role.lower()}, {_state(credential)})"
            )

    # --------------------------------------------------------------------------------------- import
    def handle_import(self, *, file: str | None, create_followers: bool, **_) -> None:
        path = Path(file or settings.ALICE_OAUTH_TOKENS_FILE)
        tokens = tokens_file_read(path=path)
        if not tokens:
            raise CommandError(f"{path} holds no tokens.")
        result = tokens_import(tokens=tokens, actor=_actor(), create_missing=create_followers)
        for account_id in result.created:
            self.stdout.write(f"  + created follower {account_id}")
        self.stdout.write(
            self.style.SUCCESS(
                f"✅ Imported {len(result.updated)} tokens from {path}: UNVERIFIED until a check passes "
                "(one runs in the background now; `tokens refresh` checks at once)."
            )
        )

    # -------------------------------------------------------------------------------------- refresh
    def handle_refresh(self, *, user_ids: list[str], all: bool, **_) -> None:
        if user_ids:
            accounts = [self._account(uid) for uid in user_ids]
        else:
            accounts = [a for a in accounts_with_token() if all or not session_ready_today(a.credential)]
        if not accounts:
            self.stdout.write("Nothing to verify: every session was verified today (use --all to force).")
            return
        counts: dict[str, int] = {}
        for account in accounts:
            result = account_session_check(account=account, actor=_actor())
            counts[result.status] = counts.get(result.status, 0) + 1
            style = self.style.SUCCESS if result.status == "VALID" else self.style.ERROR
            detail = "" if result.status == "VALID" else f": {result.message}"
            self.stdout.write(style(f"  • {account.account_id}: {result.status}{detail}"))
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        self.stdout.write(f"Verified {len(accounts)} sessions: {summary}")


def _state(credential) -> str:
    """The effective session state (selectors.session_state), as the API and the admin show it."""
    state = session_state(credential)
    ready = "ready today" if state == "VALID" else "not ready: verify it (tokens refresh)"
    pending = ", replacement pending" if credential.has_pending_token else ""
    return f"{state}, {ready}{pending}"


def _mask(token: str) -> str:
    last4 = mask_last4(token)
    return f"***{last4}" if last4 else "***"
