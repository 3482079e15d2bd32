"""The engine adapter against the lab's real dockerd, through the fixed path only.

The VPN is on and the daemon rule `docker` forwards 127.0.0.1:2376 on the lab's Mac: the adapter
runs there (nsenter into the host namespace), as ports.sync/ports.watch will. Containers run a
busybox httpd from the lab's image, imported offline (no registry in the lab).
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from docker_vpn_helper.core import ports
from docker_vpn_helper.core.plans.ports import PortsPlan
from docker_vpn_helper.core.plans.ports import plan as plan_ports
from docker_vpn_helper.core.vbox import parse_showvminfo
from lab import Lab
from lab.image import IMAGE, PAGE, http_server
from lab.paths import HOST_NS, netns_path

from .helpers import load_image

pytestmark = pytest.mark.lab

MACHINE = "default"  # the lab's first machine
NAMES = ("web", "multi", "plain", "exposed", "ev")
ASK = """
import json, sys
from pathlib import Path
from docker_vpn_helper.adapters import engine
from docker_vpn_helper.errors import HelperError
folder = Path(sys.argv[1])
files = (folder / "ca.pem", folder / "cert.pem", folder / "key.pem")
try:
    with engine.Engine(int(sys.argv[2]), *files) as client:
        print(json.dumps({"containers": client.containers()}))
except HelperError as exc:
    print(json.dumps({"error": exc.message}))
"""
PLAIN_SDK = """
import sys, docker
folder = sys.argv[1]
tls = docker.tls.TLSConfig(client_cert=(folder + "/cert.pem", folder + "/key.pem"),
                           ca_cert=folder + "/ca.pem", verify=True)
try:
    docker.APIClient("tcp://localhost:2376", tls=tls, version="1.24").containers()
    print("ok")
except Exception as exc:
    print(type(exc).__name__, exc)
"""
FOLLOW = """
import json, sys
from pathlib import Path
from docker_vpn_helper.adapters import engine
from docker_vpn_helper.core import ports
folder = Path(sys.argv[1])
files = (folder / "ca.pem", folder / "cert.pem", folder / "key.pem")
with engine.events(2376, *files, actions=ports.EVENT_ACTIONS) as stream:
    print("open", flush=True)
    for event in stream:
        name = event.get("Actor", {}).get("Attributes", {}).get("name")
        print(json.dumps([event.get("Action"), name]), flush=True)
print("end", flush=True)
"""


def guest(lab: Lab, script: str) -> str:
    done = lab.guest_run(MACHINE, ["sh", "-c", f"cd / && {script}"], timeout=60)
    assert done.returncode == 0, f"{script}: {done.stderr}"
    return done.stdout


def vbox(lab: Lab, *argv: str) -> subprocess.CompletedProcess[str]:
    done = lab.run_on_host(["VBoxManage", *argv])
    assert done.returncode == 0, f"VBoxManage {' '.join(argv)}: {done.stderr}"
    return done


def nat_rules(lab: Lab):
    return parse_showvminfo(vbox(lab, "showvminfo", MACHINE, "--machinereadable").stdout).rules()


def apply(lab: Lab, plan: PortsPlan) -> None:
    """What ports.sync will do with a plan: deletions first, then additions (running VM)."""
    for deletion in plan.delete:
        vbox(lab, "controlvm", MACHINE, "natpf1", "delete", deletion.rule.name)
    for addition in plan.add:
        vbox(lab, "controlvm", MACHINE, "natpf1", addition.rule.spec())


def remove_containers(lab: Lab) -> None:
    lab.guest_run(MACHINE, ["docker", "rm", "-f", *NAMES], timeout=60)


def on_the_mac(lab: Lab, code: str, *args: str, env: dict | None = None) -> str:
    done = lab.run_on_host([sys.executable, "-c", code, *args], env=env or lab.host_env())
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def vpn(fresh: Lab) -> Iterator[Lab]:
    """VPN on; the daemon reachable only through its NAT rule; no container of ours; the image."""
    remove_containers(fresh)
    load_image(fresh, MACHINE)
    vbox(fresh, "controlvm", MACHINE, "natpf1", "docker,tcp,127.0.0.1,2376,,2376")
    fresh.vpn_on("drop")
    try:
        yield fresh
    finally:
        fresh.vpn_off()
        remove_containers(fresh)
        apply(fresh, plan_ports({}, nat_rules(fresh)))  # drops every rule of ours


def certs(lab: Lab) -> str:
    return str(lab.paths.machine_dir(MACHINE))


def run(lab: Lab, *options: str, command: str = " ".join(http_server(8080))) -> None:
    guest(lab, f"docker run -d {' '.join(options)} {IMAGE} {command} >/dev/null")


def test_published_ports_of_real_containers_become_working_rules(vpn: Lab):
    run(vpn, "--name web --restart always -p 8080:8080 -p 127.0.0.1:8081:8080")
    run(vpn, "--name multi -p 8000-8002:8000-8002 -p 5353:5353/udp")
    run(vpn, "--name plain", command="/bin/sleep 600")
    run(vpn, "--name exposed --restart unless-stopped --expose 9999", command="/bin/sleep 600")

    answer = json.loads(on_the_mac(vpn, ASK, certs(vpn), "2376"))
    listed = answer["containers"]
    web = next(c for c in listed if c["Names"] == ["/web"])
    assert {(p["IP"], p.get("PublicPort")) for p in web["Ports"]} >= {
        ("0.0.0.0", 8080),
        ("::", 8080),
        ("127.0.0.1", 8081),
    }
    assert ports.published_ports(listed) == {
        ("tcp", 8000): ("multi",),
        ("tcp", 8001): ("multi",),
        ("tcp", 8002): ("multi",),
        ("tcp", 8080): ("web",),
        ("udp", 5353): ("multi",),
    }
    assert [u.line() for u in ports.unreachable_ports(listed)] == [
        "container web publishes 8081 only on the VM's 127.0.0.1: NAT cannot reach it"
    ]

    # The rules the plan names do the job, and planning again changes nothing.
    plan = plan_ports(ports.published_ports(listed), nat_rules(vpn))
    assert [a.rule.name for a in plan.add] == [
        "dvh-tcp-8000",
        "dvh-tcp-8001",
        "dvh-tcp-8002",
        "dvh-tcp-8080",
        "dvh-udp-5353",
    ]
    apply(vpn, plan)
    page = vpn.run_on_host(["curl", "-sS", "--max-time", "5", "http://127.0.0.1:8080/"])
    assert page.stdout == PAGE, page.stderr
    again = plan_ports(ports.published_ports(listed), nat_rules(vpn))
    assert not again.changes and len(again.keep) == 5

    # A container gone: its rules are ours to delete, nothing else is.
    remove_containers(vpn)
    listed = json.loads(on_the_mac(vpn, ASK, certs(vpn), "2376"))["containers"]
    gone = plan_ports(ports.published_ports(listed), nat_rules(vpn))
    assert len(gone.delete) == 5 and gone.add == ()
    apply(vpn, gone)
    assert sorted(r.name for r in nat_rules(vpn)) == ["docker", "ssh"]


def test_events_follow_containers_and_end_when_the_daemon_restarts(vpn: Lab):
    follower = subprocess.Popen(
        ["nsenter", f"--net={netns_path(HOST_NS)}", sys.executable, "-u", "-c", FOLLOW, certs(vpn)],
        env=vpn.host_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(x.strip()) for x in follower.stdout], daemon=True
    ).start()

    def next_line() -> str:
        try:
            return lines.get(timeout=30)
        except queue.Empty:
            follower.kill()
            pytest.fail(f"no event within 30 s: {follower.stderr.read()}")

    try:
        assert next_line() == "open"
        run(vpn, "--name ev -p 8090:8080")
        assert json.loads(next_line()) == ["start", "ev"]
        guest(vpn, "docker rm -f ev >/dev/null")
        assert json.loads(next_line()) == ["die", "ev"]  # create/destroy filtered out
        guest(vpn, "/etc/init.d/docker restart >/dev/null")
        assert next_line() == "end"  # the daemon closed the stream: it ends, no error
        assert follower.wait(timeout=30) == 0, follower.stderr.read()
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()


def test_ca_bundle_variables_that_break_the_plain_sdk_do_not_break_the_adapter(vpn: Lab):
    env = {**vpn.host_env(), "REQUESTS_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt"}
    env["CURL_CA_BUNDLE"] = env["REQUESTS_CA_BUNDLE"]
    plain = on_the_mac(vpn, PLAIN_SDK, certs(vpn), env=env)
    assert plain.startswith("SSLError") and "unable to get local issuer certificate" in plain
    assert on_the_mac(vpn, PLAIN_SDK, certs(vpn)) == "ok\n"  # the same without the variables
    answer = json.loads(on_the_mac(vpn, ASK, certs(vpn), "2376", env=env))
    assert "error" not in answer


def test_without_the_daemon_rule_the_error_is_one_line(vpn: Lab):
    vbox(vpn, "controlvm", MACHINE, "natpf1", "delete", "docker")
    answer = json.loads(on_the_mac(vpn, ASK, certs(vpn), "2376"))
    assert answer == {
        "error": "docker-vpn-helper: cannot ask the Docker daemon at tcp://localhost:2376 "
        "for its containers: Connection refused"
    }
