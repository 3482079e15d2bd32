"""The login agent (ports.watch) beside the user's own commands, with containers coming and
going (issue 21, item 12): `fix` waits for a sync instead of failing, two watchers never
delete the rules of containers that run, and a `[::]`-only publish gets no dead rule."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import pytest

from lab import Lab
from lab.image import IMAGE, PAGE, http_server

from .helpers import Background, rules, tool
from .test_nat_ports import eventually, must
from .test_watch import page, run

pytestmark = pytest.mark.lab

HOLD_AS_A_RUN = """
import sys, time
from pathlib import Path
from docker_vpn_helper.core.fsutil import Busy, ProcessLock
while True:
    try:
        ProcessLock(Path(sys.argv[1])).acquire("run")
        break
    except Busy:  # the watch's last syncs
        time.sleep(0.01)
print("locked", flush=True)
time.sleep(60)
"""


class Churn:
    """Containers started and removed one after the other in the guest, each publishing a
    port of its own, until stopped: every start and every removal is a sync of the watch."""

    def __init__(self, lab: Lab, machine: str, first_port: int) -> None:
        self.lab, self.machine, self.port = lab, machine, first_port
        self.rounds = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._churn, daemon=True)

    def _churn(self) -> None:
        while not self.stopping.is_set():
            name = f"churn{self.rounds % 4}"
            port = str(self.port + self.rounds % 4)
            argv = ["docker", "run", "-d", "--init", "--name", name, "-p", f"{port}:8080", IMAGE]
            self.lab.guest_run(self.machine, [*argv, *http_server()], timeout=60)
            self.lab.guest_run(self.machine, ["docker", "rm", "-f", name], timeout=60)
            self.rounds += 1

    def __enter__(self) -> Churn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(120)


def test_fix_and_ports_sync_wait_for_the_watch_instead_of_failing(
    lab: Lab, fixed: str, watching: Background
):
    with Churn(lab, fixed, 18640) as churn:
        runs = [tool(lab, "fix", "--machine", fixed) for _ in range(10)]
        runs += [tool(lab, "ports.sync", "--machine", fixed) for _ in range(3)]
    assert churn.rounds >= 3  # the watch synced all along
    failed = [done.stderr for done in runs if done.returncode != 0]
    assert failed == [], failed
    waited = sum("waiting for a ports.watch sync" in done.stderr for done in runs)
    print(f"{len(runs)} runs beside {churn.rounds} rounds of churn: 0 failed, {waited} waited")

    # A long run (not a sync) holding the lock still refuses a run at once, naming it.
    lock = lab.paths.machine_dir(fixed) / ".docker-vpn-helper.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_AS_A_RUN, str(lock)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"  # type: ignore[union-attr]
        start = time.monotonic()
        refused = tool(lab, "fix", "--machine", fixed)
        took = time.monotonic() - start
    finally:
        holder.kill()
        holder.wait()
    assert refused.returncode == 1 and took < 5, (took, refused.stderr)
    assert f"another docker-vpn-helper run (pid {holder.pid}) is working" in refused.stderr


def test_two_watchers_never_delete_the_rules_of_running_containers(lab: Lab, fixed: str):
    watchers = [Background(lab, "ports.watch", "--machine", fixed) for _ in range(2)]
    try:
        for w in watchers:
            w.wait_for("no container publishes a port NAT can reach: nothing to do")
        ports = range(18620, 18630)
        for port in ports:
            run(lab, fixed, f"web{port}", "-p", f"{port}:8080", command=http_server())
        assert eventually(lambda: all(page(lab, port) == PAGE for port in ports), 60)
        time.sleep(2)  # the watchers' last syncs
        assert all(page(lab, port) == PAGE for port in ports)
    finally:
        for w in watchers:
            w.proc.send_signal(signal.SIGINT)
    said = [w.finish()[1] for w in watchers]
    adds = sum(text.count("added NAT rule") for text in said)
    deletes = sum(text.count("deleted NAT rule") for text in said)
    assert (adds, deletes) == (10, 0), "\n=====\n".join(said)


def test_a_port_published_on_ipv6_only_gets_a_note_not_a_dead_rule(lab: Lab, fixed: str):
    """dockerd 20.10: `-p '[::]:P:C'` starts a docker-proxy on IPv6 only; NAT arrives on IPv4."""
    run(lab, fixed, "six", "-p", "[::]:18612:8080", command=http_server())
    run(lab, fixed, "both", "-p", "18613:8080", command=http_server())
    done = must(tool(lab, "ports.sync", "--machine", fixed))
    assert "container six publishes 18612 only on the VM's ::: NAT cannot reach it" in done.stderr
    assert not any("dvh-tcp-18612" in rule for rule in rules(lab, fixed))
    assert page(lab, 18613) == PAGE
    # The daemon's IPv6-only listener, seen from inside the VM.
    inside = lab.guest_run(fixed, ["wget", "-q", "-O", "-", "-T", "2", "http://10.0.2.15:18612/"])
    assert inside.stdout == ""
