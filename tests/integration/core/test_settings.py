"""Settings come from the environment: SQLite by default, MySQL through TEST_DATABASE_URL, deploy-checked."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[3]
PROD_ENV = {
    "DJANGO_SETTINGS_MODULE": "copytrade.settings",
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "x" * 20 + "production-like-secret-key-with-enough-entropy-1234567890",
    "DJANGO_ALLOWED_HOSTS": "copytrade.example.com",
    "FIELD_ENCRYPTION_KEYS": "2o7aMrKC7qYWZ7mfqWgeilXoaU16DzXae42RIyoVZgQ=",
    "QUANTUM_ALPHA_SECRET": "a-long-random-operator-secret-0123456789",
    "PATH": os.environ.get("PATH", ""),
}


def _run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_sqlite_is_the_default_without_database_url():
    # given an environment without DATABASE_URL
    env = {**PROD_ENV}
    # when
    result = _run(
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DATABASES['default']['ENGINE'])",
        env,
    )
    # then
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.db.backends.sqlite3"


def test_mysql_url_gets_utf8mb4_and_strict_mode():
    # given
    env = {**PROD_ENV, "DATABASE_URL": "mysql://user:pw@db.example.com:3306/copytrade"}
    # when
    result = _run(
        # Settings only: django.setup() would load the MySQL backend, which needs the optional mysqlclient.
        "from django.conf import settings; "
        "d = settings.DATABASES['default']; print(d['ENGINE'], d['OPTIONS']['charset'], "
        "'STRICT_TRANS_TABLES' in d['OPTIONS']['init_command'])",
        env,
    )
    # then
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.mysql", "utf8mb4", "True"]


def test_production_settings_pass_check_deploy():
    # when
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=PROD_ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # then
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("extra", "required"),
    [
        ({}, "True"),
        ({"DJANGO_DEBUG": "1"}, "False"),
        ({"DJANGO_DEBUG": "1", "COPYTRADE_ADMIN_REQUIRE_OTP": "1"}, "True"),
    ],
    ids=["production", "debug", "debug-turned-on"],
)
def test_admin_second_factor_is_required_unless_debug(extra, required):
    # given
    env = {**PROD_ENV, **extra}
    # when
    result = _run(
        "from django.conf import settings; print(settings.COPYTRADE_ADMIN_REQUIRE_OTP)",
        env,
    )
    # then
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == required


def test_production_settings_lock_the_admin_down():
    # when
    result = _run(
        "import django; django.setup(); from django.conf import settings; from django.contrib import admin; "
        "print(admin.site.__class__.__name__); "
        "print(settings.AUTHENTICATION_BACKENDS[0]); print(settings.MIDDLEWARE[-1]); "
        "print(settings.MIDDLEWARE.index('django_otp.middleware.OTPMiddleware') "
        "> settings.MIDDLEWARE.index('django.contrib.auth.middleware.AuthenticationMiddleware'))",
        PROD_ENV,
    )
    # then
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "CopytradeAdminSite",
        "axes.backends.AxesStandaloneBackend",
        "axes.middleware.AxesMiddleware",
        "True",
    ]


def test_production_without_secret_key_refuses_to_start():
    # given
    env = {k: v for k, v in PROD_ENV.items() if k != "DJANGO_SECRET_KEY"}
    # when
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    # then
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


@pytest.mark.mysql
@pytest.mark.django_db
def test_tests_run_on_mysql_when_test_database_url_is_set():
    if not os.environ.get("TEST_DATABASE_URL", "").startswith("mysql"):
        pytest.skip("TEST_DATABASE_URL is not a MySQL URL")
    # when
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@sql_mode, @@character_set_connection")
        sql_mode, charset = cursor.fetchone()
    # then
    assert connection.vendor == "mysql"
    assert "STRICT_TRANS_TABLES" in sql_mode
    assert charset == "utf8mb4"


@pytest.mark.parametrize("window", ["24:00-15:30", "09:00-29:59", "9:00-15:30", "09:00"])
def test_a_capture_window_that_is_not_two_clock_times_refuses_to_start(window):
    # given a window the scan could not parse (it would fail on every run)
    env = {**PROD_ENV, "NOTIFY_CAPTURE_WINDOW": window}
    # when
    result = _run("import django; django.setup()", env)
    # then
    assert result.returncode != 0
    assert "NOTIFY_CAPTURE_WINDOW must be HH:MM-HH:MM" in result.stderr
