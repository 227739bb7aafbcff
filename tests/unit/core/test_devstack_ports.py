"""`make manage` uses the running `make run`'s ports (var/devstack.json) unless PORT/SIM_PORT are exported."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from copytrade import devstack

PRINT_URLS = (
    "from django.conf import settings; print(settings.ALICE_API_BASE_URL, settings.COPYTRADE_PUBLIC_URL)"
)


@pytest.fixture
def var_dir(tmp_path, monkeypatch):
    """devstack's state directory in tmp_path, and a shell without the test run's settings or ports."""
    monkeypatch.setattr(devstack, "VAR", tmp_path)
    monkeypatch.setattr(devstack, "DEMO_ENV", tmp_path / "demo.env")
    monkeypatch.setattr(devstack, "STATE_FILE", tmp_path / "devstack.json")
    monkeypatch.setenv("COPYTRADE_VAR_DIR", str(tmp_path))
    for name in ("DJANGO_SETTINGS_MODULE", "PORT", "SIM_PORT", "ALICE_API_BASE_URL", "COPYTRADE_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in [n for n in os.environ if n.startswith(("DATABASE_", "CELERY_", "DJANGO_"))]:
        monkeypatch.delenv(name)
    return tmp_path


def _running_stack(var_dir, *, pid: int, web_port: int = 18123, sim_port: int = 19123) -> None:
    (var_dir / "devstack.json").write_text(
        json.dumps({"pid": pid, "web_port": web_port, "sim_port": sim_port})
    )


def test_manage_uses_the_running_stacks_ports(var_dir, capfd):
    # given a stack running (this process stands for it) on non-default ports
    _running_stack(var_dir, pid=os.getpid())
    # when
    code = devstack.manage(["shell", "-v", "0", "-c", PRINT_URLS])
    # then
    assert code == 0
    assert capfd.readouterr().out.split() == ["http://127.0.0.1:19123", "http://127.0.0.1:18123"]


def test_exported_ports_win_over_the_running_stacks(var_dir, monkeypatch):
    # given
    _running_stack(var_dir, pid=os.getpid())
    monkeypatch.setenv("SIM_PORT", "19999")
    # when
    ports = devstack._ports()
    # then
    assert ports == (18123, 19999)


def test_a_stack_that_is_gone_leaves_the_defaults(var_dir):
    # given a file left by a stack killed without its cleanup (its process has exited)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    _running_stack(var_dir, pid=gone.pid)
    # when
    ports = devstack._ports()
    # then
    assert ports == (8000, 9100)


def test_no_file_means_the_defaults(var_dir):
    # when
    ports = devstack._ports()
    # then
    assert ports == (8000, 9100)


def test_the_stack_records_its_ports_and_removes_only_its_own_file(var_dir):
    # when
    devstack._ports_write(18124, 19124)
    written = json.loads((var_dir / "devstack.json").read_text())
    devstack._ports_remove()
    # then
    assert written == {"pid": os.getpid(), "web_port": 18124, "sim_port": 19124}
    assert not (var_dir / "devstack.json").exists()
    # given another stack's file
    _running_stack(var_dir, pid=os.getppid())
    # when
    devstack._ports_remove()
    # then
    assert (var_dir / "devstack.json").exists()
