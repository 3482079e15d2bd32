"""dns.host-names through the stand-ins: host.docker.internal mapped to 10.0.2.2 by extradata,
10.0.2.2 let reach the Mac's loopback on VirtualBox 7, the switch a running VM waits for at its
next start (machine.create), restore --original, doctor, and VirtualBox too old for it.

Simulated: VirtualBox and docker-machine are standins.FakeHost (a VM whose settings file the
commands really change); what the NAT then answers in the VM is the lab's (tests/lab)."""

from __future__ import annotations

import pytest

from docker_vpn_helper import forwarding
from docker_vpn_helper.core import vbox
from docker_vpn_helper.stages import dns, hostnames, machine, step

from ..support.runs import close_all, session_for
from .standins import FakeHost, host_names_mapped, write_settings

IP_KEY, PATTERN_KEY = vbox.mapping_keys("e1000")
SET_IP = ["VBoxManage", "setextradata", "default", IP_KEY, "10.0.2.2"]
SET_PATTERN = [
    "VBoxManage",
    "setextradata",
    "default",
    PATTERN_KEY,
    "host.docker.internal|gateway.docker.internal",
]
LOOPBACK_ON = ["VBoxManage", "modifyvm", "default", "--nat-localhostreachable1", "on"]


@pytest.fixture(autouse=True)
def port_free(monkeypatch):
    monkeypatch.setattr(forwarding, "port_listener", lambda port: False)


def vm(store, state: str, reachable: bool | None, version="7.0.14r161095", resolver=True, **kw):
    """A VM with the host resolver on; `reachable` None: a settings file from before 7.0."""
    host = FakeHost(state=state, version=version, resolver=resolver, localhost_reachable=reachable)
    host.cfg = write_settings(store, resolver, host.rules, kw.get("extradata"), reachable)
    host.extradata = dict(kw.get("extradata") or {})
    return host


def changes(host: FakeHost) -> list[list[str]]:
    reads = ("showvminfo", "--version", "list")
    return [argv for argv in host.argvs if argv[1] not in reads]


def run(host: FakeHost, store, dry_run=False, **options):
    s = session_for(host.context(), "default", str(store), dry_run=dry_run)
    step(s, hostnames.STAGE, **options)
    close_all()
    return s


def test_a_stopped_vm_on_virtualbox_7_gets_the_mapping_and_the_loopback(store, capsys):
    host = vm(store, "poweroff", reachable=False)
    s = run(host, store)
    assert changes(host) == [SET_IP, SET_PATTERN, LOOPBACK_ON]
    assert s.changes() == ["host names"]
    assert host.extradata == host_names_mapped() and host.localhost_reachable is True
    again = run(host, store)
    assert again.changes() == [] and len(changes(host)) == 3
    assert "resolve to 10.0.2.2, the Mac's loopback: nothing to do" in capsys.readouterr().err


def test_a_vm_that_has_everything_asks_virtualbox_nothing_more(store, capsys):
    """A healthy fix asks VirtualBox once (showvminfo): its version only matters for a change."""
    host = vm(store, "running", reachable=True, extradata=host_names_mapped())
    s = run(host, store)
    assert [argv[1] for argv in host.argvs if argv[0] == "VBoxManage"] == ["showvminfo"]
    assert s.changes() == []
    assert "resolve to 10.0.2.2, the Mac's loopback: nothing to do" in capsys.readouterr().err


def test_before_7_0_the_loopback_needs_no_switch(store):
    host = vm(store, "running", reachable=None, version="6.1.50r161033")
    run(host, store)
    assert changes(host) == [SET_IP, SET_PATTERN]  # a running VM takes extradata too


def test_a_running_vm_on_7_gets_the_mapping_now_and_the_loopback_at_its_next_start(store, capsys):
    host = vm(store, "running", reachable=False)
    run(host, store)
    assert changes(host) == [SET_IP, SET_PATTERN]
    assert "take effect at its next start" in capsys.readouterr().err
    host.state = "poweroff"  # stopped since; the next fix starts it
    step(session_for(host.context(), "default", str(store)), machine.STAGE)
    close_all()
    start = ["docker-machine", "--storage-path", str(store), "start", "default"]
    assert changes(host)[-2:] == [LOOPBACK_ON, start]
    assert host.localhost_reachable is True


def test_restart_switches_a_running_vm_now(store):
    host = vm(store, "running", reachable=False, extradata=host_names_mapped())
    run(host, store, restart=True)
    dm = ["docker-machine", "--storage-path", str(store)]
    assert changes(host) == [[*dm, "stop", "default"], LOOPBACK_ON, [*dm, "start", "default"]]


def test_a_dry_run_prints_the_commands_and_changes_nothing(store, capsys):
    host = vm(store, "poweroff", reachable=False)
    run(host, store, dry_run=True)
    err = capsys.readouterr().err
    assert changes(host) == []
    assert f"would run: VBoxManage setextradata default '{IP_KEY}' 10.0.2.2" in err
    assert "would run: VBoxManage modifyvm default --nat-localhostreachable1 on" in err


def test_virtualbox_too_old_for_the_mappings_is_one_line_and_nothing_else(store, capsys):
    host = vm(store, "running", reachable=None, version="4.3.8r92456")
    s = run(host, store)
    assert changes(host) == [] and s.changes() == []
    err = capsys.readouterr().err
    assert "host.docker.internal needs VirtualBox 5.0.0 or later" in err
    assert "this is 4.3.8: not set up" in err


def test_the_mapping_waits_for_the_host_resolver_that_dns_switches_on(store):
    """dns.host-resolver before it in fix: the plan counts the resolver it switches on."""
    host = vm(store, "poweroff", reachable=None, resolver=False)
    s = session_for(host.context(), "default", str(store))
    step(s, dns.STAGE)
    plan = step(s, hostnames.STAGE)
    close_all()
    assert plan.resolver and "host resolver" not in plan.problem
    assert changes(host)[-2:] == [SET_IP, SET_PATTERN]


def test_restore_original_takes_the_mapping_out_and_closes_the_loopback(store, guest, dockerd):
    from docker_vpn_helper.stages import restore

    host = vm(store, "poweroff", reachable=False)
    run(host, store)
    assert host.extradata == host_names_mapped() and host.localhost_reachable is True
    step(session_for(host.context(), "default", str(store)), restore.STAGE, original=True)
    close_all()
    closed = ["VBoxManage", "modifyvm", "default", "--nat-localhostreachable1", "off"]
    removed = [
        ["VBoxManage", "setextradata", "default", key] for key in sorted(host_names_mapped())
    ]
    assert changes(host)[-3:] == [*removed, closed]
    assert host.extradata == {} and host.localhost_reachable is False


def test_doctor_reports_a_missing_mapping_with_its_command(store, guest, dockerd):
    from docker_vpn_helper.stages import doctor

    host = vm(store, "running", reachable=False)
    found = doctor.check_host_names(
        session_for(host.context(), "default", str(store), dry_run=True), doctor.Known()
    )
    assert [(f.status, f.seen) for f in found] == [
        ("warn", "containers cannot resolve host.docker.internal")
    ]
    assert found[0].fix == "docker-vpn-helper dns.host-names --machine default --restart"
