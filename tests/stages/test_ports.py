"""ports.sync through the stand-ins: VirtualBox's answers (MockContext) and the daemon's list."""

from __future__ import annotations

import pytest

from docker_vpn_helper.stages import daemon, machine, ports, step

from ..support.runs import close_all, session_for
from .standins import DOCKER_RULE, SHOW, SSH_RULE, cmd, commands, context, ok, showvminfo

LIST = cmd("VBoxManage", "list", "vms")
WEB_RULE = "dvh-tcp-8080,tcp,127.0.0.1,8080,,8080"
DNS_RULE = "dvh-udp-5353,udp,127.0.0.1,5353,,5353"


def container(name, *bindings, policy=""):
    return {
        "Id": name * 8,
        "Names": [f"/{name}"],
        "Ports": [
            {"IP": ip, "PrivatePort": private, "PublicPort": public, "Type": proto}
            for ip, private, public, proto in bindings
        ],
    }


WEB = container("web", ("0.0.0.0", 80, 8080, "tcp"), ("::", 80, 8080, "tcp"))
DNS = container("dns", ("0.0.0.0", 53, 5353, "udp"))
LOCAL = container("admin", ("127.0.0.1", 80, 9000, "tcp"))


def controlvm(*words):
    return cmd("VBoxManage", "controlvm", "default", "natpf1", *words)


@pytest.fixture
def host_ports(monkeypatch):
    """Which host ports are held: before our rule, nobody; once VirtualBox added it, the rule."""
    taken: dict[tuple[str, int], bool] = {}
    monkeypatch.setattr(ports, "port_taken", lambda proto, port: taken.get((proto, port), False))
    return taken


def sync(store, answers, dry_run=False):
    c = context(answers)
    s = session_for(c, "default", str(store), dry_run=dry_run)
    step(s, ports.STAGE)
    close_all()
    return c, s


def test_published_ports_get_a_rule_each_and_a_second_sync_changes_nothing(
    store, dockerd, host_ports, capsys, monkeypatch
):
    dockerd.containers = [WEB, DNS, LOCAL]
    monkeypatch.setattr(ports, "listening", lambda rule: True)
    answers = {
        SHOW: ok(showvminfo(rules=(SSH_RULE, DOCKER_RULE))),
        LIST: ok(),
        controlvm(WEB_RULE): ok(),
        controlvm(DNS_RULE): ok(),
    }
    c, s = sync(store, answers)
    assert commands(c)[-2:] == [controlvm(WEB_RULE), controlvm(DNS_RULE)]
    assert s.changes() == ["ports"]
    err = capsys.readouterr().err
    assert f"added NAT rule {WEB_RULE!r} for web" in err
    assert "admin publishes 9000 only on the VM's 127.0.0.1: NAT cannot reach it" in err
    after = {SHOW: ok(showvminfo(rules=(SSH_RULE, DOCKER_RULE, WEB_RULE, DNS_RULE)))}
    c, s = sync(store, after)
    assert commands(c) == [SHOW] and s.changes() == []
    assert "published ports forwarded: 8080, 5353/udp: nothing to do" in capsys.readouterr().err


def test_a_rule_no_container_publishes_any_more_is_deleted_and_others_are_left(
    store, dockerd, host_ports
):
    user_rule = "web,tcp,127.0.0.1,3000,,3000"  # the user's own: never touched
    answers = {
        SHOW: ok(showvminfo(rules=(SSH_RULE, DOCKER_RULE, WEB_RULE, user_rule))),
        controlvm("delete", "dvh-tcp-8080"): ok(),
    }
    c, _ = sync(store, answers)
    assert commands(c) == [SHOW, controlvm("delete", "dvh-tcp-8080")]


def test_a_port_held_on_the_host_is_skipped_naming_holder_and_container(
    store, dockerd, host_ports, capsys
):
    dockerd.containers = [WEB]
    host_ports["tcp", 8080] = True
    c, s = sync(store, {SHOW: ok(showvminfo(rules=(SSH_RULE, DOCKER_RULE))), LIST: ok()})
    assert commands(c) == [SHOW, LIST] and s.changes() == []
    assert (
        "skipping 8080 of container web: 127.0.0.1:8080 is held by another program (see `lsof -nP -iTCP:8080 -sTCP:LISTEN`)"
        in capsys.readouterr().err
    )


def test_a_rule_virtualbox_accepts_but_cannot_listen_on_is_removed_with_a_warning(
    store, dockerd, host_ports, capsys, monkeypatch
):
    dockerd.containers = [WEB]
    monkeypatch.setattr(ports, "LISTEN_WAIT", 0.1)
    answers = {
        SHOW: ok(showvminfo(rules=(SSH_RULE, DOCKER_RULE))),
        LIST: ok(),
        controlvm(WEB_RULE): ok(),
        controlvm("delete", "dvh-tcp-8080"): ok(),
    }
    c, _ = sync(store, answers)
    assert commands(c)[-2:] == [controlvm(WEB_RULE), controlvm("delete", "dvh-tcp-8080")]
    assert "VirtualBox could not listen on 127.0.0.1:8080" in capsys.readouterr().err


def test_dry_run_lists_what_it_would_add_and_delete(store, dockerd, host_ports, capsys):
    dockerd.containers = [WEB]
    stale = "dvh-tcp-9999,tcp,127.0.0.1,9999,,9999"
    c, _ = sync(
        store, {SHOW: ok(showvminfo(rules=(SSH_RULE, DOCKER_RULE, stale))), LIST: ok()}, True
    )
    assert commands(c) == [SHOW, LIST]
    err = capsys.readouterr().err
    assert "would run: VBoxManage controlvm default natpf1 delete dvh-tcp-9999  # delete NAT" in err
    assert (
        "would run: VBoxManage controlvm default natpf1 dvh-tcp-8080,tcp,127.0.0.1,8080,,8080  # "
        "add NAT rule dvh-tcp-8080: 127.0.0.1:8080 -> the VM's 8080, for container web" in err
    )


def test_a_stopped_vm_loses_our_container_rules_before_it_starts(store, monkeypatch):
    start = cmd("docker-machine", "--storage-path", str(store), "start", "default")
    delete = cmd("VBoxManage", "modifyvm", "default", "--natpf1", "delete", "dvh-tcp-8080")
    stopped = ok(showvminfo("poweroff", rules=(SSH_RULE, DOCKER_RULE, WEB_RULE)))
    c = context(
        {SHOW: [stopped, ok(showvminfo(rules=(SSH_RULE, DOCKER_RULE)))], delete: ok(), start: ok()}
    )
    step(session_for(c, "default", str(store)), machine.STAGE)
    assert commands(c) == [SHOW, delete, start, SHOW]


def test_fix_warns_of_the_containers_a_restart_stops_and_waits_for_those_it_brings_back(
    store, guest, dockerd, host_ports, capsys, monkeypatch
):
    guest.served = None  # the daemon does not answer: it needs a restart
    guest.policies = {"web": "always", "job": "no", "batch": ""}
    listed = iter([[], [WEB]])  # right after the restart web is not back yet; then it is
    monkeypatch.setattr(ports, "containers", lambda s: next(listed))
    monkeypatch.setattr(ports, "POLL", 0)
    monkeypatch.setattr(ports, "listening", lambda rule: True)
    answers = {
        SHOW: ok(showvminfo(rules=(SSH_RULE, DOCKER_RULE))),
        LIST: ok(),
        controlvm(WEB_RULE): ok(),
    }
    s = session_for(context(answers), "default", str(store))
    step(s, daemon.STAGE)
    step(s, ports.STAGE)
    err = capsys.readouterr().err
    assert (
        "restarting the daemon stops 2 running containers without a restart policy (batch, job)"
        in err
    )
    assert f"added NAT rule {WEB_RULE!r} for web" in err
