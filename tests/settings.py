"""Test settings: the real settings module, with the environment a test run needs.

TEST_DATABASE_URL (MySQL/MariaDB) and TEST_REDIS_URL (Celery broker) select the real services; without them
SQLite and the filesystem broker are used.
"""

import os
import tempfile

os.environ.setdefault("DJANGO_DEBUG", "0")
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("QUANTUM_ALPHA_SECRET", "test-qa-secret-0123456789abcdef")
# Generated for tests only (Fernet.generate_key() format); production keys come from the environment.
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "2o7aMrKC7qYWZ7mfqWgeilXoaU16DzXae42RIyoVZgQ=")
os.environ.setdefault("ALICE_CONNECT_TIMEOUT", "1.0")
os.environ.setdefault("ALICE_READ_TIMEOUT", "2.0")
os.environ.setdefault("LOG_LEVEL", "INFO")
# The suite runs at any hour (CI at night IST): the copy window rule is off unless a test turns it on.
os.environ["COPYTRADE_COPY_WINDOW_DEFAULT"] = "0"
if os.environ.get("TEST_DATABASE_URL"):
    os.environ["DATABASE_URL"] = os.environ["TEST_DATABASE_URL"]
else:
    os.environ.pop("DATABASE_URL", None)
if os.environ.get("TEST_REDIS_URL"):
    os.environ["CELERY_BROKER_URL"] = os.environ["TEST_REDIS_URL"]
else:
    os.environ["CELERY_BROKER_URL"] = "filesystem://"
    os.environ.setdefault("CELERY_BROKER_FOLDER", tempfile.mkdtemp(prefix="copytrade-test-broker-"))

from copytrade.settings import *  # noqa: F403

STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
os.makedirs(STATIC_ROOT, exist_ok=True)  # noqa: F405 - whitenoise warns about a missing folder

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not Django's shared-cache in-memory database: there a second writer (a worker thread) fails at
    # once with "database table is locked"; a file waits on the busy timeout, as the real service does.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.mkdtemp(prefix="copytrade-test-db-"), "test.sqlite3")
    }
    DATABASES["default"]["OPTIONS"]["init_command"] = "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;"  # noqa: F405
