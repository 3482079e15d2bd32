"""Published ports end to end, VPN on: a container's port is unreachable until `fix` (or
`ports.sync`) forwards it to 127.0.0.1; gone with the container; a held port is skipped; UDP."""

from __future__ import annotations

import subprocess

import pytest

from lab import Lab
from lab.image import IMAGE, PAGE, http_server, udp_echo

from .helpers import load_image, port_held, rules, tool, vm_ip

pytestmark = pytest.mark.lab


def docker_run(lab: Lab, machine: str, name: str, *options: str, command: list[str]) -> None:
    argv = ["docker", "run", "-d", "--init", "--name", name, *options, IMAGE, *command]
    done = lab.guest_run(machine, argv, timeout=60)
    assert done.returncode == 0, done.stderr


def specs(lab: Lab, machine: str) -> list[str]:
    """The VM's NAT rules as `name,proto,hostip,hostport,guestip,guestport`."""
    return [line.split('"')[1] for line in rules(lab, machine)]


def curl(lab: Lab, url: str) -> subprocess.CompletedProcess[str]:
    return lab.run_on_host(["curl", "-sS", "--max-time", "3", url], timeout=15)


def test_fix_makes_published_ports_reachable_on_localhost(lab: Lab, machine: str):
    """fix restarts the daemon: the containers a restart policy brings back are forwarded
    before it ends, the one without a policy is named as stopped."""
    load_image(lab, machine)
    always = ("--restart", "always")
    docker_run(lab, machine, "web", *always, "-p", "18090:8080", command=http_server(8080))
    docker_run(lab, machine, "echo", *always, "-p", "15354:5353/udp", command=udp_echo(5353))
    docker_run(lab, machine, "admin", *always, "-p", "127.0.0.1:18091:8080", command=http_server())
    docker_run(lab, machine, "batch", command=http_server(8080))
    lab.vpn_on("drop")
    assert curl(lab, "http://127.0.0.1:18090/").returncode != 0  # refused: nothing forwards it
    assert curl(lab, f"http://{vm_ip(lab, machine)}:18090/").returncode != 0  # the VPN took it
    done = tool(lab, "fix", "--machine", machine, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "stops 1 running container without a restart policy (batch)" in done.stderr
    assert curl(lab, "http://127.0.0.1:18090/").stdout == PAGE
    assert lab.udp_exchange(15354, b"ping") == b"ping"
    assert "admin publishes 18091 only on the VM's 127.0.0.1: NAT cannot reach it" in done.stderr
    assert "dvh-tcp-18090,tcp,127.0.0.1,18090,,18090" in specs(lab, machine)
    again = tool(lab, "ports.sync", "--machine", machine)
    assert (
        again.returncode == 0
        and "published ports forwarded: 18090, 15354/udp: nothing to do" in again.stderr
    )
    # The container goes: so does its rule; ssh, the daemon's rule stay.
    assert lab.guest_run(machine, ["docker", "rm", "-f", "web"], timeout=60).returncode == 0
    gone = tool(lab, "ports.sync", "--machine", machine)
    assert gone.returncode == 0, gone.stderr
    names = [spec.split(",", 1)[0] for spec in specs(lab, machine)]
    assert "dvh-tcp-18090" not in names and {"ssh", "docker", "dvh-udp-15354"} <= set(names)


def test_a_port_held_on_the_host_is_skipped_not_stolen(lab: Lab, machine: str):
    load_image(lab, machine)
    assert tool(lab, "fix", "--machine", machine, timeout=180).returncode == 0
    docker_run(lab, machine, "web", "-p", "18092:8080", command=http_server(8080))
    with port_held(18092):
        done = tool(lab, "ports.sync", "--machine", machine)
        assert done.returncode == 0, done.stderr
        assert (
            "skipping 18092 of container web: 127.0.0.1:18092 is held by another program"
            in done.stderr
        )
        assert not any(spec.startswith("dvh-tcp-18092") for spec in specs(lab, machine))
