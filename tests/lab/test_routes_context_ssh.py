"""routes.restore, env.context and the ssh transport, in the lab with the real docker CLI.

Each test gets its own machine (conftest's `machine` fixture) and leaves the VPN off.
"""

from __future__ import annotations

import re
import time

import pytest

from lab import Lab

from .helpers import docker_env, rules, tool, vm_ip

pytestmark = pytest.mark.lab

VERSION = re.compile(r"\d+\.\d+\.\d+\S*")


def direct(lab: Lab, name: str):
    """docker against the VM's own address, as before the VPN (cut short if the route is dead)."""
    argv = ["timeout", "6", "docker", "version", "--format", "{{.Server.Version}}"]
    return lab.run_on_host(argv, env=docker_env(lab, f"tcp://{vm_ip(lab, name)}:2376", name))


def test_routes_restore_gives_the_stale_route_back_to_vboxnet0(lab: Lab, machine: str):
    lab.vpn_on("drop")
    lab.vpn_off(keep_stale_route=True)  # the client is gone, its route into utun0 is not
    assert "dev utun0" in lab.status()["route"]
    assert direct(lab, machine).returncode != 0

    planned = tool(lab, "routes.restore", "--machine", machine, "--dry-run")
    assert planned.returncode == 0, planned.stderr
    assert "would run: sudo ip route replace 192.168.99.0/24 dev vboxnet0" in planned.stderr
    assert "dev utun0" in lab.status()["route"]

    done = tool(lab, "routes.restore", "--machine", machine)
    assert done.returncode == 0, done.stderr
    assert "routed 192.168.99.0/24 to vboxnet0 again" in done.stderr
    assert lab.status()["route"].startswith("192.168.99.0/24 dev vboxnet0")
    works = direct(lab, machine)
    assert works.returncode == 0 and VERSION.fullmatch(works.stdout.strip()), works.stderr

    again = tool(lab, "routes.restore", "--machine", machine)
    assert again.returncode == 0 and "nothing to do" in again.stderr, again.stderr


def test_routes_restore_refuses_while_the_vpn_client_holds_its_tunnel(lab: Lab, machine: str):
    lab.vpn_on("drop")  # the fake VPN's client holds utun0, as a connected VPN's does
    refused = tool(lab, "routes.restore", "--machine", machine)
    assert refused.returncode == 1
    assert "utun0 is up with its client attached: the VPN is still connected" in refused.stderr
    assert refused.stderr.strip().endswith(f"routes.restore --machine {machine}")
    assert "dev utun0" in lab.status()["route"]
    lab.vpn_off(keep_stale_route=True)  # the client quits, its route stays: now it may
    done = tool(lab, "routes.restore", "--machine", machine)
    assert done.returncode == 0, done.stderr
    assert "dev vboxnet0" in lab.status()["route"]


def test_routes_restore_with_vboxnet0_down_sends_to_kexts_restart(lab: Lab, machine: str):
    lab.vpn_on("drop")
    lab.vpn_off(keep_stale_route=True)
    lab.run_on_host(["ip", "link", "set", "vboxnet0", "down"])
    try:
        done = tool(lab, "routes.restore", "--machine", machine)
    finally:  # back up, the kernel puts its own route beside the stale one: drop the stale one
        lab.run_on_host(["ip", "link", "set", "vboxnet0", "up"])
        lab.run_on_host(["ip", "route", "delete", "192.168.99.0/24", "dev", "utun0"])
    assert done.returncode == 1
    assert "vboxnet0 is down: VirtualBox cannot add its routes" in done.stderr
    assert "docker-vpn-helper kexts.restart" in done.stderr


def test_env_context_makes_docker_work_without_any_variable(lab: Lab, machine: str):
    lab.vpn_on("drop")
    assert tool(lab, "fix", "--machine", machine).returncode == 0
    done = tool(lab, "env.context", "--machine", machine)
    assert done.returncode == 0, done.stderr
    assert f"created docker context {machine!r}" in done.stderr
    argv = ["timeout", "20", "docker", "--context", machine, "version"]
    version = lab.run_on_host([*argv, "--format", "{{.Server.Version}}"], timeout=30)
    assert version.returncode == 0, version.stderr
    assert VERSION.fullmatch(version.stdout.strip()), version.stdout
    again = tool(lab, "env.context", "--machine", machine)
    assert again.returncode == 0 and "nothing to do" in again.stderr, again.stderr


def test_ssh_transport_needs_no_certificate_work(lab: Lab, machine: str, tmp_path):
    """OpenSSH finds ~/.ssh/config through the passwd entry, not $HOME: the lab's `ssh` gives it
    the lab's HOME's, so root's own file is never touched."""
    lab.vpn_on("drop")
    written = tool(lab, "env.ssh-config", "--machine", machine)
    assert written.returncode == 0, written.stderr
    env = tool(lab, "env.print", "--machine", machine, "--transport", "ssh", "--shell", "sh")
    assert f'export DOCKER_HOST="ssh://docker-machine-{machine}"' in env.stdout
    assert "DOCKER_TLS_VERIFY" not in env.stdout and "DOCKER_CERT_PATH" not in env.stdout
    (tmp_path / "env.sh").write_text(env.stdout)
    script = f". {tmp_path}/env.sh && timeout 30 docker version --format '{{{{.Server.Version}}}}'"
    started = time.monotonic()
    done = lab.run_on_host(["sh", "-c", script], timeout=60)
    assert done.returncode == 0, done.stderr
    assert VERSION.fullmatch(done.stdout.strip()), done.stdout
    assert time.monotonic() - started < 30
    assert rules(lab, machine) == [
        f'Forwarding(0)="ssh,tcp,127.0.0.1,{lab.status()["machines"][machine]["ssh_port"]},,22"'
    ]
