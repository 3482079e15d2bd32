"""`down` leaves nothing behind, even after an `up` that crashed and lost its state."""

from __future__ import annotations

import os

import pytest

from docker_vpn_helper.lab import Lab
from docker_vpn_helper.lab.net import lab_namespaces
from docker_vpn_helper.lab.paths import mentions

pytestmark = pytest.mark.lab


def leftovers(lab: Lab) -> dict[str, list]:
    """This lab's processes, mounts and namespaces (another lab running beside it is not ours)."""
    marker = str(lab.paths.root)
    processes = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                words = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if any(mentions(word, marker) for word in words):
            processes.append(int(pid))
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f if mentions(line.split()[4], marker)]
    return {"processes": processes, "mounts": mounts, "namespaces": lab_namespaces()}


def test_down_leaves_nothing_even_after_a_crashed_up(lab: Lab) -> None:
    lab.run_on_host(["VBoxManage", "controlvm", "lab", "natpf1", "probe,tcp,127.0.0.1,2399,,2376"])
    assert lab.daemon_pid("lab")
    lab.paths.state.unlink()  # the recorded PIDs are gone: down must find everything by scanning
    lab.down()
    assert leftovers(lab) == {"processes": [], "mounts": [], "namespaces": []}
    lab.down()  # idempotent
    lab.up()
    assert lab.daemon_pid("lab")
