"""`make run` as tests use it: `python -m copytrade.devstack` started from a user's bare shell, its banner
read, its commands run with its environment (`make manage`), and Ctrl-C to stop everything."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READY = "Ctrl-C stops everything"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ProcessOutput:
    """Every line a process prints, read on a thread: the stack's processes log at INFO into the same pipe,
    which would fill and block them if nobody read it after the banner."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self._lines: list[str] = []
        self._done = False
        self._changed = threading.Condition()
        threading.Thread(target=self._pump, args=(proc,), name="devstack-output", daemon=True).start()

    def _pump(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with self._changed:
                self._lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._done = True
            self._changed.notify_all()

    def wait_for(self, needle: str, seconds: float) -> str:
        """Everything printed up to and including the first line containing `needle`."""
        deadline = time.monotonic() + seconds
        with self._changed:
            while True:
                for index, line in enumerate(self._lines):
                    if needle in line:
                        return "".join(self._lines[: index + 1])
                left = deadline - time.monotonic()
                if self._done or left <= 0:
                    raise AssertionError(f"{needle!r} not printed; output was:\n{self.tail()}")
                self._changed.wait(left)

    def tail(self, lines: int = 60) -> str:
        return "".join(self._lines[-lines:])


def stack_environment(var_dir: Path, **extra: str) -> dict[str, str]:
    """A user's shell (nothing of the test settings' environment leaks in), free ports, a private var dir."""
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ}
    env.update(
        {
            "COPYTRADE_VAR_DIR": str(var_dir),
            "PORT": str(free_port()),
            "SIM_PORT": str(free_port()),
            "HEARTBEAT_INTERVAL_SECONDS": "2",
            "CELERY_WORKER_CONCURRENCY": "4",
            "CELERY_PLACEMENT_CONCURRENCY": "4",
            **extra,
        }
    )
    return env


def interrupt(proc: subprocess.Popen) -> None:
    """Ctrl-C for the launcher's process group, then wait; kill whatever is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        raise


@dataclass
class LiveStack:
    """A running `make run`: its addresses, the banner it printed and its demo secrets."""

    var_dir: Path
    env: dict[str, str]
    proc: subprocess.Popen
    output: ProcessOutput
    banner: str

    @property
    def web(self) -> str:
        return f"http://127.0.0.1:{self.env['PORT']}"

    @property
    def sim(self) -> str:
        return f"http://127.0.0.1:{self.env['SIM_PORT']}"

    @property
    def admin_password(self) -> str:
        """The demo admin's password, as the banner prints it."""
        assert "password:" in self.banner, self.banner
        return self.banner.split("password:", 1)[1].split()[0]

    @property
    def secret(self) -> str:
        """The API's x-qa-secret (QUANTUM_ALPHA_SECRET of demo.env)."""
        for line in (self.var_dir / "demo.env").read_text().splitlines():
            if line.startswith("QUANTUM_ALPHA_SECRET="):
                return line.split("=", 1)[1]
        raise AssertionError("make run wrote no QUANTUM_ALPHA_SECRET")

    def manage(self, *args: str) -> str:
        """`make manage ARGS=...` against this stack; its standard output (raises with it on failure)."""
        done = subprocess.run(
            [sys.executable, "-m", "copytrade.devstack", "manage", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"manage {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout


@contextlib.contextmanager
def live_stack(var_dir: Path, *, ready_seconds: float = 180, **extra_env: str) -> Iterator[LiveStack]:
    """Start `make run` (`python -m copytrade.devstack`) in `var_dir`, yield it once its banner is printed,
    and Ctrl-C it on the way out."""
    env = stack_environment(var_dir, **extra_env)
    proc = subprocess.Popen(
        [sys.executable, "-m", "copytrade.devstack"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output = ProcessOutput(proc)
        banner = output.wait_for(READY, ready_seconds)
        yield LiveStack(var_dir=var_dir, env=env, proc=proc, output=output, banner=banner)
    finally:
        interrupt(proc)
