"""ports.watch end to end (issue 15): the real dockerd's events, the lab's VirtualBox forwarding
every rule, the VPN on. Each test has its own machine, fixed first, with the lab's image."""

from __future__ import annotations

import signal

import pytest

from lab import Lab
from lab.image import IMAGE, PAGE, http_server, udp_echo

from .helpers import Background, rules, tool
from .test_nat_ports import eventually, must

pytestmark = pytest.mark.lab


def run(lab: Lab, machine: str, name: str, *options: str, command: list[str]) -> None:
    """`docker run -d --init` (busybox httpd as PID 1 ignores SIGTERM: 10 s to stop without)."""
    argv = ["docker", "run", "-d", "--init", "--name", name, *options, IMAGE, *command]
    must(lab.guest_run(machine, argv, timeout=60))


def page(lab: Lab, port: int) -> str:
    """What curl on the lab's Mac gets from 127.0.0.1:`port` ("" when nothing answers)."""
    argv = ["curl", "-sS", "--max-time", "2", f"http://127.0.0.1:{port}/"]
    return lab.run_on_host(argv, timeout=15).stdout


def stop(watch: Background) -> str:
    """Ctrl-C: it ends with status 0, saying the rules stay."""
    watch.proc.send_signal(signal.SIGINT)
    code, stderr = watch.finish()
    assert code == 0, stderr
    assert stderr.splitlines()[-1].endswith("; the NAT rules stay in place")
    return stderr


def test_it_forwards_new_containers_and_drops_removed_ones_unasked(
    lab: Lab, fixed: str, watching: Background
):
    run(lab, fixed, "web", "-p", "18300:8080", command=http_server())
    run(lab, fixed, "echo", "-p", "15360:5353/udp", command=udp_echo(5353))
    assert eventually(lambda: page(lab, 18300) == PAGE)
    assert eventually(lambda: lab.udp_exchange(15360, timeout=0.5) == b"ping")
    # The VPN going down and up again changes nothing here: the rules live on 127.0.0.1.
    lab.vpn_off()
    lab.vpn_on("drop")
    assert page(lab, 18300) == PAGE
    # The lock is free between syncs: a ports.sync beside the watch runs, and agrees.
    beside = tool(lab, "ports.sync", "--machine", fixed)
    assert beside.returncode == 0, beside.stderr
    assert "published ports forwarded: 18300, 15360/udp: nothing to do" in beside.stderr

    must(lab.guest_run(fixed, ["docker", "rm", "-f", "web"], timeout=60))
    assert eventually(lambda: not any("dvh-tcp-18300" in r for r in rules(lab, fixed)))
    assert page(lab, 18300) == ""
    said = stop(watching)
    assert "deleted NAT rule dvh-tcp-18300 (no container publishes 18300 any more)" in said
    assert not any(line.strip().startswith("daemon") for line in said.splitlines())
    # Ctrl-C leaves the rules of the containers still running.
    assert any('"dvh-udp-15360,udp,127.0.0.1,15360,,15360"' in r for r in rules(lab, fixed))


def test_it_carries_on_through_a_daemon_restart_and_a_vm_stop_and_start(
    lab: Lab, fixed: str, watching: Background
):
    run(lab, fixed, "kept", "--restart", "always", "-p", "18310:8080", command=http_server())
    assert eventually(lambda: page(lab, 18310) == PAGE)

    must(lab.guest_run(fixed, ["sh", "-c", "/etc/init.d/docker restart >/dev/null"], timeout=120))
    gone = watching.wait_for("daemon gone: the daemon closed its event stream; retrying")
    watching.wait_for("daemon back", start=gone)
    assert eventually(lambda: page(lab, 18310) == PAGE)  # its restart policy brought it back
    run(lab, fixed, "new", "-p", "18311:8080", command=http_server())  # picked up as before
    assert eventually(lambda: page(lab, 18311) == PAGE)

    must(lab.run_on_host(["docker-machine", "stop", fixed], timeout=120))
    gone = watching.wait_for("daemon gone:", start=gone + 1)
    must(lab.run_on_host(["docker-machine", "start", fixed], timeout=120))
    back = watching.wait_for("daemon back", start=gone, timeout=120)
    assert eventually(lambda: page(lab, 18310) == PAGE, 30)
    # `new` had no restart policy: it stayed stopped, and the full sync dropped its rule.
    watching.wait_for("deleted NAT rule dvh-tcp-18311", start=back)
    assert page(lab, 18311) == ""
    stop(watching)
