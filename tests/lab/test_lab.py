"""The lab itself is faithful: real docker/ssh/TLS behave as on a Mac behind a VPN, and the
stand-ins answer like VirtualBox and docker-machine do."""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lab import Lab

from .helpers import docker_env, port_held, ssh_argv

pytestmark = pytest.mark.lab

DIRECT = "tcp://192.168.99.100:2376"


def docker_version(lab: Lab, host: str, limit: int = 8, machine: str = "default"):
    argv = ["timeout", str(limit), "docker", "version", "--format", "{{.Server.Version}}"]
    return lab.run_on_host(argv, env=docker_env(lab, host, machine), timeout=limit + 5)


def vbox(lab: Lab, *args: str):
    return lab.run_on_host(["VBoxManage", *args], timeout=60)


def machine(lab: Lab, *args: str, timeout: float = 120):
    return lab.run_on_host(["docker-machine", *args], timeout=timeout)


def test_direct_docker_works_without_vpn_and_hangs_with_it(fresh: Lab) -> None:
    assert docker_version(fresh, DIRECT).stdout.strip().startswith("20.10")
    fresh.vpn_on("drop")
    assert fresh.status()["route"].startswith("192.168.99.0/24 dev utun0")
    started = time.monotonic()
    hung = docker_version(fresh, DIRECT, limit=3)
    assert hung.returncode == 124, hung.stderr  # timeout(1): the SYN went into utun0
    assert time.monotonic() - started >= 3
    fresh.vpn_on("unreachable")
    started = time.monotonic()
    failed = docker_version(fresh, DIRECT, limit=5)
    assert failed.returncode not in (0, 124) and time.monotonic() - started < 3, failed.stderr
    fresh.vpn_off(keep_stale_route=True)
    assert fresh.status()["route"].startswith("192.168.99.0/24 dev utun0")
    fresh.vpn_off()
    assert fresh.status()["route"] == (
        "192.168.99.0/24 dev vboxnet0 proto kernel scope link src 192.168.99.1"
    )
    assert docker_version(fresh, DIRECT).returncode == 0


def test_ssh_through_the_nat_port_works_with_the_vpn_on(fresh: Lab) -> None:
    fresh.vpn_on("drop")
    result = fresh.run_on_host(
        [*ssh_argv(fresh, "default"), "hostname; id -un; sudo -n true && echo sudo-ok"]
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["boot2docker", "docker", "sudo-ok"]


def test_vboxmanage_answers_like_virtualbox(fresh: Lab) -> None:
    assert re.fullmatch(r"6\.1\.\d+r\d+\n", vbox(fresh, "--version").stdout)
    vms = vbox(fresh, "list", "vms").stdout
    assert re.search(r'^"default" \{[0-9a-f-]{36}\}$', vms, re.M)
    assert '"default"' in vbox(fresh, "list", "runningvms").stdout
    info = vbox(fresh, "showvminfo", "default", "--machinereadable").stdout
    keys = [line.split("=", 1)[0] for line in info.splitlines()]
    for key in ("name", "UUID", "VMState", "VMStateChangeTime", "nic1", "nic2", "macaddress1"):
        assert key in keys
    assert keys.index("name") < keys.index("UUID") < keys.index("VMState") < keys.index("nic1")
    fields = dict(line.split("=", 1) for line in info.splitlines())
    assert fields["VMState"] == '"running"'
    assert fields["nic1"] == '"nat"' and fields["nic2"] == '"hostonly"'
    assert fields["hostonlyadapter2"] == '"vboxnet0"'
    assert re.fullmatch(r'"080027[0-9A-F]{6}"', fields["macaddress2"])
    port = fresh.status()["machines"]["default"]["ssh_port"]
    assert f'Forwarding(0)="ssh,tcp,127.0.0.1,{port},,22"' in info.splitlines()
    missing = vbox(fresh, "showvminfo", "nope", "--machinereadable")
    assert missing.returncode == 1 and missing.stdout == ""
    assert "VBoxManage: error: Could not find a registered machine named 'nope'" in missing.stderr
    locked = vbox(fresh, "modifyvm", "default", "--natpf1", "x,tcp,127.0.0.1,1234,,22")
    assert locked.returncode == 1
    assert "is already locked for a session" in locked.stderr


def test_a_nat_rule_really_forwards_to_the_daemon(fresh: Lab) -> None:
    added = vbox(fresh, "controlvm", "default", "natpf1", "docker,tcp,127.0.0.1,2376,,2376")
    assert added.returncode == 0, added.stderr
    again = vbox(fresh, "controlvm", "default", "natpf1", "docker,tcp,127.0.0.1,2376,,2376")
    assert again.returncode == 1
    assert "VBoxManage: error: A NAT rule of this name already exists" in again.stderr
    info = vbox(fresh, "showvminfo", "default", "--machinereadable").stdout
    assert 'Forwarding(0)="docker,tcp,127.0.0.1,2376,,2376"' in info  # rules are listed by name
    mdir = fresh.paths.machine_dir("default")
    s_client = [
        "timeout", "5", "openssl", "s_client", "-connect", "127.0.0.1:2376", "-CAfile", f"{mdir}/ca.pem",
        "-cert", f"{mdir}/cert.pem", "-key", f"{mdir}/key.pem", "-verify_return_error", "-brief",
    ]  # fmt: skip
    hello = fresh.run_on_host(s_client, input="")
    assert "Verification: OK" in hello.stderr, hello.stderr
    # v0.16's certificate names the IP and localhost but never 127.0.0.1 (domain.md §2, §6).
    by_ip = docker_version(fresh, "tcp://127.0.0.1:2376")
    assert by_ip.returncode != 0
    assert "x509: certificate is valid for 192.168.99.100, not 127.0.0.1" in by_ip.stderr
    assert docker_version(fresh, "tcp://localhost:2376").returncode == 0
    deleted = vbox(fresh, "controlvm", "default", "natpf1", "delete", "docker")
    assert deleted.returncode == 0, deleted.stderr
    gone = fresh.run_on_host(s_client, input="")
    assert "Verification: OK" not in gone.stderr
    assert "connect" in (gone.stderr + gone.stdout).lower()


def test_a_taken_host_port_saves_the_rule_but_forwards_nothing(fresh: Lab) -> None:
    with port_held(2376):
        added = vbox(fresh, "controlvm", "default", "natpf1", "docker,tcp,127.0.0.1,2376,,2376")
        assert added.returncode == 0
        assert "docker,tcp,127.0.0.1,2376,,2376" in fresh.status()["machines"]["default"]["rules"]
        assert docker_version(fresh, "tcp://localhost:2376", limit=3).returncode != 0


def test_the_store_is_what_docker_machine_writes(fresh: Lab) -> None:
    store = fresh.paths.store
    mdir = fresh.paths.machine_dir("default")
    text = (mdir / "config.json").read_text()
    assert text.startswith(
        '{\n    "ConfigVersion": 3,\n    "Driver": {\n        "IPAddress": "192.168.99.100"'
    )
    assert stat.S_IMODE((mdir / "config.json").stat().st_mode) == 0o600
    config = json.loads(text)
    driver = config["Driver"]
    assert driver["SSHUser"] == "docker" and driver["MachineName"] == "default"
    assert driver["SSHPort"] == fresh.status()["machines"]["default"]["ssh_port"]
    assert driver["SSHKeyPath"] == f"{mdir}/id_rsa" and driver["StorePath"] == str(store)
    assert driver["HostOnlyCIDR"] == "192.168.99.1/24"
    for field in ("CPU", "Memory", "DiskSize", "NatNicType", "Boot2DockerURL", "UIType"):
        assert field in driver
    auth = config["HostOptions"]["AuthOptions"]
    assert (
        auth["CaCertRemotePath"]
        == auth["ServerCertRemotePath"]
        == auth["ServerKeyRemotePath"]
        == ""
    )
    assert auth["ServerCertSANs"] == [] and auth["StorePath"] == str(mdir)
    assert set(config["HostOptions"]) == {
        "Driver",
        "Memory",
        "Disk",
        "EngineOptions",
        "SwarmOptions",
        "AuthOptions",
    }
    assert (
        (store / "certs" / "ca-key.pem").read_text().startswith("-----BEGIN RSA PRIVATE KEY-----")
    )
    for key in (mdir / "id_rsa", mdir / "id_rsa.pub", mdir / "server-key.pem", mdir / "key.pem"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    client = x509.load_pem_x509_certificate((mdir / "cert.pem").read_bytes())
    assert client.extensions.get_extension_for_class(
        x509.ExtendedKeyUsage
    ).value == x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])
    server = x509.load_pem_x509_certificate((mdir / "server.pem").read_bytes())
    assert server.subject.get_attributes_for_oid(NameOID.COMMON_NAME) == []
    assert server.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value.endswith(
        ".default"
    )
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["192.168.99.100"]
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    lifetime = server.not_valid_after_utc - server.not_valid_before_utc
    assert lifetime.days == 1080


def test_the_guest_looks_like_boot2docker(fresh: Lab) -> None:
    profile = fresh.guest_run("default", ["cat", "/var/lib/boot2docker/profile"]).stdout
    assert "DOCKER_HOST='-H tcp://0.0.0.0:2376'" in profile
    assert "SERVERCERT=/var/lib/boot2docker/server.pem" in profile and "DOCKER_TLS=auto" in profile
    assert fresh.guest_run("default", ["hostname"]).stdout.strip() == "boot2docker"
    assert (
        fresh.guest_run("default", ["/etc/init.d/docker", "status"]).stdout.strip()
        == "Docker daemon is running"
    )
    before = fresh.daemon_pid("default")
    restart = fresh.run_on_host([*ssh_argv(fresh, "default"), "sudo /etc/init.d/docker restart"])
    assert restart.returncode == 0, restart.stderr
    after = fresh.daemon_pid("default")
    assert before and after and before != after
    assert docker_version(fresh, DIRECT).returncode == 0
    # The guest's user lives in the guest's own /etc, never in the real host's.
    account = fresh.guest_run("default", ["getent", "passwd", "docker"]).stdout.strip()
    assert account.endswith(":/home/docker:/bin/sh")
    assert account not in Path("/etc/passwd").read_text()


def test_stop_and_start_keep_only_what_boot2docker_keeps(fresh: Lab) -> None:
    fresh.guest_run("default", ["sh", "-c", "touch /var/lib/boot2docker/kept /etc/lost"])
    stopped = machine(fresh, "stop", "default")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.splitlines() == [
        'Stopping "default"...',
        'Machine "default" was stopped.',
    ]
    assert machine(fresh, "status", "default").stdout == "Stopped\n"
    assert 'VMState="poweroff"' in vbox(fresh, "showvminfo", "default", "--machinereadable").stdout
    not_running = vbox(fresh, "controlvm", "default", "natpf1", "docker,tcp,127.0.0.1,2376,,2376")
    assert not_running.returncode == 1
    assert "VBoxManage: error: Machine 'default' is not currently running" in not_running.stderr
    assert (
        vbox(fresh, "modifyvm", "default", "--natpf1", "docker,tcp,127.0.0.1,2376,,2376").returncode
        == 0
    )
    unreachable = docker_version(fresh, DIRECT, limit=6)
    assert unreachable.returncode != 0
    started = machine(fresh, "start", "default")
    assert started.returncode == 0, started.stderr
    assert started.stdout.splitlines()[0] == 'Starting "default"...'
    rules = fresh.status()["machines"]["default"]["rules"]
    assert "docker,tcp,127.0.0.1,2376,,2376" in rules  # start re-adds only `ssh`
    assert fresh.guest_run("default", ["ls", "/var/lib/boot2docker/kept"]).returncode == 0
    assert fresh.guest_run("default", ["ls", "/etc/lost"]).returncode != 0
    assert docker_version(fresh, "tcp://localhost:2376").returncode == 0
    again = machine(fresh, "start", "default")
    assert again.returncode == 1 and 'Machine "default" is already running.' in again.stderr
    off = vbox(fresh, "controlvm", "default", "poweroff")
    assert off.returncode == 0 and off.stderr.endswith("90%...100%\n")
    assert machine(fresh, "status", "default").stdout == "Stopped\n"
    on = vbox(fresh, "startvm", "default", "--type", "headless")
    assert on.stdout.splitlines() == [
        'Waiting for VM "default" to power on...',
        'VM "default" has been successfully started.',
    ]
    fresh.start_vm("default")  # waits for the boot to finish
    assert fresh.daemon_pid("default")


def test_docker_machine_errors_and_listing(fresh: Lab) -> None:
    missing = machine(fresh, "status", "nope")
    assert missing.returncode == 1
    assert missing.stderr.startswith('Docker machine "nope" does not exist.')
    assert machine(fresh, "ip", "default").stdout == "192.168.99.100\n"
    listing = machine(fresh, "ls").stdout.splitlines()
    assert listing[0].split() == [
        "NAME",
        "ACTIVE",
        "DRIVER",
        "STATE",
        "URL",
        "SWARM",
        "DOCKER",
        "ERRORS",
    ]
    assert listing[1].split()[:5] == ["default", "-", "virtualbox", "Running", DIRECT]
    fresh.vpn_on("drop")
    env = machine(fresh, "env", "default", timeout=30)
    assert env.returncode == 1
    assert "dial tcp 192.168.99.100:2376: i/o timeout" in env.stderr


def test_create_fails_behind_the_vpn_and_works_without(fresh: Lab) -> None:
    try:
        fresh.vpn_on("drop")
        failed = machine(fresh, "create", "-d", "virtualbox", "blocked", timeout=120)
        assert failed.returncode == 1
        assert failed.stderr.startswith(
            "Error creating machine: Error checking the host: Error checking and/or regenerating the certs"
        )
        assert re.search(r"dial tcp 192\.168\.99\.10\d:2376: i/o timeout", failed.stderr)
        fresh.remove_machine("blocked")
        fresh.vpn_off()
        made = machine(
            fresh, "create", "-d", "virtualbox", "--tls-san", "127.0.0.1", "made", timeout=120
        )
        assert made.returncode == 0, made.stderr
        assert "Docker is up and running!" in made.stdout
        config = json.loads((fresh.paths.machine_dir("made") / "config.json").read_text())
        assert config["HostOptions"]["AuthOptions"]["ServerCertSANs"] == ["127.0.0.1"]
        ip = config["Driver"]["IPAddress"]
        assert docker_version(fresh, f"tcp://{ip}:2376", machine="made").returncode == 0
    finally:
        fresh.remove_machine("blocked")
        fresh.remove_machine("made")


def test_regenerate_certs_reissues_from_config(fresh: Lab) -> None:
    config_path = fresh.paths.machine_dir("default") / "config.json"
    original = config_path.read_text()
    config = json.loads(original)
    config["HostOptions"]["AuthOptions"]["ServerCertSANs"] = ["127.0.0.1"]
    config_path.write_text(json.dumps(config, indent=4))
    try:
        before = fresh.daemon_pid("default")
        result = machine(fresh, "regenerate-certs", "-f", "default")
        assert result.returncode == 0, result.stderr
        assert "Copying certs to the remote machine..." in result.stdout
        assert fresh.daemon_pid("default") != before
        assert (
            vbox(
                fresh, "controlvm", "default", "natpf1", "docker,tcp,127.0.0.1,2376,,2376"
            ).returncode
            == 0
        )
        assert docker_version(fresh, "tcp://127.0.0.1:2376").returncode == 0
    finally:
        config_path.write_text(original)
        machine(fresh, "regenerate-certs", "-f", "default")


@pytest.fixture
def legacy(lab: Lab) -> Lab:
    lab.add_machine("legacy", legacy_ssh=True, cert_profile="v0.4", reject_new_certs=True)
    yield lab
    lab.remove_machine("legacy")


def test_legacy_guest(legacy: Lab) -> None:
    modern = legacy.run_on_host(
        [*ssh_argv(legacy, "legacy", "-o", "PubkeyAcceptedAlgorithms=rsa-sha2-256"), "true"]
    )
    assert modern.returncode == 255
    old = ssh_argv(
        legacy,
        "legacy",
        "-o",
        "HostKeyAlgorithms=+ssh-rsa",
        "-o",
        "PubkeyAcceptedAlgorithms=ssh-rsa",
    )
    assert legacy.run_on_host([*old, "true"]).returncode == 0
    # paramiko >= 2.9 offers rsa-sha2-512 first and fails unless told to sign with ssh-rsa.
    script = (
        "import paramiko, sys\n"
        "def login(disabled):\n"
        "    c = paramiko.SSHClient(); c.set_missing_host_key_policy(paramiko.AutoAddPolicy())\n"
        "    try:\n"
        "        c.connect('127.0.0.1', port=int(sys.argv[1]), username='docker', key_filename=sys.argv[2],\n"
        "                  look_for_keys=False, allow_agent=False, timeout=5, disabled_algorithms=disabled)\n"
        "        return 'ok'\n"
        "    except Exception:\n"
        "        return 'refused'\n"
        "print(login(None), login({'pubkeys': ['rsa-sha2-512', 'rsa-sha2-256']}))\n"
    )
    port = str(legacy.status()["machines"]["legacy"]["ssh_port"])
    key = str(legacy.paths.machine_dir("legacy") / "id_rsa")
    logins = legacy.run_on_host([sys.executable, "-c", script, port, key], timeout=30)
    assert logins.stdout.split() == ["refused", "ok"], logins.stderr
    # v0.4 certificate: the IP only, so even tcp://localhost fails once 2376 is forwarded.
    vbox(legacy, "controlvm", "legacy", "natpf1", "docker,tcp,127.0.0.1,2377,,2376")
    by_name = docker_version(legacy, "tcp://localhost:2377", machine="legacy")
    assert (
        "x509: certificate is not valid for any names, but wanted to match localhost"
        in by_name.stderr
    )
    # reject_new_certs: a server.pem other than the original keeps dockerd down (for rollback tests).
    swap = "cp /var/lib/boot2docker/ca.pem /var/lib/boot2docker/server.pem"
    restart = legacy.run_on_host(
        [
            *old,
            f"sudo cp /var/lib/boot2docker/server.pem /tmp/orig && sudo sh -c '{swap}' && sudo /etc/init.d/docker restart",
        ]
    )
    assert restart.returncode != 0
    assert "refusing to start dockerd" in restart.stderr
    assert legacy.daemon_pid("legacy") is None
    back = legacy.run_on_host(
        [*old, "sudo cp /tmp/orig /var/lib/boot2docker/server.pem && sudo /etc/init.d/docker start"]
    )
    assert back.returncode == 0, back.stderr
    assert legacy.daemon_pid("legacy")


def test_a_guest_that_cannot_boot_names_its_log_and_the_missing_package(
    lab: Lab, tmp_path, monkeypatch
):
    """tini not installed (simulated: a PATH of the host's programs but tini): one line with the
    boot log and the package, not 'the guest died while booting (see its console.log)'."""
    from docker_vpn_helper.errors import HelperError
    from lab import guest

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for folder in ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        for entry in os.scandir(folder) if os.path.isdir(folder) else ():
            link = bin_dir / entry.name
            if entry.name != "tini" and not link.exists():
                link.symlink_to(entry.path)
    monkeypatch.setenv("PATH", str(bin_dir))
    try:
        with pytest.raises(HelperError) as caught:
            lab.add_machine("noboot")
    finally:
        monkeypatch.undo()
        lab.remove_machine("noboot")
    log = guest.console_log(lab.paths, "noboot")
    message = caught.value.reason
    assert message.startswith("the guest died while booting: ") and "tini" in message
    assert f"its boot log: {log}" in message
    assert "likely missing Debian package: tini (sudo apt-get install -y" in message
