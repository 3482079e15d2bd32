import json

import pytest
from invoke.exceptions import Exit

from docker_vpn_helper.adapters import host
from docker_vpn_helper.session import close_all, session_for
from docker_vpn_helper.stages import cert, daemon, doctor, nat, step
from docker_vpn_helper.tasks.doctor import doctor as doctor_task

from .standins import DOCKER_RULE, SHOW, SSH_RULE, cmd, context, ok, showvminfo

ROUTE = cmd("ip", "route", "get", "192.168.99.100")
VPN_ROUTE = ok("192.168.99.100 dev utun0 src 10.8.0.12 uid 501 \n    cache \n")
VERSION = cmd("VBoxManage", "--version")


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setattr(host, "platform", lambda: "linux")
    monkeypatch.setattr(
        doctor, "_reachable", lambda ip, port: "no answer in 2 s (packets silently dropped)"
    )
    monkeypatch.setattr(doctor, "port_listener", lambda port: True)
    monkeypatch.setattr(nat, "port_listener", lambda port: False)


def results(rules=(SSH_RULE,)):
    return {
        SHOW: ok(showvminfo(rules=rules)),
        cmd("VBoxManage", "list", "vms"): ok(),
        ROUTE: VPN_ROUTE,
        VERSION: ok("6.1.50r161033\n"),
    }


def by_check(findings):
    return {f.check: f for f in findings}


def test_a_broken_machine_behind_the_vpn(store, guest, dockerd):
    found = by_check(
        doctor.diagnose(session_for(context(results()), "default", str(store), dry_run=True))
    )
    assert found["route to the VM"].status == "warn"
    assert "utun0" in found["route to the VM"].seen
    assert (
        found["host-only address"].seen
        == "192.168.99.100:2376 cannot be reached: no answer in 2 s (packets silently dropped)"
    )
    assert found["NAT forward"].status == "fail"
    assert found["NAT forward"].fix == "docker-vpn-helper nat.forward --machine default"
    assert found["server.pem in the store"].status == "fail"
    assert "the old certificate lacks default, 127.0.0.1" in found["server.pem in the store"].seen
    assert found["ServerCertSANs in config.json"].status == "warn"
    assert (
        found["VirtualBox"].seen
        == "VirtualBox 6.1.50: drivers restart with `sudo systemctl restart vboxdrv`"
    )


def test_a_fixed_machine_is_healthy_even_with_the_vpn_on(store, guest, dockerd, monkeypatch):
    s = session_for(context(results()), "default", str(store))
    step(s, cert.ISSUE)
    step(s, cert.DEPLOY)
    step(s, daemon.STAGE)
    close_all()
    d = session_for(context(results((SSH_RULE, DOCKER_RULE))), "default", str(store), dry_run=True)
    found = doctor.diagnose(d)
    assert [f.check for f in found if f.status == "fail"] == []
    assert by_check(found)["daemon through tcp://localhost"].seen.startswith(
        "Docker 20.10.24 answers"
    )


def test_the_task_prints_json_and_exits_1_when_unhealthy(
    store, guest, dockerd, capsys, monkeypatch
):
    from invoke import Config

    c = context(results())
    c._config = Config(overrides={"vpnhelper": {"storage_path": str(store)}})
    with pytest.raises(Exit) as caught:
        doctor_task(c, machine="default", storage_path=str(store), json_=True)
    assert caught.value.code == 1
    report = json.loads(capsys.readouterr().out)
    assert report["healthy"] is False and report["machine"] == "default"
    assert {"check", "status", "seen", "fix"} == set(report["findings"][0])


def test_unknown_machine(store):
    found = doctor.diagnose(session_for(context({}), "nope", str(store), dry_run=True))
    assert [(f.check, f.status) for f in found] == [("machine", "fail")]
