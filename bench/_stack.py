"""Helpers for benchmarks that run the real stack as processes: free ports, process groups, CPU from /proc."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import requests

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tcp_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (field 3 onwards), None if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat(int(entry.name))
        if fields:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def tree_pids(root: int) -> list[int]:
    """`root` and every live descendant."""
    children = _children_map()
    pids, stack = [], [root]
    while stack:
        pid = stack.pop()
        pids.append(pid)
        stack.extend(children.get(pid, []))
    return pids


def tree_cpu_seconds(root: int) -> float:
    """User+system CPU of `root` and its live descendants, plus what their reaped children used."""
    total = 0
    for pid in tree_pids(root):
        fields = _stat(pid)
        if fields:
            # utime stime cutime cstime are fields 14-17 of /proc/<pid>/stat (11-14 after the name)
            total += sum(int(value) for value in fields[11:15])
    return total / CLK_TCK


def pids_named(*names: str) -> list[int]:
    """Pids whose command name is one of `names` (e.g. mariadbd, redis-server)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            comm = Path(f"/proc/{entry.name}/comm").read_text().strip()
        except OSError:
            continue
        if comm in names:
            found.append(int(entry.name))
    return found


class ProcessGroup:
    """Child processes, each in its own session / process group, stopped together (also on errors)."""

    def __init__(self, cwd: Path, env: dict[str, str], log_dir: Path) -> None:
        self.cwd = cwd
        self.env = env
        self.log_dir = log_dir
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            argv, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.procs.append((name, proc))
        return proc

    def run(self, name: str, argv: list[str], timeout: float) -> None:
        """Run a command to completion (its own process group); raise with its output on failure."""
        log_path = self.log_dir / f"{name}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                argv, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            try:
                code = proc.wait(timeout=timeout)
            except BaseException:
                _kill_group(proc, signal.SIGKILL)
                proc.wait()
                raise
        if code != 0:
            raise RuntimeError(f"{name} failed ({code}):\n{log_path.read_text()[-3000:]}")

    def forget(self, proc: subprocess.Popen) -> None:
        """Stop tracking a process that has ended on purpose (e.g. a profiler)."""
        self.procs = [(name, p) for name, p in self.procs if p is not proc]

    def check_alive(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail}")

    def log_tail(self, name: str, chars: int = 3000) -> str:
        try:
            return (self.log_dir / f"{name}.log").read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM every group (newest first), then SIGKILL what is still there after `timeout`."""
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                _kill_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for _name, proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for _name, proc in self.procs:
            # the leader may be gone while its children (e.g. gunicorn workers) are not: kill the group
            _kill_group(proc, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        self.procs.clear()


def _kill_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)  # start_new_session: the group id is the leader's pid


def wait_http(
    url: str, seconds: float, *, alive: Callable[[], None] | None = None, any_status: bool = False
) -> None:
    """Wait until `url` answers below 500, or at all with `any_status` (checking the stack is alive)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if alive:
            alive()
        try:
            status = requests.get(url, timeout=1).status_code
            if any_status or status < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f}s")
