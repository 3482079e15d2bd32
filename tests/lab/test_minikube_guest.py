"""The lab's minikube-like guest (issue 24): minikube's VirtualBox VM, its store in the lab Mac's
~/.minikube, kubectl's ~/.kube/config, the real docker CLI and the real kubectl against it, with
and without the VPN, through NAT forwards, and its systemd-style docker.service."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from docker_vpn_helper.core import minikube
from lab import Lab
from lab.paths import HOST_NS, netns_path

PROFILE = "minikube"
OLD = "mk-old"  # an API server certificate from before minikube 1.7.3

pytestmark = pytest.mark.skipif(not shutil.which("kubectl"), reason="needs a real kubectl")


@pytest.fixture(scope="module")
def mk(lab: Lab) -> Iterator[Lab]:
    """The session lab plus minikube's VM `minikube` (removed at the end of the module)."""
    lab.vpn_off()
    lab.add_machine(PROFILE, flavour="minikube")
    yield lab
    lab.vpn_off()
    lab.remove_machine(PROFILE)


@pytest.fixture
def vpn_off(mk: Lab) -> Iterator[Lab]:
    mk.vpn_off()
    yield mk
    mk.vpn_off()


def docker_env(lab: Lab, host: str) -> dict[str, str]:
    """`minikube docker-env`'s environment, for `host`."""
    env = lab.host_env()
    certs = lab.paths.minikube_home / "certs"
    env.update(DOCKER_HOST=host, DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=str(certs))
    return env


def docker(lab: Lab, host: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return lab.run_on_host(["timeout", "10", "docker", *argv], env=docker_env(lab, host))


def kubectl(lab: Lab, *argv: str, kubeconfig: str | None = None):
    env = lab.host_env()
    if kubeconfig:
        env["KUBECONFIG"] = kubeconfig
    return lab.run_on_host(["kubectl", "--request-timeout=5s", *argv], env=env, timeout=30)


def assert_both_work(lab: Lab, docker_host: str, kubeconfig: str | None = None) -> None:
    done = docker(lab, docker_host, "ps")
    assert done.returncode == 0 and "CONTAINER ID" in done.stdout, done.stderr
    nodes = kubectl(lab, "get", "nodes", kubeconfig=kubeconfig)
    assert nodes.returncode == 0, nodes.stderr
    assert nodes.stdout.split("\n")[1].split()[:2] == [PROFILE, "Ready"], nodes.stdout
    health = kubectl(lab, "get", "--raw", "/healthz", kubeconfig=kubeconfig)
    assert (health.returncode, health.stdout) == (0, "ok"), health.stderr


@contextlib.contextmanager
def forwards(lab: Lab, machine: str, docker_port: int, api_port: int) -> Iterator[None]:
    """NAT forwards on 127.0.0.1 to the guest's 2376 and 8443, deleted afterwards."""
    natpf1 = ["VBoxManage", "controlvm", machine, "natpf1"]
    lab.run_on_host([*natpf1, f"docker,tcp,127.0.0.1,{docker_port},,2376"])
    lab.run_on_host([*natpf1, f"k8s,tcp,127.0.0.1,{api_port},,8443"])
    try:
        yield
    finally:
        for rule in ("docker", "k8s"):
            lab.run_on_host([*natpf1, "delete", rule])


def served_certificate(lab: Lab, port: int, profile: minikube.Profile) -> bytes:
    """The API server's certificate as it answers on the lab Mac's 127.0.0.1:`port` (DER)."""
    code = (
        "import ssl, socket, sys;"
        " c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); c.check_hostname = False;"
        " c.verify_mode = ssl.CERT_NONE;"
        f" c.load_cert_chain({str(profile.client_cert)!r}, {str(profile.client_key)!r});"
        f" s = c.wrap_socket(socket.create_connection(('127.0.0.1', {port}), 5));"
        " sys.stdout.write(s.getpeercert(True).hex())"
    )
    done = subprocess.run(
        ["nsenter", f"--net={netns_path(HOST_NS)}", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert done.returncode == 0, done.stderr
    return bytes.fromhex(done.stdout)


def test_the_guest_is_a_vm_of_minikube_s_virtualbox_driver(mk: Lab) -> None:
    info = mk.run_on_host(["VBoxManage", "showvminfo", PROFILE, "--machinereadable"]).stdout
    folder = mk.paths.minikube_home / "machines" / PROFILE
    assert f'CfgFile="{folder}/{PROFILE}/{PROFILE}.vbox"' in info
    profile = minikube.load_profile(minikube.home({}, mk.paths.home), PROFILE)
    status = mk.status()["machines"][PROFILE]
    assert (profile.machine.ip, profile.machine.ssh_port) == (status["ip"], status["ssh_port"])
    guest = mk.guest_run(
        PROFILE,
        [
            "sh",
            "-c",
            "hostname; ls /etc/docker; systemctl is-active docker; grep -c . /etc/os-release",
        ],
    )
    lines = guest.stdout.split()
    assert lines[0] == PROFILE and {"ca.pem", "server.pem", "server-key.pem"} <= set(lines)
    assert "active" in lines
    unit = mk.guest_run(PROFILE, ["cat", "/etc/systemd/system/docker.service.d/10-machine.conf"])
    files = minikube.unit_tls_files(unit.stdout)
    assert (files.ca, files.cert, files.key) == tuple(
        f"/etc/docker/{name}" for name in ("ca.pem", "server.pem", "server-key.pem")
    )
    # The guest's ~/.minikube files and the user's kubeconfig, as minikube leaves them.
    config = json.loads(mk.run_on_host(["kubectl", "config", "view", "-o", "json"]).stdout)
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == PROFILE)
    assert cluster["server"] == f"https://{status['ip']}:8443"
    assert cluster["certificate-authority"] == str(profile.cluster_ca)


def test_docker_and_kubectl_work_without_the_vpn_and_fail_with_it(vpn_off: Lab) -> None:
    lab = vpn_off
    direct = f"tcp://{lab.status()['machines'][PROFILE]['ip']}:2376"
    assert_both_work(lab, direct)
    lab.vpn_on("unreachable")
    refused = docker(lab, direct, "ps")
    assert refused.returncode != 0 and "192.168.99." in refused.stderr, refused.stderr
    nodes = kubectl(lab, "get", "nodes")
    assert nodes.returncode != 0 and ":8443" in nodes.stderr, nodes.stderr


def test_through_nat_forwards_and_our_kubeconfig_both_work_behind_the_vpn(vpn_off: Lab) -> None:
    lab = vpn_off
    home = lab.paths.minikube_home
    profile = minikube.load_profile(home, PROFILE)
    with forwards(lab, PROFILE, 42376, 48443):
        lab.vpn_on("drop")
        ours = profile.kubeconfig
        ours.write_bytes(minikube.render_kubeconfig(minikube.kubeconfig(profile, 48443)))
        try:
            value = minikube.kubeconfig_value(ours, {}, lab.paths.home)
            env = dict(minikube.environment(profile, 42376))
            assert_both_work(lab, env["DOCKER_HOST"], value)
            served = served_certificate(lab, 48443, profile)
            ca = profile.cluster_ca.read_bytes()
            assert minikube.apiserver_problem(served, ca, PROFILE) is None
        finally:
            ours.unlink()


def test_the_api_server_wants_a_client_certificate_of_the_cluster_ca(vpn_off: Lab) -> None:
    lab = vpn_off
    home = lab.paths.minikube_home
    base = ["curl", "-sS", "--max-time", "5", "--cacert", str(home / "ca.crt")]
    url = "https://127.0.0.1:48443/healthz"
    client = home / "profiles" / PROFILE
    with forwards(lab, PROFILE, 42376, 48443):
        anonymous = lab.run_on_host([*base, url])
        docker_pair = ["--cert", str(home / "certs/cert.pem"), "--key", str(home / "certs/key.pem")]
        other_ca = lab.run_on_host([*base, *docker_pair, url])
        pair = ["--cert", str(client / "client.crt"), "--key", str(client / "client.key")]
        good = lab.run_on_host([*base, *pair, url])
    assert anonymous.returncode != 0, anonymous.stdout
    assert other_ca.returncode != 0, other_ca.stdout
    assert (good.returncode, good.stdout) == (0, "ok"), good.stderr


def test_an_api_server_from_before_minikube_1_7_3_fails_through_the_forward(mk: Lab) -> None:
    mk.vpn_off()
    mk.add_machine(OLD, flavour="minikube", apiserver_loopback=False)
    try:
        profile = minikube.load_profile(mk.paths.minikube_home, OLD)
        with forwards(mk, OLD, 42377, 48444):
            ours = profile.kubeconfig
            ours.write_bytes(minikube.render_kubeconfig(minikube.kubeconfig(profile, 48444)))
            nodes = kubectl(mk, "get", "nodes", kubeconfig=str(ours))
            served = served_certificate(mk, 48444, profile)
        assert nodes.returncode != 0
        assert "x509" in nodes.stderr and "127.0.0.1" in nodes.stderr, nodes.stderr
        line = minikube.apiserver_problem(served, profile.cluster_ca.read_bytes(), OLD)
        assert line is not None and "minikube before 1.7.3" in line
        # Directly, without the VPN, it works: only the forward's address is missing.
        direct = kubectl(mk, "--context", OLD, "get", "--raw", "/healthz")
        assert (direct.returncode, direct.stdout) == (0, "ok"), direct.stderr
    finally:
        mk.remove_machine(OLD)


def ssh(lab: Lab, command: str, *extra: str) -> list[str]:
    """The system ssh into the minikube VM as user docker (its key in ~/.minikube)."""
    key = lab.paths.minikube_home / "machines" / PROFILE / "id_rsa"
    port = lab.status()["machines"][PROFILE]["ssh_port"]
    options = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
    options += ["-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-i", str(key), "-p", str(port)]
    return ["ssh", "-F", "/dev/null", *options, *extra, "docker@127.0.0.1", command]


def labels(lab: Lab) -> list[str]:
    done = lab.guest_run(PROFILE, ["docker", "info", "--format", "{{json .Labels}}"])
    return json.loads(done.stdout)


def test_docker_service_honours_daemon_reload_over_ssh_with_sudo(vpn_off: Lab) -> None:
    lab = vpn_off
    unit = "/etc/systemd/system/docker.service.d/10-machine.conf"
    edit = f"sudo sed -i 's/--label provider=virtualbox/& --label lab=reloaded/' {unit}"
    restart = lab.run_on_host(ssh(lab, f"{edit} && sudo systemctl restart docker"))
    try:
        assert restart.returncode == 0, restart.stderr
        assert "Run 'systemctl daemon-reload' to reload units" in restart.stderr
        assert "lab=reloaded" not in labels(lab)  # the loaded command line, as systemd does
        reload = lab.run_on_host(
            ssh(lab, "sudo systemctl daemon-reload && sudo systemctl restart docker")
        )
        assert (reload.returncode, reload.stderr) == (0, "")
        assert "lab=reloaded" in labels(lab)
    finally:
        back = f"sudo sed -i 's/ --label lab=reloaded//' {unit} && sudo systemctl daemon-reload"
        lab.run_on_host(ssh(lab, f"{back} && sudo systemctl restart docker"))
    assert "lab=reloaded" not in labels(lab)


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_restart_finishes_when_its_ssh_channel_is_gone(vpn_off: Lab) -> None:
    lab = vpn_off
    before = lab.daemon_pid(PROFILE)
    lab.guest_run(PROFILE, ["touch", "/run/lab-hold-stopped"])
    client = subprocess.Popen(
        # -tt: a terminal, whose hangup signals everything in the caller's session.
        [
            "nsenter",
            f"--net={netns_path(HOST_NS)}",
            *ssh(lab, "sudo systemctl restart docker", "-tt"),
        ],
        env=lab.host_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        arrived = ["test", "-e", "/run/lab-at-stopped"]
        wait_for(lambda: lab.guest_run(PROFILE, arrived).returncode == 0)
        client.kill()  # the caller goes away between the stop and the start
        client.wait()
    finally:
        lab.guest_run(PROFILE, ["rm", "-f", "/run/lab-hold-stopped", "/run/lab-at-stopped"])
    wait_for(lambda: lab.daemon_pid(PROFILE) not in (None, before))
    direct = f"tcp://{lab.status()['machines'][PROFILE]['ip']}:2376"
    assert docker(lab, direct, "ps").returncode == 0


def test_stop_and_start_keep_etc_docker_and_the_unit(vpn_off: Lab) -> None:
    lab = vpn_off
    marker = "/etc/docker/lab-kept"
    lab.guest_run(PROFILE, ["touch", marker])
    lab.stop_vm(PROFILE)
    lab.start_vm(PROFILE)
    assert lab.guest_run(PROFILE, ["test", "-e", marker]).returncode == 0
    lab.guest_run(PROFILE, ["rm", marker])
    assert_both_work(lab, f"tcp://{lab.status()['machines'][PROFILE]['ip']}:2376")
    assert os.path.isfile(Path(lab.paths.kubeconfig))


def test_lab_up_minikube_brings_it_up_beside_the_docker_machine_vm(mk: Lab) -> None:
    env = {**os.environ, "DVH_LAB_DIR": str(mk.paths.root)}
    done = subprocess.run(
        [sys.executable, "-m", "lab", "up", "--minikube"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert "  default: running 192.168.99.100" in done.stderr
    assert f"  {PROFILE}: running" in done.stderr


def exported(text: str) -> dict[str, str]:
    """The variables of env.print's bash output."""
    found = {}
    for line in text.splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export ") :].partition("=")
            found[name] = value.strip('"')
    return found


def tool(lab: Lab, *argv: str, env: dict[str, str] | None = None):
    env = {**lab.host_env(), "SHELL": "/bin/bash", **(env or {})}
    return lab.run_on_host([sys.executable, "-m", "docker_vpn_helper", *argv], env=env)


def test_fix_minikube_repairs_docker_and_kubectl_behind_the_vpn_and_restore_undoes_it(
    vpn_off: Lab,
) -> None:
    lab = vpn_off
    direct = f"tcp://{lab.status()['machines'][PROFILE]['ip']}:2376"
    lab.vpn_on("unreachable")
    assert docker(lab, direct, "ps").returncode != 0
    assert kubectl(lab, "get", "nodes").returncode != 0  # ~/.kube/config: the VM's address
    dry = tool(lab, "fix", "--minikube", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would run: VBoxManage controlvm minikube natpf1 apiserver,tcp,127.0.0.1," in dry.stderr
    ours = lab.paths.minikube_home / "machines" / PROFILE / minikube.KUBECONFIG_FILE
    assert not ours.exists()
    try:
        fixed = tool(lab, "fix", "--minikube")
        assert fixed.returncode == 0, fixed.stderr
        env = exported(fixed.stdout)
        assert env["DOCKER_CERT_PATH"] == str(lab.paths.minikube_home / "certs")
        assert env["MINIKUBE_ACTIVE_DOCKERD"] == PROFILE
        assert env["KUBECONFIG"] == f"{ours}:{lab.paths.kubeconfig}"
        assert_both_work(lab, env["DOCKER_HOST"], env["KUBECONFIG"])
        assert exported(tool(lab, "env.print", "--minikube").stdout) == env
        sshd_log = ["cat", "/var/log/sshd.log"]
        before = lab.guest_run(PROFILE, sshd_log).stdout
        again = tool(lab, "fix", "--minikube")
        assert again.returncode == 0 and "already fixed: nothing changed" in again.stderr
        assert lab.guest_run(PROFILE, sshd_log).stdout == before  # healthy: no SSH connection
        doctor = tool(lab, "doctor", "--minikube", env=env)  # in the shell that eval'ed it
        assert doctor.returncode == 0, doctor.stdout
        assert "ok    kubectl in this shell" in doctor.stdout
        elsewhere = tool(lab, "doctor", "--minikube")  # a shell without the environment
        assert elsewhere.returncode == 1
        assert "FAIL  kubectl in this shell" in elsewhere.stdout
        assert "https://127.0.0.1:" in elsewhere.stdout  # our kubeconfig's server
    finally:
        undone = tool(lab, "restore", "--minikube", "--original")
    assert undone.returncode == 0, undone.stderr
    rules = lab.run_on_host(["VBoxManage", "showvminfo", PROFILE, "--machinereadable"]).stdout
    assert "docker,tcp" not in rules and "apiserver,tcp" not in rules
    assert not ours.exists()
    assert docker(lab, env["DOCKER_HOST"], "ps").returncode != 0
    assert kubectl(lab, "get", "nodes", kubeconfig=env["KUBECONFIG"]).returncode != 0


def test_fix_minikube_for_a_profile_whose_server_pem_another_profile_replaced(vpn_off: Lab) -> None:
    """minikube keeps one machines/server.pem: starting a second profile replaces it, and the
    first VM serves its own certificate of the same CA, which docker verifies just as well."""
    lab = vpn_off
    lab.add_machine("mk-second", flavour="minikube")
    try:
        lab.vpn_on("unreachable")
        fixed = tool(lab, "fix", "--minikube")
        assert fixed.returncode == 0, fixed.stderr
        assert "minikube's server.pem is the last provisioned profile's" in fixed.stderr
        env = exported(fixed.stdout)
        assert_both_work(lab, env["DOCKER_HOST"], env["KUBECONFIG"])
        stopped = tool(lab, "fix", "--minikube", "--profile", "mk-second")
        assert stopped.returncode == 0, stopped.stderr  # the last provisioned: its own server.pem
    finally:
        for profile in (PROFILE, "mk-second"):
            tool(lab, "restore", "--minikube", "--profile", profile, "--original")
        lab.vpn_off()
        lab.remove_machine("mk-second")


def test_a_stopped_minikube_vm_is_started_with_vboxmanage_behind_the_vpn(vpn_off: Lab) -> None:
    """`minikube start` would dial the VM's address, which the VPN takes: fix starts the VM
    with VirtualBox itself (its disk keeps /etc/docker, the drop-in and the cluster), after
    adding the forward, and docker and kubectl work through the forwards."""
    lab = vpn_off
    lab.stop_vm(PROFILE)
    try:
        lab.vpn_on("unreachable")
        dry = tool(lab, "fix", "--minikube", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert f"would run: VBoxManage startvm {PROFILE} --type headless" in dry.stderr
        assert lab.status()["machines"][PROFILE]["state"] != "running"
        fixed = tool(lab, "fix", "--minikube")
        assert fixed.returncode == 0, fixed.stderr
        assert "started the VM (it was poweroff)" in fixed.stderr
        env = exported(fixed.stdout)
        assert_both_work(lab, env["DOCKER_HOST"], env["KUBECONFIG"])
        again = tool(lab, "fix", "--minikube")
        assert again.returncode == 0 and "already fixed: nothing changed" in again.stderr
    finally:
        tool(lab, "restore", "--minikube", "--original")
        lab.vpn_off()
        if lab.status()["machines"][PROFILE]["state"] != "running":
            lab.start_vm(PROFILE)


NO_LOOPBACK = "mk-noloop"  # a daemon certificate naming only the VM's address (v0.4)


def guest_daemon_files(lab: Lab, profile: str) -> dict[str, str]:
    """The VM's /etc/docker files, by name."""
    names = ("ca.pem", "server.pem", "server-key.pem")
    return {n: lab.guest_run(profile, ["cat", f"/etc/docker/{n}"]).stdout for n in names}


def test_fix_minikube_deploys_a_certificate_naming_localhost_and_restarts_with_systemctl(
    vpn_off: Lab,
) -> None:
    """A minikube VM whose daemon certificate lacks localhost and 127.0.0.1: fix re-issues it,
    uploads it to the paths docker.service's drop-in names and restarts the daemon with systemd;
    the real docker CLI works through the forward; a second fix changes nothing; restore
    --original puts the VM's previous files back."""
    lab = vpn_off
    lab.add_machine(NO_LOOPBACK, flavour="minikube", cert_profile="v0.4")
    selector = ("--minikube", "--profile", NO_LOOPBACK)
    try:
        before = guest_daemon_files(lab, NO_LOOPBACK)
        lab.vpn_on("unreachable")
        dry = tool(lab, "fix", *selector, "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert "would run in the VM: sudo setsid sh -c 'echo $$ > /var/lib/minikube/" in dry.stderr
        assert "{ systemctl daemon-reload && systemctl restart docker; }" in dry.stderr
        assert guest_daemon_files(lab, NO_LOOPBACK) == before  # a dry run changes nothing
        fixed = tool(lab, "fix", *selector)
        assert fixed.returncode == 0, fixed.stderr
        assert "uploaded the certificate and its key to the VM" in fixed.stderr
        env = exported(fixed.stdout)
        done = docker(lab, env["DOCKER_HOST"], "ps")
        assert done.returncode == 0 and "CONTAINER ID" in done.stdout, done.stderr
        after = guest_daemon_files(lab, NO_LOOPBACK)
        server = lab.paths.minikube_home / "machines" / "server.pem"
        assert after["server.pem"] == server.read_text() != before["server.pem"]
        assert after["ca.pem"] == before["ca.pem"]
        again = tool(lab, "fix", *selector)
        assert again.returncode == 0 and "already fixed: nothing changed" in again.stderr
        assert guest_daemon_files(lab, NO_LOOPBACK) == after
        undone = tool(lab, "restore", *selector, "--original")
        assert undone.returncode == 0, undone.stderr
        assert guest_daemon_files(lab, NO_LOOPBACK) == before
        assert docker(lab, env["DOCKER_HOST"], "ps").returncode != 0  # no forward, old cert
        lab.vpn_off()
        direct = f"tcp://{lab.status()['machines'][NO_LOOPBACK]['ip']}:2376"
        assert docker(lab, direct, "ps").returncode == 0  # the daemon runs its old files again
    finally:
        tool(lab, "restore", *selector, "--original")
        lab.vpn_off()
        lab.remove_machine(NO_LOOPBACK)
