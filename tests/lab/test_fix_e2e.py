"""The end-to-end proof: in the lab, behind the fake VPN, `fix` makes the real docker CLI work
through tcp://localhost:2376 with TLS verification.

Each test gets its own machine (as docker-machine v0.16 or v0.4 left it: no forward, a daemon
certificate without 127.0.0.1) and removes it afterwards.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

from lab import Lab

from .helpers import assert_docker_works, docker, docker_env, rules, tool, vm_ip

pytestmark = pytest.mark.lab


def test_fix_repairs_a_broken_machine_behind_the_vpn(lab: Lab, machine: str):
    lab.vpn_on("drop")
    direct = docker(lab, machine, f"tcp://{vm_ip(lab, machine)}:2376",
                    ["timeout", "6", "docker", "version"])  # fmt: skip
    assert direct.returncode != 0  # hangs on the hijacked route: cut by timeout
    assert docker(lab, machine).returncode != 0  # no forward yet

    done = tool(lab, "fix", "--machine", machine, "--shell", "bash")
    assert done.returncode == 0, done.stderr
    assert 'export DOCKER_HOST="tcp://localhost:2376"' in done.stdout
    assert all(line.startswith(("export ", "#")) for line in done.stdout.splitlines())
    assert f"=====[{machine}] Forwarding 127.0.0.1:2376 to the daemon=====" in done.stderr
    assert_docker_works(lab, machine)
    # docker-py too (requests-based: the CA bundle variables must not be set)
    script = "import docker; c = docker.from_env(); print(c.version()['Version'])"
    py = lab.run_on_host(
        [sys.executable, "-c", script], env=docker_env(lab, "tcp://localhost:2376", machine)
    )
    assert py.returncode == 0, py.stderr


def test_second_fix_changes_nothing(lab: Lab, machine: str):
    lab.vpn_on("drop")
    assert tool(lab, "fix", "--machine", machine).returncode == 0
    cert = Path(lab.paths.machine_dir(machine)) / "server.pem"
    before = (
        cert.read_bytes(),
        cert.stat().st_mtime_ns,
        lab.daemon_pid(machine),
        rules(lab, machine),
    )
    again = tool(lab, "fix", "--machine", machine)
    assert again.returncode == 0, again.stderr
    assert (
        cert.read_bytes(),
        cert.stat().st_mtime_ns,
        lab.daemon_pid(machine),
        rules(lab, machine),
    ) == before
    assert "already fixed: nothing changed" in again.stderr
    assert again.stderr.count("nothing to do") >= 4
    assert_docker_works(lab, machine)


@pytest.mark.variant(cert_profile="v0.4")
def test_stages_alone_in_order_reach_the_same_end_state(lab: Lab, machine: str):
    lab.vpn_on("drop")
    stages = (
        "machine.create",
        "nat.forward",
        "cert.issue",
        "cert.deploy",
        "daemon.restart",
        "corp.sync",
        "ports.sync",
        "dns.host-resolver",
        "dns.host-names",
    )
    for stage in stages:
        done = tool(lab, stage, "--machine", machine)
        assert done.returncode == 0, f"{stage}: {done.stderr}"
    env = tool(lab, "env.print", "--machine", machine, "--shell", "bash")
    assert env.returncode == 0 and env.stderr == ""
    assert_docker_works(lab, machine)
    assert any("docker,tcp,127.0.0.1,2376,,2376" in r for r in rules(lab, machine))
    again = tool(lab, "fix", "--machine", machine)
    assert "already fixed: nothing changed" in again.stderr


def test_stopped_vm_gets_the_forward_the_stopped_way_and_is_started(lab: Lab, machine: str):
    lab.stop_vm(machine)
    lab.vpn_on("drop")
    done = tool(lab, "fix", "--machine", machine)
    assert done.returncode == 0, done.stderr
    assert "added NAT rule 'docker,tcp,127.0.0.1,2376,,2376' (modifyvm)" in done.stderr
    assert "started the VM (it was poweroff)" in done.stderr
    assert lab.status()["machines"][machine]["state"] == "running"
    assert_docker_works(lab, machine)


def test_create_is_refused_on_the_vpn_and_works_off_it(lab: Lab):
    # The lab's Mac has its own kernel-extension restart (kext_command): it notes each call.
    name = "e2e-created"
    log = lab.paths.kext_log
    log.unlink(missing_ok=True)
    try:
        lab.vpn_on("drop")
        refused = tool(lab, "machine.create", "--machine", name)
        assert refused.returncode == 1
        assert refused.stderr.strip().endswith(
            f"disconnect from the VPN and re-run: docker-vpn-helper machine.create --machine {name}"
        )
        assert "utun0" in refused.stderr and not log.exists()
        lab.vpn_off()
        created = tool(lab, "fix", "--machine", name, "--create", timeout=300)
        assert created.returncode == 0, created.stderr
        assert log.read_text() == "restart\n"
        assert_docker_works(lab, name)
        config = json.loads((Path(lab.paths.machine_dir(name)) / "config.json").read_text())
        assert {"localhost", "127.0.0.1"} <= set(
            config["HostOptions"]["AuthOptions"]["ServerCertSANs"]
        )
    finally:
        lab.vpn_off()
        lab.remove_machine(name)


@pytest.mark.variant(legacy_ssh=True)
def test_a_guest_that_only_accepts_ssh_rsa(lab: Lab, machine: str):
    lab.vpn_on("drop")
    done = tool(lab, "fix", "--machine", machine)
    assert done.returncode == 0, done.stderr
    assert_docker_works(lab, machine)


SHELLS = {
    "bash": ["bash", "-c"],
    "sh": ["dash", "-c"],
    "zsh": ["zsh", "-c"],
    "fish": ["fish", "-c"],
    "tcsh": ["tcsh", "-c"],
}
EVAL = {
    "bash": 'eval "$(cat {f})"; {docker}',
    "sh": 'eval "$(cat {f})"; {docker}',
    "zsh": 'eval "$(cat {f})"; {docker}',
    "fish": "cat {f} | source; {docker}",
    "tcsh": "source {f}; {docker}",
}


def test_each_shell_format_works_in_its_real_shell(lab: Lab, machine: str, tmp_path):
    lab.vpn_on("drop")
    assert tool(lab, "fix", "--machine", machine).returncode == 0
    clean = {k: v for k, v in lab.host_env().items() if not k.startswith("DOCKER_")}
    for shell, argv in SHELLS.items():
        out = tool(lab, "env.print", "--machine", machine, "--shell", shell)
        assert out.returncode == 0 and out.stderr == "", out.stderr
        env_file = tmp_path / f"env.{shell}"
        env_file.write_text(out.stdout)
        docker_cmd = "docker version --format '{{.Server.Version}}'"
        script = EVAL[shell].format(f=env_file, docker=docker_cmd)
        done = lab.run_on_host([*argv, script], env=clean, timeout=30)
        assert done.returncode == 0, f"{shell}: {done.stderr}"
        assert re.fullmatch(r"\d+\.\d+\.\d+\S*", done.stdout.strip()), f"{shell}: {done.stdout}"


def test_a_makefile_includes_the_make_format(lab: Lab, machine: str, tmp_path):
    lab.vpn_on("drop")
    assert tool(lab, "fix", "--machine", machine).returncode == 0
    out = tool(lab, "env.print", "--machine", machine, "--shell", "make")
    (tmp_path / "docker.mk").write_text(out.stdout)
    (tmp_path / "Makefile").write_text(
        "include docker.mk\n\nversion:\n\tdocker version --format '{{.Server.Version}}'\n"
    )
    clean = {k: v for k, v in lab.host_env().items() if not k.startswith("DOCKER_")}
    done = lab.run_on_host(["make", "-s", "-C", str(tmp_path), "version"], env=clean, timeout=30)
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", done.stdout.strip())


def test_regenerate_certs_keeps_localhost_and_127(lab: Lab, machine: str):
    lab.vpn_on("drop")
    assert tool(lab, "fix", "--machine", machine).returncode == 0
    lab.vpn_off()  # docker-machine regenerate-certs talks to the VM's own address
    regen = lab.run_on_host(["docker-machine", "regenerate-certs", "-f", machine], timeout=120)
    assert regen.returncode == 0, regen.stderr
    lab.vpn_on("drop")
    assert_docker_works(lab, machine)


def test_the_ca_key_never_reaches_the_guest(lab: Lab, machine: str):
    lab.vpn_on("drop")
    assert tool(lab, "fix", "--machine", machine).returncode == 0
    ca_key = (lab.paths.store / "certs" / "ca-key.pem").read_text()
    body = "".join(ca_key.strip().splitlines()[1:-1])[:64]
    # The guest's own filesystems (its /tmp and /root are the lab host's, so not searched):
    # everything an upload over SSH could have reached.
    found = lab.guest_run(machine, ["grep", "-rlsF", body, "/var/lib", "/home", "/etc"])
    assert found.stdout.strip() == "", found.stdout
    key = lab.guest_run(machine, ["stat", "-c", "%a %U", "/var/lib/boot2docker/server-key.pem"])
    assert key.stdout.split() == ["600", "root"]
    assert os.stat(Path(lab.paths.machine_dir(machine)) / "server-key.pem").st_mode & 0o077 == 0


def test_two_machines_at_once_each_on_its_own_port(lab: Lab):
    names = ["e2e-two-a", "e2e-two-b"]
    for name in names:
        lab.add_machine(name)
    try:
        lab.vpn_on("drop")
        done = tool(lab, "fix", "--machine", names[0], "--machine", names[1])
        assert done.returncode == 0, done.stderr
        ports = []
        for name in names:
            env = tool(lab, "env.print", "--machine", name, "--shell", "bash")
            host = re.search(r'DOCKER_HOST="tcp://localhost:(\d+)"', env.stdout)
            ports.append(int(host.group(1)))
            assert_docker_works(lab, name, ports[-1])
        assert ports[0] != ports[1]
        again = tool(lab, "fix", "--machine", names[0], "--machine", names[1])
        assert again.stderr.count("already fixed: nothing changed") == 2, again.stderr
    finally:
        lab.vpn_off()
        for name in names:
            lab.remove_machine(name)


def test_doctor_finds_the_breakage_and_then_health(lab: Lab, machine: str):
    lab.vpn_on("drop")
    sick = tool(lab, "doctor", "--machine", machine, "--json", timeout=60)
    assert sick.returncode == 1, sick.stderr
    found = {f["check"]: f for f in json.loads(sick.stdout)["findings"]}
    assert "utun0" in found["route to the VM"]["seen"]
    assert "packets silently dropped" in found["host-only address"]["seen"]  # seconds, not minutes
    assert found["NAT forward"]["fix"] == f"docker-vpn-helper nat.forward --machine {machine}"
    assert tool(lab, "fix", "--machine", machine).returncode == 0
    # A shell still pointing at the VM's address, which the VPN took: the commonest breakage.
    stale = docker_env(lab, f"tcp://{vm_ip(lab, machine)}:2376", machine)
    stuck = tool(lab, "doctor", "--machine", machine, env={**stale, "SHELL": "/bin/bash"})
    assert stuck.returncode == 1, stuck.stdout
    run = f'eval "$(docker-vpn-helper env.print --machine {machine})"'
    assert stuck.stdout.splitlines()[-1].endswith(f"; run: {run}"), stuck.stdout
    assert "the VPN took the route to" in stuck.stdout
    well = tool(
        lab, "doctor", "--machine", machine, env=docker_env(lab, "tcp://localhost:2376", machine)
    )
    assert well.returncode == 0, well.stdout
    assert "FAIL" not in well.stdout
    assert well.stdout.splitlines()[-1].startswith(("healthy:", "1 warning"))


def test_restore_walks_back_then_original_is_docker_machines_own(lab: Lab, machine: str):
    folder = Path(lab.paths.machine_dir(machine))
    cert_in_vm = ["cat", "/var/lib/boot2docker/server.pem"]
    before = (
        (folder / "server.pem").read_bytes(),
        json.loads((folder / "config.json").read_text())["HostOptions"]["AuthOptions"],
        lab.guest_run(machine, cert_in_vm).stdout,
        rules(lab, machine),
    )
    lab.vpn_on("drop")
    assert tool(lab, "fix", "--machine", machine).returncode == 0
    fixed = (folder / "server.pem").read_bytes()
    # a second run, one command: a new certificate, deployed and served
    again = tool(lab, "cert.issue", "--machine", machine, "--force",
                 "daemon.restart", "--machine", machine)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert (folder / "server.pem").read_bytes() != fixed
    listed = tool(lab, "restore", "--machine", machine, "--list")
    assert listed.returncode == 0 and listed.stdout.count("[in effect]") == 2, listed.stdout
    back = tool(lab, "restore", "--machine", machine)
    assert back.returncode == 0, back.stderr
    assert (folder / "server.pem").read_bytes() == fixed  # walked back one run
    assert_docker_works(lab, machine)
    done = tool(lab, "restore", "--machine", machine, "--original")
    assert done.returncode == 0, done.stderr
    after = (
        (folder / "server.pem").read_bytes(),
        json.loads((folder / "config.json").read_text())["HostOptions"]["AuthOptions"],
        lab.guest_run(machine, cert_in_vm).stdout,
        rules(lab, machine),
    )
    assert after == before
    assert not (folder / "openssl.cnf").exists()
    # the daemon serves docker-machine's certificate again (v0.16: the IP and localhost)
    assert docker(lab, machine, "tcp://localhost:2376").returncode != 0  # no forward any more
    lab.vpn_off()
    assert docker(lab, machine, f"tcp://{vm_ip(lab, machine)}:2376").returncode == 0
    nothing = tool(lab, "restore", "--machine", machine)
    assert nothing.returncode == 1 and "nothing left to undo" in nothing.stderr


def test_a_misspelled_machine_is_no_such_machine_even_on_the_vpn(lab: Lab):
    lab.vpn_on("drop")
    try:
        done = tool(lab, "fix", "--machine", "defualt", "--shell", "bash")
    finally:
        lab.vpn_off()
    assert done.returncode == 1
    assert done.stderr.startswith(
        f"docker-vpn-helper: no machine 'defualt' in the store {lab.paths.store} (it has: "
    )
    assert "did you mean 'default'?" in done.stderr and "VPN" not in done.stderr
    assert done.stdout == "false\n"  # eval "$(...)" fails too
    assert "defualt" not in lab.status()["machines"]
