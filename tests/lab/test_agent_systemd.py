"""The login agent under a real systemd user manager (issue 21): installed by a user who is not
root, started, restarted, stopped, its machine removed and back, uninstalled, and the user
logged out; the unit never ends "failed" and the manager is never "degraded".

Needs root, systemd and dbus (lab/debian-packages.txt); skipped without them unless
DVH_LAB_REQUIRED=1 (CI). No VM: the watch runs in a network namespace of its own where nothing
answers on 127.0.0.1:2376, so it retries the daemon, the state a login agent is in whenever
the VM is stopped; the manager and the user are tests/lab/usermanager.py's.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.paths import default_dir

from ..support import store as dm
from .usermanager import UID, UserManager, missing

pytestmark = pytest.mark.lab

UNIT = "docker-vpn-helper-ports-default.service"


@pytest.fixture
def manager() -> Iterator[UserManager]:
    reason = missing()
    if reason:
        if os.environ.get("DVH_LAB_REQUIRED") == "1":
            pytest.fail(f"DVH_LAB_REQUIRED=1 but {reason}")
        pytest.skip(reason)
    m = UserManager(default_dir() / "systemd-user")
    try:
        m.start()
        yield m
    finally:
        m.stop()
        m.remove()


def chown_tree(path: Path) -> None:
    for p in [path, *path.rglob("*")]:
        os.lchown(p, UID, UID)


def show(m: UserManager) -> dict[str, str]:
    """The unit's state as systemd keeps it."""
    props = "ActiveState,SubState,Result,NRestarts,ExecMainStatus"
    out = m.user("systemctl", "--user", "show", UNIT, "-p", props).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def system_state(m: UserManager) -> str:
    return m.user("systemctl", "--user", "is-system-running").stdout.strip()


def failed_units(m: UserManager) -> str:
    return m.user("systemctl", "--user", "list-units", "--failed", "--plain", "--no-legend").stdout


def wait_for(what, timeout: float = 30.0, poll: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(poll)


def tool(m: UserManager, *argv: str) -> subprocess.CompletedProcess[str]:
    return m.user(m.python, "-m", "docker_vpn_helper", *argv)


def never_failed(m: UserManager) -> None:
    state = show(m)
    print(f"{state}, manager {system_state(m)}")  # the evidence, with -s
    assert state["Result"] == "success" and state["ActiveState"] != "failed", state
    assert system_state(m) == "running", failed_units(m)
    assert failed_units(m) == ""


def test_stop_restart_machine_gone_uninstall_and_logout_never_fail_the_unit(manager):
    m = manager
    store = m.folder / "store"
    dm.create_certs(store)
    dm.create_machine(store, "default", "192.168.99.100", 50157)
    chown_tree(store)
    log = m.home / "watch.log"
    # The watch's lines in a file the test reads (no journald here); the unit is as written.
    drop_in = m.home / ".config" / "systemd" / "user" / f"{UNIT}.d" / "log.conf"
    drop_in.parent.mkdir(parents=True)
    drop_in.write_text(f"[Service]\nStandardOutput=append:{log}\nStandardError=append:{log}\n")
    chown_tree(m.home)

    def said(text: str) -> bool:
        return log.exists() and text in log.read_text(errors="replace")

    def times(text: str) -> int:
        return log.read_text(errors="replace").count(text) if log.exists() else 0

    installed = tool(m, "agent.install", "--machine", "default", "--storage-path", str(store))
    assert installed.returncode == 0, installed.stderr
    assert wait_for(lambda: said("daemon unreachable")), log.read_text()
    assert show(m)["ActiveState"] == "active"
    never_failed(m)

    m.user("systemctl", "--user", "restart", UNIT)
    assert wait_for(lambda: said("stopped watching machine 'default' on SIGTERM"))
    assert wait_for(lambda: show(m)["ActiveState"] == "active")
    never_failed(m)
    assert wait_for(lambda: times("daemon unreachable") == 2)  # the new watch is up

    m.user("systemctl", "--user", "stop", UNIT)
    assert show(m)["ActiveState"] == "inactive"
    assert m.user("systemctl", "--user", "is-failed", UNIT).stdout.strip() == "inactive"
    never_failed(m)

    # Started and stopped at once: SIGTERM before the watch has started (Python, invoke).
    m.user("systemctl", "--user", "start", UNIT)
    m.user("systemctl", "--user", "stop", UNIT)
    never_failed(m)

    # The machine goes: the watch waits for it, with one line, instead of exiting (which
    # systemd would answer with a start every 5 s).
    m.user("systemctl", "--user", "start", UNIT)
    assert wait_for(lambda: times("daemon unreachable") == 3)
    machine, away = store / "machines" / "default", store / "machines" / "default-away"
    machine.rename(away)
    assert wait_for(lambda: said("no machine 'default' in"), timeout=20)
    time.sleep(6)  # longer than RestartSec
    assert show(m)["NRestarts"] == "0" and show(m)["ActiveState"] == "active"
    away.rename(machine)
    assert wait_for(lambda: said("machine 'default' is back in"), timeout=20)
    never_failed(m)

    removed = tool(m, "agent.uninstall", "--machine", "default", "--storage-path", str(store))
    assert removed.returncode == 0, removed.stderr
    assert not (m.home / ".config" / "systemd" / "user" / UNIT).exists()
    assert m.user("systemctl", "--user", "is-failed", UNIT).stdout.strip() != "failed"
    assert system_state(m) == "running" and failed_units(m) == ""

    # Logout: the manager stops its units as `systemctl stop` does (SIGTERM), then exits; the
    # watch's last word says it ended normally (status 0: nothing a manager counts as failed).
    again = tool(m, "agent.install", "--machine", "default", "--storage-path", str(store))
    assert again.returncode == 0, again.stderr
    assert wait_for(lambda: times("daemon unreachable") == 5)
    m.stop()
    assert log.read_text().splitlines()[-1].endswith("on SIGTERM; the NAT rules stay in place")
