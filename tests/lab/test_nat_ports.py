"""The lab's VirtualBox for published container ports (issue 15): every NAT rule, TCP or UDP, is a
real forward into the guest's eth0 while the VM runs; the lab's dockerd publishes ports as
boot2docker's does; the NAT engine's DNS settings behave as VirtualBox's."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest

from lab import Lab
from lab.image import IMAGE, PAGE, http_server, udp_echo

from .helpers import load_image, port_held, udp_port_held

pytestmark = pytest.mark.lab

MACHINE = "default"  # the lab's first machine
CONTAINERS = ("np-web", "np-echo")


def vbox(lab: Lab, *args: str) -> subprocess.CompletedProcess[str]:
    return lab.run_on_host(["VBoxManage", *args], timeout=60)


def must(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, f"{' '.join(done.args)}: {done.stderr}"
    return done


def forwarding(lab: Lab) -> list[str]:
    info = must(vbox(lab, "showvminfo", MACHINE, "--machinereadable")).stdout
    return [line for line in info.splitlines() if line.startswith("Forwarding(")]


def curl(lab: Lab, url: str, seconds: int = 3) -> subprocess.CompletedProcess[str]:
    """curl on the lab's Mac."""
    return lab.run_on_host(["curl", "-sS", "--max-time", str(seconds), url], timeout=seconds + 10)


def curl_in_guest(lab: Lab, url: str) -> subprocess.CompletedProcess[str]:
    return lab.guest_run(MACHINE, ["curl", "-sS", "--max-time", "3", url], timeout=15)


def run(lab: Lab, name: str, *options: str, command: list[str]) -> None:
    """`docker run -d --init`: busybox httpd as PID 1 ignores SIGTERM (10 s to stop without)."""
    argv = ["docker", "run", "-d", "--init", "--name", name, *options, IMAGE, *command]
    must(lab.guest_run(MACHINE, argv))


@pytest.fixture
def ports(fresh: Lab) -> Iterator[Lab]:
    """Machine `lab` running with the image, none of our containers, only its `ssh` rule."""
    load_image(fresh, MACHINE)
    _clean(fresh)
    yield fresh
    _clean(fresh)


def _clean(lab: Lab) -> None:
    if lab.status()["machines"][MACHINE]["state"] != "running":
        lab.start_vm(MACHINE)
    lab.guest_run(MACHINE, ["docker", "rm", "-f", *CONTAINERS], timeout=60)
    for rule in lab.status()["machines"][MACHINE]["rules"]:
        name = rule.split(",", 1)[0]
        if name != "ssh":
            must(vbox(lab, "controlvm", MACHINE, "natpf1", "delete", name))


def eventually(check: Callable[[], bool], seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_the_daemon_publishes_like_boot2docker(ports: Lab) -> None:
    # Bridge networking with docker-proxy: `-p 8080:8080` on every address of the VM,
    # `-p 127.0.0.1:8081:8080` on its loopback only.
    run(ports, "np-web", "-p", "18080:8080", "-p", "127.0.0.1:18081:8080", command=http_server())
    assert "bridge" in must(ports.guest_run(MACHINE, ["docker", "network", "ls"])).stdout
    for address in ("10.0.2.15", "192.168.99.100", "127.0.0.1"):
        assert curl_in_guest(ports, f"http://{address}:18080/").stdout == PAGE, address
    assert curl_in_guest(ports, "http://127.0.0.1:18081/").stdout == PAGE
    assert curl_in_guest(ports, "http://10.0.2.15:18081/").returncode != 0
    # Without the VPN the Mac reaches the published port on the host-only network.
    assert curl(ports, "http://192.168.99.100:18080/").stdout == PAGE


def test_a_published_port_answers_through_a_rule_and_a_loopback_one_does_not(ports: Lab) -> None:
    run(ports, "np-web", "-p", "18080:8080", "-p", "127.0.0.1:18081:8080", command=http_server())
    ports.vpn_on("drop")
    must(vbox(ports, "controlvm", MACHINE, "natpf1", "np-web,tcp,127.0.0.1,18080,,18080"))
    assert curl(ports, "http://127.0.0.1:18080/").stdout == PAGE
    # VirtualBox's NAT delivers to the guest's eth0 (10.0.2.15): a port the VM publishes only on
    # its own 127.0.0.1 is unreachable through a rule, even one naming 127.0.0.1 as guest IP.
    must(vbox(ports, "controlvm", MACHINE, "natpf1", "np-lo,tcp,127.0.0.1,18081,,18081"))
    must(vbox(ports, "controlvm", MACHINE, "natpf1", "np-lo2,tcp,127.0.0.1,18082,127.0.0.1,18081"))
    for port in (18081, 18082):
        refused = curl(ports, f"http://127.0.0.1:{port}/")
        assert refused.returncode != 0 and refused.stdout == "", port
    assert curl_in_guest(ports, "http://127.0.0.1:18081/").stdout == PAGE  # it does serve


def test_a_udp_rule_forwards_datagrams_both_ways(ports: Lab) -> None:
    run(ports, "np-echo", "-p", "15353:5353/udp", command=udp_echo(5353))
    ports.vpn_on("drop")
    assert ports.udp_exchange(15353, timeout=0.5) is None  # no rule yet
    must(vbox(ports, "controlvm", MACHINE, "natpf1", "np-echo,udp,127.0.0.1,15353,,15353"))
    assert 'Forwarding(0)="np-echo,udp,127.0.0.1,15353,,15353"' in forwarding(ports)
    assert ports.udp_exchange(15353, b"first") == b"first"
    assert ports.udp_exchange(15353, b"second") == b"second"  # a new peer (port): new session
    # A TCP rule on the same host port is another forward; nothing listens on TCP in the guest.
    must(vbox(ports, "controlvm", MACHINE, "natpf1", "np-echo-tcp,tcp,127.0.0.1,15353,,15353"))
    assert curl(ports, "http://127.0.0.1:15353/").returncode != 0
    assert ports.udp_exchange(15353, b"third") == b"third"


def test_a_duplicate_rule_name_is_refused_whatever_the_protocol(ports: Lab) -> None:
    must(vbox(ports, "controlvm", MACHINE, "natpf1", "np-dup,tcp,127.0.0.1,18090,,8080"))
    for rule in ("np-dup,tcp,127.0.0.1,18091,,8080", "np-dup,udp,127.0.0.1,18090,,8080"):
        again = vbox(ports, "controlvm", MACHINE, "natpf1", rule)
        assert again.returncode == 1
        assert again.stderr.startswith("VBoxManage: error: A NAT rule of this name already exists")
    assert [line.split('"')[1] for line in forwarding(ports)] == [
        "np-dup,tcp,127.0.0.1,18090,,8080",
        f"ssh,tcp,127.0.0.1,{ports.status()['machines'][MACHINE]['ssh_port']},,22",
    ]


def test_a_rule_on_a_taken_host_port_is_saved_but_silent(ports: Lab) -> None:
    run(ports, "np-web", "-p", "18080:8080", command=http_server())
    run(ports, "np-echo", "-p", "15353:5353/udp", command=udp_echo(5353))
    with port_held(18080), udp_port_held(15353) as udp_holder:
        for rule in ("np-web,tcp,127.0.0.1,18080,,18080", "np-echo,udp,127.0.0.1,15353,,15353"):
            assert vbox(ports, "controlvm", MACHINE, "natpf1", rule).returncode == 0  # no error
            assert rule in ports.status()["machines"][MACHINE]["rules"]
        # The holders get the traffic; the container never answers.
        assert curl(ports, "http://127.0.0.1:18080/", seconds=2).returncode == 28  # timeout
        assert ports.udp_exchange(15353, b"to-the-holder", timeout=0.5) is None
        assert udp_holder.stdout.readline().strip() == "to-the-holder"  # type: ignore[union-attr]
    # VirtualBox binds a rule's port once, when the rule is added (or the VM starts): freeing
    # the port later does not bring the forward to life.
    assert curl(ports, "http://127.0.0.1:18080/").returncode == 7  # refused
    assert ports.udp_exchange(15353, timeout=0.5) is None


def test_deleting_a_rule_stops_its_forward_running_or_stopped(ports: Lab) -> None:
    run(ports, "np-web", "--restart", "always", "-p", "18080:8080", command=http_server())
    run(ports, "np-echo", "--restart", "always", "-p", "15353:5353/udp", command=udp_echo(5353))
    must(vbox(ports, "controlvm", MACHINE, "natpf1", "np-web,tcp,127.0.0.1,18080,,18080"))
    must(vbox(ports, "controlvm", MACHINE, "natpf1", "np-echo,udp,127.0.0.1,15353,,15353"))
    assert curl(ports, "http://127.0.0.1:18080/").stdout == PAGE
    assert ports.udp_exchange(15353) == b"ping"
    must(vbox(ports, "controlvm", MACHINE, "natpf1", "delete", "np-web"))
    must(vbox(ports, "controlvm", MACHINE, "natpf1", "delete", "np-echo"))
    assert curl(ports, "http://127.0.0.1:18080/").returncode == 7
    assert ports.udp_exchange(15353, timeout=0.5) is None
    gone = vbox(ports, "controlvm", MACHINE, "natpf1", "delete", "np-web")
    assert gone.returncode == 1 and "NS_ERROR_INVALID_ARG" in gone.stderr
    # On a stopped VM: modifyvm deletes it from the settings; it does not come back at start.
    must(vbox(ports, "controlvm", MACHINE, "natpf1", "np-web,tcp,127.0.0.1,18080,,18080"))
    ports.stop_vm(MACHINE)
    must(vbox(ports, "modifyvm", MACHINE, "--natpf1", "delete", "np-web"))
    ports.start_vm(MACHINE)
    assert not any("np-web" in line for line in forwarding(ports))
    assert curl(ports, "http://127.0.0.1:18080/").returncode == 7


def test_rules_and_their_forwards_come_back_after_a_stop_and_start(ports: Lab) -> None:
    run(ports, "np-web", "--restart", "always", "-p", "18080:8080", command=http_server())
    run(ports, "np-echo", "--restart", "always", "-p", "15353:5353/udp", command=udp_echo(5353))
    must(vbox(ports, "controlvm", MACHINE, "natpf1", "np-web,tcp,127.0.0.1,18080,,18080"))
    must(vbox(ports, "controlvm", MACHINE, "natpf1", "np-echo,udp,127.0.0.1,15353,,15353"))
    stopped = ports.run_on_host(["docker-machine", "stop", MACHINE], timeout=120)
    assert stopped.returncode == 0, stopped.stderr
    assert curl(ports, "http://127.0.0.1:18080/").returncode == 7  # a stopped VM forwards nothing
    assert ports.udp_exchange(15353, timeout=0.5) is None
    started = ports.run_on_host(["docker-machine", "start", MACHINE], timeout=120)
    assert started.returncode == 0, started.stderr
    ports.vpn_on("drop")
    rules = ports.status()["machines"][MACHINE]["rules"]
    assert {"np-web,tcp,127.0.0.1,18080,,18080", "np-echo,udp,127.0.0.1,15353,,15353"} <= set(rules)
    # dockerd brings the restart=always containers back (a moment after boot); the forwards
    # are there again.
    assert eventually(lambda: curl(ports, "http://127.0.0.1:18080/").stdout == PAGE)
    assert eventually(lambda: ports.udp_exchange(15353, timeout=0.5) == b"ping")


def test_the_dns_host_resolver_changes_only_on_a_stopped_vm_and_persists(ports: Lab) -> None:
    cfg = ports.paths.machine_dir(MACHINE) / MACHINE / f"{MACHINE}.vbox"
    info = must(vbox(ports, "showvminfo", MACHINE, "--machinereadable")).stdout
    assert f'CfgFile="{cfg}"' in info.splitlines()
    # As VirtualBox (VBoxManageInfo.cpp: "@todo dnsproxy etc needs to be dumped"): the settings
    # file shows the DNS settings, showvminfo does not.
    assert "natdns" not in info
    assert '<DNS use-proxy="true"/>' in cfg.read_text()  # docker-machine's defaults
    assert ports.status()["machines"][MACHINE]["nat_dns"] == {"proxy": True, "host_resolver": False}
    refused = vbox(ports, "modifyvm", MACHINE, "--natdnshostresolver1", "on")
    assert refused.returncode == 1
    assert refused.stderr.startswith(
        f"VBoxManage: error: The machine '{MACHINE}' is already locked for a session "
        "(or being unlocked)\n"
    )
    assert "use-host-resolver" not in cfg.read_text()
    bad = vbox(ports, "modifyvm", MACHINE, "--natdnshostresolver1", "yes")
    assert bad.returncode == 1  # locked first, whatever the value
    ports.stop_vm(MACHINE)
    bad = vbox(ports, "modifyvm", MACHINE, "--natdnshostresolver1", "yes")
    assert bad.returncode == 2 and bad.stderr.startswith("Syntax error:")
    try:
        must(vbox(ports, "modifyvm", MACHINE, "--natdnshostresolver1", "on"))
        assert '<DNS use-proxy="true" use-host-resolver="true"/>' in cfg.read_text()
        ports.start_vm(MACHINE)
        assert ports.status()["machines"][MACHINE]["nat_dns"]["host_resolver"] is True
        assert 'use-host-resolver="true"' in cfg.read_text()
    finally:
        ports.stop_vm(MACHINE)
        must(vbox(ports, "modifyvm", MACHINE, "--natdnshostresolver1", "off"))
        ports.start_vm(MACHINE)
    assert "use-host-resolver" not in cfg.read_text()


def test_docker_machine_create_records_the_host_dns_resolver(fresh: Lab) -> None:
    try:
        made = fresh.run_on_host(
            [
                "docker-machine",
                "create",
                "-d",
                "virtualbox",
                "--virtualbox-host-dns-resolver",
                "dns",
            ],
            timeout=120,
        )
        assert made.returncode == 0, made.stderr
        config = json.loads((fresh.paths.machine_dir("dns") / "config.json").read_text())
        assert config["Driver"]["HostDNSResolver"] is True
        assert config["Driver"]["DNSProxy"] is True
        assert fresh.status()["machines"]["dns"]["nat_dns"] == {
            "proxy": True,
            "host_resolver": True,
        }
        vbox_file = fresh.paths.machine_dir("dns") / "dns" / "dns.vbox"
        assert '<DNS use-proxy="true" use-host-resolver="true"/>' in vbox_file.read_text()
    finally:
        fresh.remove_machine("dns")
