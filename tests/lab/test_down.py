"""`down` leaves nothing behind, even after an `up` that crashed and lost its state."""

from __future__ import annotations

import os

import pytest

from docker_vpn_helper.lab import Lab

pytestmark = pytest.mark.lab


def leftovers(lab: Lab) -> dict[str, list]:
    marker = str(lab.paths.root)
    processes = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    processes.append(int(pid))
        except OSError:
            pass
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f if marker in line.split()[4]]
    namespaces = (
        [n for n in os.listdir("/run/netns") if n.startswith("dvhlab")]
        if os.path.isdir("/run/netns")
        else []
    )
    return {"processes": processes, "mounts": mounts, "namespaces": namespaces}


def test_down_leaves_nothing_even_after_a_crashed_up(lab: Lab) -> None:
    lab.run_on_host(["VBoxManage", "controlvm", "lab", "natpf1", "probe,tcp,127.0.0.1,2399,,2376"])
    assert lab.daemon_pid("lab")
    lab.paths.state.unlink()  # the recorded PIDs are gone: down must find everything by scanning
    lab.down()
    assert leftovers(lab) == {"processes": [], "mounts": [], "namespaces": []}
    lab.down()  # idempotent
    lab.up()
    assert lab.daemon_pid("lab")
