"""CI pre-flight: MariaDB and Redis must answer; the database is created when missing."""

import os
import sys
from urllib.parse import urlparse


def check_mysql(url: str) -> None:
    import MySQLdb

    parts = urlparse(url)
    name = parts.path.lstrip("/") or "test"
    conn = MySQLdb.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=parts.username or "root",
        passwd=parts.password or "",
        connect_timeout=5,
    )
    cursor = conn.cursor()
    cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    cursor.execute("SELECT VERSION()")
    print(f"ci: MySQL/MariaDB {cursor.fetchone()[0]} reachable, database {name} ready")
    conn.close()


def check_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=5)
    client.ping()
    print(f"ci: Redis {client.info('server')['redis_version']} reachable")


def main() -> int:
    failures = []
    for name, url, check in (
        ("TEST_DATABASE_URL", os.environ.get("TEST_DATABASE_URL", ""), check_mysql),
        ("TEST_REDIS_URL", os.environ.get("TEST_REDIS_URL", ""), check_redis),
    ):
        if not url:
            failures.append(f"{name} is not set")
            continue
        try:
            check(url)
        except Exception as exc:
            failures.append(f"{name}={url}: {type(exc).__name__}: {exc}")
    for failure in failures:
        print(f"ci: UNREACHABLE: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
