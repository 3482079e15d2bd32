"""minikube's VM (issue 24): a stopped VM booted with VirtualBox's own start; the daemon
certificate re-issued, uploaded to the files docker.service's drop-in names, and the daemon
restarted with systemd, through the stand-ins
(an in-memory minikube VM, a TLS probe answering with what its daemon loaded)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from docker_vpn_helper import forwarding
from docker_vpn_helper.adapters import host
from docker_vpn_helper.core import certs, guestscripts
from docker_vpn_helper.core.minikube import DOCKER_DROP_IN
from docker_vpn_helper.errors import HelperError
from docker_vpn_helper.link import GuestLink
from docker_vpn_helper.stages import apiserver, cert, daemon, machine, restore, step

from ..support import minikube as mk
from ..support import store as dm
from ..support.runs import RunMock, close_all, session_for
from .standins import FakeGuest, cmd, commands, context, install_daemon, ok, showvminfo

IP = "192.168.59.100"
SSH = "ssh,tcp,127.0.0.1,50158,,22"
RUNNING = {
    cmd("VBoxManage", "showvminfo", "minikube", "--machinereadable"): ok(
        showvminfo(rules=(SSH, "docker,tcp,127.0.0.1,2376,,2376"), name="minikube")
    )
}


def drop_in(folder: str) -> bytes:
    """docker.service's drop-in as minikube's provisioner writes it, its TLS files in `folder`."""
    return (
        "[Service]\nExecStart=\nExecStart=/usr/bin/dockerd -H tcp://0.0.0.0:2376 -H "
        f"unix:///var/run/docker.sock --tlsverify --tlscacert {folder}/ca.pem --tlscert "
        f"{folder}/server.pem --tlskey {folder}/server-key.pem --label provider=virtualbox\n"
    ).encode()


@dataclass
class MinikubeGuest(FakeGuest):
    """minikube's VM in memory: /etc/docker and the drop-in naming it."""

    CERT = "/etc/docker/server.pem"
    KEY = "/etc/docker/server-key.pem"
    CA = "/etc/docker/ca.pem"

    def read_daemon_files(self):  # boot2docker's profile: never read in minikube's VM
        raise AssertionError("read boot2docker's profile in minikube's VM")


@pytest.fixture(scope="module")
def homes(tmp_path_factory) -> dict[str, Path]:
    """minikube homes made once (RSA keys are slow): its daemon certificate names localhost
    (`good`) or only the VM's address (`bare`)."""
    made = {}
    for kind, hosts in (("good", None), ("bare", (IP,))):
        root = tmp_path_factory.mktemp(kind)
        mk.minikube_world(root, mk.Node(ip=IP, server_hosts=hosts))
        made[kind] = root / ".minikube"
    return made


def home_copy(template: Path, tmp_path: Path) -> Path:
    return mk.copy_home(template, tmp_path / "home")


def vm(monkeypatch, home: Path, served_from: Path, folder: str = "/etc/docker") -> MinikubeGuest:
    """The VM, its /etc/docker (or `folder`) holding `served_from`'s server pair, served."""
    guest = MinikubeGuest()
    guest.CERT, guest.KEY, guest.CA = (f"{folder}/{n}" for n in mk_names())
    guest.files[DOCKER_DROP_IN] = drop_in(folder)
    guest.files[guest.CERT] = (served_from / "machines" / "server.pem").read_bytes()
    guest.files[guest.KEY] = (served_from / "machines" / "server-key.pem").read_bytes()
    guest.files[guest.CA] = (home / "certs" / "ca.pem").read_bytes()
    guest.served = guest.files[guest.CERT]
    monkeypatch.setattr(GuestLink, "_open_guest", lambda self, port, machine: guest)
    install_daemon(monkeypatch, guest)
    return guest


def mk_names() -> tuple[str, str, str]:
    return ("server.pem", "server-key.pem", "ca.pem")


def run(home: Path, *stages, dry_run: bool = False):
    s = session_for(context(RUNNING), "minikube", str(home), dry_run=dry_run)
    for stage in stages:
        step(s, stage)
    return s


FIX = (cert.ISSUE, cert.DEPLOY, daemon.STAGE)


def restarted_with_systemctl(guest: MinikubeGuest) -> bool:
    return bool(guest.restart_commands) and all(
        command == guestscripts.restart_command(60.0, guestscripts.MINIKUBE)
        and flavour is guestscripts.MINIKUBE
        for command, flavour in guest.restart_commands
    )


def names(pem: bytes) -> list[str]:
    from cryptography import x509

    found = certs.certificate_names(x509.load_pem_x509_certificate(pem))
    return sorted([*found.dns, *found.ips])


def test_a_certificate_without_localhost_is_reissued_uploaded_and_served(
    homes, tmp_path, monkeypatch, capsys
):
    home = home_copy(homes["bare"], tmp_path)
    guest = vm(monkeypatch, home, home)
    before = dict(guest.files)
    s = run(home, *FIX)
    issued = (home / "machines" / "server.pem").read_bytes()
    assert set(s.changes()) >= {"cert", "deploy", "daemon"}
    # The profile's address and name too: `minikube docker-env` without the VPN dials the IP.
    assert names(issued) == sorted(["localhost", "minikube", "127.0.0.1", IP])
    assert guest.files[guest.CERT] == issued and guest.served == issued
    assert guest.log == ["read", "install", "restart"]
    assert restarted_with_systemctl(guest)
    assert "/var/lib/minikube/docker-vpn-helper/backups/" in capsys.readouterr().err
    close_all()
    step(session_for(context(RUNNING), "minikube", str(home), dry_run=False), restore.STAGE)
    assert {k: guest.files[k] for k in (guest.CERT, guest.KEY)} == {
        k: before[k] for k in (guest.CERT, guest.KEY)
    }
    assert guest.served == before[guest.CERT]
    assert restarted_with_systemctl(guest)


def test_the_store_s_certificate_is_uploaded_where_the_drop_in_says(homes, tmp_path, monkeypatch):
    """The store's server.pem names localhost; the VM serves an older one of the same CA
    without it, from the folder its drop-in names (not /etc/docker): no re-issue, an upload
    there and a restart."""
    home = home_copy(homes["good"], tmp_path)
    guest = vm(monkeypatch, home, home, folder="/var/lib/docker-tls")
    guest.files[guest.CERT] = guest.served = _signed_by(home, [IP])
    s = run(home, *FIX)
    assert "cert" not in s.changes() and {"deploy", "daemon"} <= set(s.changes())
    stored = (home / "machines" / "server.pem").read_bytes()
    assert guest.files["/var/lib/docker-tls/server.pem"] == stored == guest.served
    assert not any(path.startswith("/etc/docker/") for path in guest.files)
    assert restarted_with_systemctl(guest)


def _signed_by(home: Path, hosts: list[str]) -> bytes:
    """A daemon certificate of `home`'s CA for `hosts` only."""
    ca, key = dm.load_ca(home)
    server, _ = dm.issue_server(ca, key, "user.minikube", hosts)
    return dm.cert_pem(server)


def test_files_in_place_but_not_served_only_restart(homes, tmp_path, monkeypatch, capsys):
    home = home_copy(homes["good"], tmp_path)
    guest = vm(monkeypatch, home, home)
    guest.served = _signed_by(home, [IP])  # the daemon has not loaded /etc/docker's pair yet
    s = run(home, *FIX)
    assert set(s.changes()) == {"daemon"}
    assert guest.log == ["read", "restart"]
    assert guest.served == guest.files[guest.CERT]
    assert restarted_with_systemctl(guest)
    assert "the daemon is back on tcp://localhost:2376" in capsys.readouterr().err


def test_a_daemon_refusing_the_new_certificate_is_rolled_back_with_systemctl(
    homes, tmp_path, monkeypatch
):
    home = home_copy(homes["bare"], tmp_path)
    guest = vm(monkeypatch, home, home)
    old = guest.files[guest.CERT]
    s = session_for(context(RUNNING), "minikube", str(home))
    s.settings = replace(s.settings, daemon_wait=0.5)
    step(s, cert.ISSUE)
    step(s, cert.DEPLOY)
    guest.refuse = guest.files[guest.CERT]
    with pytest.raises(HelperError, match="the previous certificate was put back"):
        step(s, daemon.STAGE)
    assert guest.log == ["read", "install", "restart", "restore", "restart"]
    assert guest.files[guest.CERT] == old == guest.served
    assert all(flavour is guestscripts.MINIKUBE for _, flavour in guest.restart_commands)


def test_the_dry_run_prints_the_systemctl_restart_and_changes_nothing(
    homes, tmp_path, monkeypatch, capsys
):
    home = home_copy(homes["bare"], tmp_path)
    guest = vm(monkeypatch, home, home)
    before = dict(guest.files)
    run(home, *FIX, dry_run=True)
    err = capsys.readouterr().err
    shown = guestscripts.restart_command(60.0, guestscripts.MINIKUBE).shown
    assert f"would run in the VM: {shown}" in err
    assert "{ systemctl daemon-reload && systemctl restart docker; }" in shown
    assert "would upload server.pem and server-key.pem to /etc/docker/server.pem" in err
    assert guest.files == before and guest.restarts == 0


def test_a_drop_in_naming_no_tls_files_is_one_line(homes, tmp_path, monkeypatch):
    home = home_copy(homes["bare"], tmp_path)
    guest = vm(monkeypatch, home, home)
    guest.files[DOCKER_DROP_IN] = b"[Service]\nExecStart=\nExecStart=/usr/bin/dockerd\n"
    with pytest.raises(HelperError, match="names no --tlscacert, --tlscert and --tlskey"):
        run(home, *FIX)
    assert "install" not in guest.log


# -- a stopped VM ------------------------------------------------------------------------------

SHOW_MK = cmd("VBoxManage", "showvminfo", "minikube", "--machinereadable")
STARTVM = cmd("VBoxManage", "startvm", "minikube", "--type", "headless")
ADD_FORWARD = cmd(
    "VBoxManage", "modifyvm", "minikube", "--natpf1", "docker,tcp,127.0.0.1,2376,,2376"
)


def stopped(monkeypatch) -> RunMock:
    monkeypatch.setattr(host, "platform", lambda: "linux")
    monkeypatch.setattr(forwarding, "port_listener", lambda port: False)
    return context(
        {
            SHOW_MK: ok(showvminfo("poweroff", rules=(SSH,), name="minikube")),
            cmd("VBoxManage", "list", "vms"): ok(),
            ADD_FORWARD: ok(),
            STARTVM: ok(),
        }
    )


def test_a_stopped_minikube_vm_gets_its_forward_then_boots_with_vboxmanage(
    homes, tmp_path, monkeypatch, capsys
):
    home = home_copy(homes["good"], tmp_path)
    fake = vm(monkeypatch, home, home)
    c = stopped(monkeypatch)
    s = session_for(c, "minikube", str(home))
    step(s, machine.STAGE)
    ran = commands(c)
    assert ran[-3:] == [ADD_FORWARD, STARTVM, SHOW_MK]
    assert not any("docker-machine" in line or "minikube start" in line for line in ran)
    assert set(s.changes()) == {"nat", "machine"}
    assert "started the VM (it was poweroff)" in capsys.readouterr().err
    assert fake.connections_opened == 1  # SSH opened once the daemon answers


def test_the_dry_run_of_a_stopped_minikube_vm_prints_startvm(homes, tmp_path, monkeypatch, capsys):
    home = home_copy(homes["good"], tmp_path)
    vm(monkeypatch, home, home)
    c = stopped(monkeypatch)
    step(session_for(c, "minikube", str(home), dry_run=True), machine.STAGE)
    assert f"would run: {STARTVM}" in capsys.readouterr().err
    assert STARTVM not in commands(c)


def test_a_booted_vm_whose_daemon_never_answers_is_said_and_the_run_goes_on(
    homes, tmp_path, monkeypatch, capsys
):
    home = home_copy(homes["good"], tmp_path)
    fake = vm(monkeypatch, home, home)
    fake.served = None
    s = session_for(stopped(monkeypatch), "minikube", str(home))
    s.settings = replace(s.settings, daemon_wait=0.3)
    step(s, machine.STAGE)
    assert "the daemon does not answer through 127.0.0.1:2376 yet" in capsys.readouterr().err


# -- a plain restore and kube.apiserver ----------------------------------------------------------

API_RULE = "apiserver,tcp,127.0.0.1,8443,,8443"
ADD_API = cmd("VBoxManage", "controlvm", "minikube", "natpf1", API_RULE)
DELETE_API = cmd("VBoxManage", "controlvm", "minikube", "natpf1", "delete", "apiserver")
WITH_API = ok(showvminfo(rules=(SSH, "docker,tcp,127.0.0.1,2376,,2376", API_RULE), name="minikube"))


def kube_run(monkeypatch, home: Path) -> RunMock:
    """kube.apiserver adds the API server's forward and writes our kubeconfig."""
    monkeypatch.setattr(apiserver, "judge", lambda s, port: "")  # its certificate: trusted
    monkeypatch.setattr(apiserver, "port_listener", lambda port: False)
    c = context({**RUNNING, ADD_API: ok(), cmd("VBoxManage", "list", "vms"): ok()})
    step(session_for(c, "minikube", str(home)), apiserver.STAGE)
    close_all()
    assert ADD_API in commands(c)
    return c


def plain_restore(home: Path) -> RunMock:
    c = context({SHOW_MK: WITH_API, DELETE_API: ok()})
    step(session_for(c, "minikube", str(home)), restore.STAGE)
    close_all()
    return c


def test_a_plain_restore_removes_the_api_forward_and_kubeconfig_the_run_added(
    homes, tmp_path, monkeypatch
):
    home = home_copy(homes["good"], tmp_path)
    vm(monkeypatch, home, home)
    kube_run(monkeypatch, home)
    ours = home / "machines" / "minikube" / "docker-vpn-helper.kubeconfig"
    assert ours.exists()
    c = plain_restore(home)
    assert DELETE_API in commands(c)
    assert not ours.exists()


def test_a_plain_restore_puts_back_a_kubeconfig_the_run_rewrote(homes, tmp_path, monkeypatch):
    home = home_copy(homes["good"], tmp_path)
    vm(monkeypatch, home, home)
    ours = home / "machines" / "minikube" / "docker-vpn-helper.kubeconfig"
    ours.write_text('{"clusters": []}\n')  # an earlier run's, for another port
    kube_run(monkeypatch, home)
    assert ours.read_text() != '{"clusters": []}\n'
    plain_restore(home)
    assert ours.read_text() == '{"clusters": []}\n'
