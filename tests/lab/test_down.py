"""`down` leaves nothing behind, even after an `up` that crashed and lost its state."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from lab import Lab, natpf, proc
from lab.net import lab_namespaces
from lab.paths import mentions

from ..ports import free_port

pytestmark = pytest.mark.lab


def leftovers(lab: Lab) -> dict[str, list]:
    """This lab's processes, mounts and namespaces (another lab running beside it is not ours;
    nor is the test run, though `sudo DVH_LAB_DIR=... pytest` names the lab)."""
    marker = str(lab.paths.root)
    processes = []
    spared = {str(pid) for pid in proc.ancestors()}
    for pid in set(filter(str.isdigit, os.listdir("/proc"))) - spared:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                words = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if any(mentions(word, marker) for word in words):
            processes.append(f"{pid} {' '.join(words).strip()}")  # which one, when one stays
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f if mentions(line.split()[4], marker)]
    return {"processes": processes, "mounts": mounts, "namespaces": lab_namespaces()}


def test_down_leaves_nothing_even_after_a_crashed_up(lab: Lab) -> None:
    lab.run_on_host(
        ["VBoxManage", "controlvm", "default", "natpf1", "probe,tcp,127.0.0.1,2399,,2376"]
    )
    assert lab.daemon_pid("default")
    lab.paths.state.unlink()  # the recorded PIDs are gone: down must find everything by scanning
    lab.down()
    assert leftovers(lab) == {"processes": [], "mounts": [], "namespaces": []}
    assert not lab.paths.root.exists()  # the key cache too: nothing left in /run
    lab.down()  # idempotent
    lab.up()
    assert lab.daemon_pid("default")


def test_a_relay_started_by_another_copy_of_the_package_is_stopped_too(tmp_path) -> None:
    # Two clones each have their natfwd.py: a lab built from one must still stop the relays
    # the other's VBoxManage started (they held 127.0.0.1:2376).
    copy = tmp_path / "elsewhere" / natpf.RELAY.name
    copy.parent.mkdir()
    shutil.copy(natpf.RELAY, copy)
    port = free_port()
    args = ["127.0.0.1", str(port), "/nonexistent-netns", "10.0.2.15", "2376"]
    relay = subprocess.Popen([sys.executable, "-I", "-S", str(copy), *args])
    bystander = subprocess.Popen(["sleep", "30"])
    try:
        assert wait_for_listener(port), "the relay copy never listened"
        natpf.stop(relay.pid)
        natpf.stop(bystander.pid)  # not a relay: a reused PID must survive
        assert relay.wait(timeout=5) is not None
        assert bystander.poll() is None
    finally:
        for process in (relay, bystander):
            process.kill()
            process.wait()


def wait_for_listener(port: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.02)
    return False
