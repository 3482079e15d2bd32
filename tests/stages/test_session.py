"""The run's view of the machine and its one SSH connection, opened only when the VM is needed."""

from __future__ import annotations

import pytest

from docker_vpn_helper import forwarding
from docker_vpn_helper.link import GuestLink
from docker_vpn_helper.stages import cert, daemon, dns, machine, nat, ports, step

from ..support.runs import close_all, session_for
from .standins import (
    DOCKER_RULE,
    RUNNING,
    SHOW,
    SSH_RULE,
    FakeGuest,
    RefusedGuest,
    cmd,
    commands,
    context,
    ok,
    showvminfo,
)

CONFIG_SSH_PORT = 50157  # the store's SSHPort (standins.SSH_RULE)
FORWARDED = {SHOW: ok(showvminfo(rules=(SSH_RULE, DOCKER_RULE)))}


def guests_by_port(monkeypatch, refused=()):
    """A distinct FakeGuest per Guest the link opens (ports in `refused` refuse)."""
    opened: list[tuple[int, object]] = []

    def open_guest(self, port, machine):
        guest = RefusedGuest(port) if port in refused else FakeGuest()
        opened.append((port, guest))
        return guest

    monkeypatch.setattr(GuestLink, "_open_guest", open_guest)
    return opened


def fix(s):
    for stage in (
        machine.STAGE,
        nat.STAGE,
        cert.ISSUE,
        cert.DEPLOY,
        daemon.STAGE,
        ports.STAGE,
        dns.STAGE,
    ):
        step(s, stage)


def test_a_healthy_machine_is_proven_without_ssh(store, guest, dockerd):
    fix(session_for(context(FORWARDED), "default", str(store)))  # docker-machine's cert: replaced
    close_all()
    assert guest.connections_opened == 1
    c = context(FORWARDED)
    s = session_for(c, "default", str(store))
    fix(s)
    close_all()
    assert guest.connections_opened == 1 and s.changes() == []  # no new SSH connection
    assert commands(c) == [SHOW]  # one VirtualBox query


def test_a_broken_machine_gets_one_connection_for_every_stage(store, guest, dockerd, monkeypatch):
    monkeypatch.setattr(forwarding, "port_listener", lambda port: False)
    add = cmd("VBoxManage", "controlvm", "default", "natpf1", DOCKER_RULE)
    c = context({**RUNNING, cmd("VBoxManage", "list", "vms"): ok(), add: ok()})
    s = session_for(c, "default", str(store))
    fix(s)
    close_all()
    assert commands(c).count(SHOW) == 1  # config.json's rewrite does not make VirtualBox ask again
    assert guest.ports == [CONFIG_SSH_PORT] and guest.connections_opened == 1
    assert guest.log == ["read", "install", "restart"]


def test_the_live_ssh_rule_wins_over_a_stale_config(store, monkeypatch):
    opened = guests_by_port(monkeypatch)
    live = "ssh,tcp,127.0.0.1,50222,,22"  # VirtualBox moved the forward; config.json is stale
    s = session_for(context({SHOW: ok(showvminfo(rules=(live,)))}), "default", str(store))
    assert s.guest() is opened[0][1]
    assert [port for port, _ in opened] == [50222]


def test_a_stopped_vm_gets_its_connection_on_the_port_it_starts_with(store, monkeypatch):
    opened = guests_by_port(monkeypatch)
    start = cmd("docker-machine", "--storage-path", str(store), "start", "default")
    after = ("ssh,tcp,127.0.0.1,50158,,22", DOCKER_RULE)  # docker-machine start moved it
    answers = [
        ok(showvminfo("poweroff", rules=("ssh,tcp,127.0.0.1,50157,,22", DOCKER_RULE))),
        ok(showvminfo(rules=after)),
    ]
    s = session_for(context({SHOW: answers, start: ok()}), "default", str(store))
    step(s, machine.STAGE)
    assert s.guest() is opened[0][1]
    assert [port for port, _ in opened] == [50158]


def test_a_failed_connection_is_retried_by_the_next_caller(store, monkeypatch):
    opened = guests_by_port(monkeypatch, refused={CONFIG_SSH_PORT})
    s = session_for(context(RUNNING), "default", str(store))
    try:
        s.guest()
    except Exception as exc:
        assert "refused" in str(exc)
    else:
        raise AssertionError("a refused connection must raise")
    monkeypatch.setattr(GuestLink, "_open_guest", lambda self, port, m: FakeGuest())
    assert isinstance(s.guest(), FakeGuest)
    assert len(opened) == 1  # the refused one; the second came from the new seam


def test_a_dry_run_of_a_stopped_vm_plans_every_stage_and_opens_nothing(store, monkeypatch, capsys):
    opened = guests_by_port(monkeypatch)
    monkeypatch.setattr(forwarding, "port_listener", lambda port: False)
    c = context({SHOW: ok(showvminfo("poweroff")), cmd("VBoxManage", "list", "vms"): ok()})
    s = session_for(c, "default", str(store), dry_run=True)
    fix(s)
    err = capsys.readouterr().err
    assert opened == []
    assert "would run: VBoxManage modifyvm default --natpf1 docker,tcp,127.0.0.1,2376,,2376" in err
    assert f"would run: docker-machine --storage-path {store} start default" in err
    assert "would issue a new server certificate" in err
    assert (
        "would run in the VM: sudo setsid sh -c 'echo $$ > /var/lib/boot2docker/docker-vpn-helper/restart.pid; /etc/init.d/docker restart > "
        in err
    )
    assert s.changes() == ["cert", "config", "daemon", "deploy", "machine", "nat"]


def test_a_dry_run_of_a_broken_running_vm_plans_every_stage_without_asking_the_daemon(
    store, guest, dockerd, monkeypatch, capsys
):
    monkeypatch.setattr(forwarding, "port_listener", lambda port: False)
    monkeypatch.setattr(ports, "containers", lambda s: pytest.fail("no forward yet: not asked"))
    c = context({SHOW: ok(showvminfo()), cmd("VBoxManage", "list", "vms"): ok()})
    s = session_for(c, "default", str(store), dry_run=True)
    fix(s)
    err = capsys.readouterr().err
    assert "the published ports are synced once the daemon answers through the forward" in err
    assert s.changes() == ["cert", "config", "daemon", "deploy", "nat"]
    assert guest.log == ["read"]  # the VM's files were read, nothing written


def test_later_stages_read_earlier_plans_through_typed_accessors(
    store, guest, dockerd, monkeypatch
):
    from docker_vpn_helper.core.plans.machine import MachineAction, MachinePlan
    from docker_vpn_helper.core.plans.nat import ForwardPlan

    monkeypatch.setattr(forwarding, "port_listener", lambda port: False)
    c = context({SHOW: ok(showvminfo("poweroff")), cmd("VBoxManage", "list", "vms"): ok()})
    s = session_for(c, "default", str(store), dry_run=True)
    assert s.machine_plan() is None and s.forward_plan() is None and not s.projected
    step(s, machine.STAGE)
    assert isinstance(s.machine_plan(), MachinePlan) and s.forward_plan() is None
    assert s.machine_plan().action is MachineAction.START and s.projected and not s.creates()
    step(s, nat.STAGE)
    assert isinstance(s.forward_plan(), ForwardPlan) and s.port == s.forward_plan().port
    assert s.issue_plan() is None and s.deploy_plan() is None and s.restart_plan() is None


def test_execute_runs_a_command_with_the_adapter_that_built_it_and_fails_in_one_line(store):
    from docker_vpn_helper.core.commands import Command
    from docker_vpn_helper.errors import HelperError

    from .standins import fail

    route = Command(("ip", "route", "replace", "192.168.99.0/24"), "sudo", "route add")
    docker = Command(("docker", "context", "rm", "x"), what="docker context rm x")
    c = context({"sudo -n true": ok(), f"sudo -n {route.shell()}": fail("RTNETLINK: denied"),
                 docker.shell(): fail("context x not found")})  # fmt: skip
    s = session_for(c, "default", str(store))
    with pytest.raises(HelperError, match=r"^route add failed: RTNETLINK: denied$"):
        s.execute(route)
    with pytest.raises(HelperError, match=r"^docker context rm x failed: context x not found$"):
        s.execute(docker)
    assert commands(c) == ["sudo -n true", f"sudo -n {route.shell()}", docker.shell()]
