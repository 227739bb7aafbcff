"""`celery worker` as its own process on the test database and Redis (the crash and queue tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.db import connection

from tests.integration.replication.conftest import QA_SECRET

ROOT = Path(__file__).resolve().parents[3]


def _test_database_url() -> str:
    db = connection.settings_dict
    user = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"mysql://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 3306}/{db['NAME']}"


class WorkerProcess:
    """`celery worker` as its own process, on the test database and the test Redis, killable with SIGKILL."""

    def __init__(
        self,
        sim_url: str,
        log: Path,
        *,
        queues: list[str] | None = None,
        concurrency: int = 8,
        name: str = "",
    ) -> None:
        self.queues, self.concurrency, self.name = queues, concurrency, name
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "TEST_DATABASE_URL": _test_database_url(),
            "QUANTUM_ALPHA_SECRET": QA_SECRET,
            "ALICE_API_BASE_URL": sim_url,
            "ALICE_LEGACY_BASE_URL": sim_url,
            "REPLICATION_RETRY_BACKOFF": "0.2",
            "REPLICATION_RECONCILE_DELAY": "0.2",
            "REPLICATION_RECONCILE_GRACE": "2",
            "REPLICATION_SWEEP_AFTER": "1",
            # above the broker call's connect + read timeout (1 s + 2 s in tests)
            "REPLICATION_SUBMITTING_STUCK_AFTER": "4",
            "PYTHONUNBUFFERED": "1",
        }
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "copytrade",
                    "worker",
                    "-P",
                    "threads",
                    "-c",
                    str(self.concurrency),
                    *(["-Q", ",".join(self.queues)] if self.queues else []),
                    *(["-n", self.name] if self.name else []),
                    "-l",
                    "INFO",
                    "--without-heartbeat",
                    "--without-mingle",
                    "--without-gossip",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Until the worker says it is ready to consume (or raise, with its log)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log.exists() and " ready." in self.log.read_text():
                return
            assert self.proc is not None
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            time.sleep(0.1)
        raise AssertionError(f"worker not ready after {timeout:.0f} s: {self.log.read_text()[-3000:]}")

    def kill9(self) -> None:
        assert self.proc is not None
        assert self.proc.poll() is None, "the worker died on its own"
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
