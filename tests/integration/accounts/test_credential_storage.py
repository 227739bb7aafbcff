"""Credentials at rest: encrypted on SQLite and MariaDB, bound to their row, rotated, never leaked."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from accounts.encryption import DecryptionError, key_id_of
from accounts.models import Account, BrokerCredential
from tests.factories.accounts import AccountFactory, BrokerCredentialFactory, MasterFactory

pytestmark = pytest.mark.django_db(transaction=False)

CANARY = "CANARY-5ecret-do-not-leak-7f3a9c"
ROOT = Path(__file__).resolve().parents[3]


def _raw_column(credential_pk: int, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM accounts_brokercredential WHERE id = %s", [credential_pk])  # noqa: S608
        return cursor.fetchone()[0]


def _round_trip() -> None:
    # given
    account = AccountFactory()
    # when
    credential = BrokerCredentialFactory(account=account, api_key=CANARY, access_token="tok-" + CANARY)
    loaded = BrokerCredential.objects.get(pk=credential.pk)
    # then
    assert CANARY not in _raw_column(credential.pk, "api_key")
    assert _raw_column(credential.pk, "api_key").startswith("ct1$")
    assert loaded.api_key == CANARY
    assert loaded.access_token == "tok-" + CANARY
    assert loaded.api_secret.startswith("api-secret-")
    assert CANARY not in repr(loaded)
    assert CANARY not in str(loaded)


def test_round_trip_on_the_test_database():
    _round_trip()


@pytest.mark.mysql
@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("mysql"),
    reason="TEST_DATABASE_URL is not MySQL/MariaDB",
)
def test_round_trip_on_mariadb():
    assert connection.vendor == "mysql"
    _round_trip()


def test_empty_values_stay_empty():
    # given
    credential = BrokerCredentialFactory(api_key="", api_secret="", broker_session_id="")
    # when
    loaded = BrokerCredential.objects.get(pk=credential.pk)
    # then
    assert loaded.api_key == ""
    assert loaded.broker_session_id == ""
    assert _raw_column(credential.pk, "api_key") == ""


def test_ciphertext_swapped_between_accounts_is_rejected():
    # given
    one = BrokerCredentialFactory(access_token="token-of-account-one-xxxx")
    two = BrokerCredentialFactory(access_token="token-of-account-two-yyyy")
    stolen = _raw_column(one.pk, "access_token")
    # when: an attacker with DB access copies account one's token into account two's row
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE accounts_brokercredential SET access_token = %s WHERE id = %s", [stolen, two.pk]
        )
    # then
    with pytest.raises(DecryptionError):
        _ = BrokerCredential.objects.get(pk=two.pk).access_token
    assert BrokerCredential.objects.get(pk=one.pk).access_token == "token-of-account-one-xxxx"


def test_ciphertext_moved_to_another_field_is_rejected():
    # given
    credential = BrokerCredentialFactory(api_key="key-value-123456789")
    sealed_key = _raw_column(credential.pk, "api_key")
    # when
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE accounts_brokercredential SET api_secret = %s WHERE id = %s", [sealed_key, credential.pk]
        )
    # then
    with pytest.raises(DecryptionError):
        _ = BrokerCredential.objects.get(pk=credential.pk).api_secret


def test_tampered_ciphertext_in_the_database_is_rejected():
    # given
    credential = BrokerCredentialFactory()
    sealed = _raw_column(credential.pk, "access_token")
    tampered = sealed[:-3] + ("AAA" if not sealed.endswith("AAA") else "BBB")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE accounts_brokercredential SET access_token = %s WHERE id = %s", [tampered, credential.pk]
        )
    # when / then
    with pytest.raises(DecryptionError):
        _ = BrokerCredential.objects.get(pk=credential.pk).access_token


def test_plaintext_never_written_through_update_paths():
    # given
    credential = BrokerCredentialFactory()
    # when / then
    with pytest.raises(ValueError, match="encrypted"), transaction.atomic():
        BrokerCredential.objects.filter(pk=credential.pk).update(api_key="plaintext-api-key")
    credential.api_key = "plaintext-api-key"
    with pytest.raises(ValueError, match="encrypted"), transaction.atomic():
        BrokerCredential.objects.bulk_update([credential], ["api_key"])


def test_rotation_reencrypts_every_row_with_the_first_key(settings):
    # given: two credentials under the old key
    old_key, new_key = settings.FIELD_ENCRYPTION_KEYS[0], Fernet.generate_key().decode()
    first = BrokerCredentialFactory(access_token="first-token-aaaaaaaaaaaa")
    second = BrokerCredentialFactory(access_token="second-token-bbbbbbbbbbb")
    old_id = key_id_of(_raw_column(first.pk, "access_token"))
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    out = io.StringIO()
    # when
    call_command("rotate_encryption_keys", stdout=out)
    # then
    assert "Re-encrypted 2 credentials" in out.getvalue()
    for pk in (first.pk, second.pk):
        for column in BrokerCredential.ENCRYPTED_FIELDS:
            value = _raw_column(pk, column)
            assert value == "" or key_id_of(value) != old_id
    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key can now be dropped
    assert BrokerCredential.objects.get(pk=first.pk).access_token == "first-token-aaaaaaaaaaaa"
    assert BrokerCredential.objects.get(pk=second.pk).access_token == "second-token-bbbbbbbbbbb"


def test_rotation_changes_nothing_when_a_value_cannot_be_decrypted(settings):
    # given: one good row and one row under a key that is no longer configured
    good = BrokerCredentialFactory(access_token="good-token-aaaaaaaaaaaaa")
    good_before = _raw_column(good.pk, "access_token")
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    BrokerCredentialFactory(access_token="lost-token-bbbbbbbbbbbbb")
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.FIELD_ENCRYPTION_KEYS]
    # when / then
    with pytest.raises(Exception, match="Nothing was changed"):
        call_command("rotate_encryption_keys", stdout=io.StringIO())
    assert _raw_column(good.pk, "access_token") == good_before


def test_exactly_one_active_master_is_enforced_by_the_database():
    # given
    MasterFactory()
    # when / then
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(
            account_id="MASTER-TWO", role=Account.Role.MASTER, status=Account.Status.ACTIVE
        )
    Account.objects.create(account_id="MASTER-OLD", role=Account.Role.MASTER, status=Account.Status.INACTIVE)
    assert Account.objects.filter(role=Account.Role.MASTER).count() == 2


def test_no_canary_secret_in_dumpdata_raw_tables_or_logs(caplog, api):
    # given: secrets entered through every path (API create, credential POST, model save)
    caplog.set_level(logging.DEBUG)
    responses = [
        api.post(
            "/api/followers",
            {
                "followerId": "F-CANARY",
                "clientId": "AB9",
                "apiKey": f"k-{CANARY}",
                "accessToken": f"t-{CANARY}",
                "apiSecret": f"s-{CANARY}",
            },
            format="json",
        ),
        api.post(
            "/api/followers/credentials",
            {"followerId": "F-CANARY", "accessToken": f"t2-{CANARY}", "brokerSessionId": f"b-{CANARY}"},
            format="json",
        ),
        api.get("/api/followers/credentials", {"followerId": "F-CANARY"}),
        api.get("/api/admin/accounts"),
        api.get("/api/followers"),
    ]
    assert [r.status_code for r in responses] == [201, 200, 200, 200, 200]
    assert not [r for r in responses if CANARY in r.content.decode()]
    BrokerCredentialFactory(api_key=f"k3-{CANARY}")
    dump = io.StringIO()
    # when
    call_command("dumpdata", stdout=dump)
    rows: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            columns = [c.name for c in connection.introspection.get_table_description(cursor, table)]
            quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
            cursor.execute(f"SELECT {quoted} FROM {connection.ops.quote_name(table)}")  # noqa: S608
            rows.extend(str(v) for row in cursor.fetchall() for v in row if v is not None)
    # then
    assert "F-CANARY" in dump.getvalue()
    assert "ct1$" in dump.getvalue()
    assert CANARY not in dump.getvalue()
    assert not [r for r in rows if CANARY in r]
    assert CANARY not in caplog.text


@pytest.mark.parametrize("bad_keys", ["", "not-a-valid-key"])
def test_missing_or_malformed_key_stops_start_up(bad_keys):
    # given
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "FIELD_ENCRYPTION_KEYS": bad_keys}
    # when
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    # then
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "FIELD_ENCRYPTION_KEYS" in result.stderr
