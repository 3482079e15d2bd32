"""corp.sync end to end (issue 23): behind the VPN, a registry of the "corporate network" whose
TLS certificate comes from a company root the VM does not trust; the real docker CLI on the lab
Mac is the oracle. Its own machine per test; nothing outside the lab's namespaces is reached.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lab import Lab, virtualbox
from lab.corp import REPOSITORY, Corp, refusal

from .helpers import docker_env, tool

pytestmark = pytest.mark.lab

X509 = "x509: certificate signed by unknown authority"
OFF = {"INVOKE_VPNHELPER_CORP_ROOTS": "false", "INVOKE_VPNHELPER_CORP_PROXY": "false"}


@pytest.fixture
def corp(lab: Lab, machine: str):
    if refusal():
        pytest.skip(refusal())
    network = Corp(lab).up(machine)
    yield network
    network.down()


def env_for(lab: Lab, corp: Corp, **extra: str) -> dict[str, str]:
    """The lab Mac's environment for the tool: the company root as vpnhelper.ca_bundle."""
    return {**lab.host_env(), "INVOKE_VPNHELPER_CA_BUNDLE": str(corp.root_pem), **extra}


def vm_file(lab: Lab, machine: str, path: str) -> str:
    done = lab.guest_run(machine, ["cat", path])
    return done.stdout if done.returncode == 0 else ""


def ssh_logins(lab: Lab, machine: str) -> int:
    """Connections the guest's sshd accepted so far (its log, read on the guest's console)."""
    return vm_file(lab, machine, "/var/log/sshd.log").count("Accepted publickey")


def ours(lab: Lab, machine: str) -> list[str]:
    done = lab.guest_run(machine, ["ls", "/var/lib/boot2docker/certs"])
    return sorted(n for n in done.stdout.split() if n.startswith("docker-vpn-helper-"))


def test_company_root_pull_fails_then_works_then_fails_after_restore(
    lab: Lab, machine: str, corp: Corp
):
    lab.vpn_on("drop")
    env = env_for(lab, corp)
    # the machine repaired for the VPN, corp.sync turned off: the daemon answers, the pull fails
    first = tool(lab, "fix", "--machine", machine, env={**env, **OFF})
    assert first.returncode == 0, first.stderr
    assert "turned off (vpnhelper.corp_roots and vpnhelper.corp_proxy are off)" in first.stderr
    client = docker_env(lab, "tcp://localhost:2376", machine)
    before = corp.pull(client)
    assert before.returncode != 0 and X509 in before.stderr, before.stderr
    bundle_before = vm_file(lab, machine, "/etc/ssl/certs/ca-certificates.crt")

    dry = tool(lab, "corp.sync", "--machine", machine, "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "would copy CN=Lab Corp Root CA,O=Example Corp (SHA-256 " in dry.stderr
    assert ours(lab, machine) == []  # a dry run changes nothing

    fixed = tool(lab, "fix", "--machine", machine, env=env)
    assert fixed.returncode == 0, fixed.stderr
    assert "restarted the daemon" in fixed.stderr
    assert len(ours(lab, machine)) >= 1
    after = corp.pull(client)
    assert after.returncode == 0, after.stderr

    pid = lab.daemon_pid(machine)
    logins = ssh_logins(lab, machine)
    again = tool(lab, "fix", "--machine", machine, env=env)
    assert again.returncode == 0 and "already fixed: nothing changed" in again.stderr, again.stderr
    assert lab.daemon_pid(machine) == pid  # nothing changed: no restart
    assert ssh_logins(lab, machine) == logins  # corp.sync took its record's word: no SSH

    corp.forget_image(machine)
    undone = tool(lab, "restore", "--machine", machine, env=env)
    assert undone.returncode == 0, undone.stderr
    assert ours(lab, machine) == []
    assert vm_file(lab, machine, "/etc/ssl/certs/ca-certificates.crt") == bundle_before
    failed = corp.pull(client)
    assert failed.returncode != 0 and X509 in failed.stderr, failed.stderr


def test_roots_persist_across_a_reboot_and_doctor_sees_what_is_missing(
    lab: Lab, machine: str, corp: Corp
):
    lab.vpn_on("drop")
    env = env_for(lab, corp)
    assert tool(lab, "fix", "--machine", machine, env={**env, **OFF}).returncode == 0
    doctor = tool(lab, "doctor", "--machine", machine, env=env)
    assert "the VM lacks" in doctor.stdout + doctor.stderr
    assert "Lab Corp Root CA" in doctor.stdout + doctor.stderr

    assert tool(lab, "corp.sync", "--machine", machine, env=env).returncode == 0
    lab.stop_vm(machine)
    lab.start_vm(machine)  # the running bundle is rebuilt from the ISO and the certs folder
    client = docker_env(lab, "tcp://localhost:2376", machine)
    pulled = corp.pull(client)
    assert pulled.returncode == 0, pulled.stderr
    healthy = tool(lab, "doctor", "--machine", machine, env=env)
    assert "the VM lacks" not in healthy.stdout + healthy.stderr


@pytest.mark.skipif(
    not hasattr(virtualbox, "localhost_reachable"),
    reason="the lab's NAT does not model 10.0.2.2 -> the host's loopback yet (issue 22)",
)
def test_proxy_on_the_macs_loopback_is_written_as_the_nat_gateway(
    lab: Lab, machine: str, corp: Corp
):
    lab.vpn_on("drop")
    corp.proxy_only(machine)
    env = env_for(lab, corp)
    assert tool(lab, "fix", "--machine", machine, env={**env, **OFF}).returncode == 0
    client = docker_env(lab, "tcp://localhost:2376", machine)
    # the VM's daemon has the root but no proxy: the registry is out of its reach
    only_roots = tool(
        lab, "corp.sync", "--machine", machine, env={**env, "INVOKE_VPNHELPER_CORP_PROXY": "0"}
    )
    assert only_roots.returncode == 0, only_roots.stderr
    assert corp.pull(client, timeout=90).returncode != 0

    secret = "s3cret-Pa55"
    proxied = {**env, "HTTPS_PROXY": f"http://jane:{secret}@127.0.0.1:8888"}
    dry = tool(lab, "corp.sync", "--machine", machine, "--dry-run", env=proxied)
    assert "export HTTPS_PROXY=http://****@10.0.2.2:8888" in dry.stderr, dry.stderr
    fixed = tool(lab, "fix", "--machine", machine, env=proxied)
    assert fixed.returncode == 0, fixed.stderr
    assert secret not in fixed.stdout + fixed.stderr + dry.stdout + dry.stderr
    profile = vm_file(lab, machine, "/var/lib/boot2docker/profile")
    assert f"export HTTPS_PROXY=http://jane:{secret}@10.0.2.2:8888" in profile
    pulled = corp.pull(client, timeout=90)
    assert pulled.returncode == 0, pulled.stderr
    assert "CONNECT" in corp.proxy_log() and REPOSITORY.split("/")[0] in corp.proxy_log()
    assert Path(corp.root_pem).exists()


def test_a_virtualbox_7_vm_reaches_the_loopback_proxy_only_once_its_nat_may(lab: Lab):
    """VirtualBox 7's new VMs keep 10.0.2.2 off the host's loopback: fix writes the proxy, says
    what the NAT lacks, and the pull works once `--nat-localhostreachable1 on` is set."""
    if refusal():
        pytest.skip(refusal())
    name = "cor-vbox7"
    lab.vpn_off()
    lab.set_virtualbox("7.1")
    corp = None
    try:
        lab.add_machine(name)
        corp = Corp(lab).up(name)
        corp.proxy_only(name)
        lab.vpn_on("drop")
        proxied = env_for(lab, corp, HTTPS_PROXY="http://127.0.0.1:8888")
        fixed = tool(lab, "fix", "--machine", name, env=proxied)
        assert fixed.returncode == 0, fixed.stderr
        assert f"VBoxManage modifyvm {name} --nat-localhostreachable1 on" in fixed.stderr
        client = docker_env(lab, "tcp://localhost:2376", name)
        assert corp.pull(client, timeout=90).returncode != 0
        doctor = tool(lab, "doctor", "--machine", name, env=proxied)
        assert "--nat-localhostreachable1 on" in doctor.stdout

        lab.stop_vm(name)
        switched = lab.run_on_host(
            ["VBoxManage", "modifyvm", name, "--nat-localhostreachable1", "on"]
        )
        assert switched.returncode == 0, switched.stderr
        lab.start_vm(name)
        pulled = corp.pull(client, timeout=90)
        assert pulled.returncode == 0, pulled.stderr
    finally:
        lab.vpn_off()
        lab.set_virtualbox("6.1")
        if corp is not None:
            corp.down()
        lab.remove_machine(name)
