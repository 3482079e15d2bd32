"""The run's one SSH connection: opened early on config.json's port, kept only if it holds."""

from __future__ import annotations

from docker_vpn_helper import stats
from docker_vpn_helper.session import Session, close_all, session_for
from docker_vpn_helper.stages import machine

from .standins import (
    DOCKER_RULE,
    RUNNING,
    SHOW,
    FakeGuest,
    RefusedGuest,
    cmd,
    context,
    ok,
    showvminfo,
)

CONFIG_SSH_PORT = 50157  # the store's SSHPort (standins.SSH_RULE)


def guests_by_port(monkeypatch, refused=()):
    """A distinct FakeGuest per Guest the session opens (ports in `refused` refuse)."""
    opened: list[tuple[int, object]] = []

    def open_guest(self, port, machine):
        guest = RefusedGuest(port) if port in refused else FakeGuest()
        opened.append((port, guest))
        return guest

    monkeypatch.setattr(Session, "_open_guest", open_guest)
    return opened


def test_the_early_connection_is_the_runs_only_one(store, guest):
    stats.counts.clear()
    s = session_for(context(RUNNING), "default", str(store))
    machine.ensure_machine(s)
    assert s.guest() is guest and s.guest() is guest
    close_all()
    assert guest.ports == [CONFIG_SSH_PORT]
    assert guest.connections_opened == 1 and stats.counts["ssh_connections"] == 1


def test_an_early_connection_to_a_stale_ssh_port_is_dropped(store, monkeypatch):
    opened = guests_by_port(monkeypatch)
    live = "ssh,tcp,127.0.0.1,50222,,22"  # VirtualBox moved the forward; config.json is stale
    s = session_for(context({SHOW: ok(showvminfo(rules=(live,)))}), "default", str(store))
    machine.ensure_machine(s)
    used = s.guest()
    assert [port for port, _ in opened] == [CONFIG_SSH_PORT, 50222]
    assert used is opened[1][1]
    stats.counts.clear()
    close_all()
    assert stats.counts["ssh_connections"] == 2  # both were opened: both are counted, and closed


def test_a_stopped_vm_refuses_the_early_connection_and_gets_one_after_its_start(store, monkeypatch):
    opened = guests_by_port(monkeypatch, refused={CONFIG_SSH_PORT})
    start = cmd("docker-machine", "--storage-path", str(store), "start", "default")
    after = ("ssh,tcp,127.0.0.1,50158,,22", DOCKER_RULE)  # docker-machine start moved it
    answers = [
        ok(showvminfo("poweroff", rules=("ssh,tcp,127.0.0.1,50157,,22", DOCKER_RULE))),
        ok(showvminfo(rules=after)),
    ]
    s = session_for(context({SHOW: answers, start: ok()}), "default", str(store))
    machine.ensure_machine(s)
    assert s.guest() is opened[1][1]
    assert [port for port, _ in opened] == [CONFIG_SSH_PORT, 50158]


def test_a_failed_connection_is_retried_by_the_next_stage(store, monkeypatch):
    opened = guests_by_port(monkeypatch, refused={CONFIG_SSH_PORT})
    s = session_for(context(RUNNING), "default", str(store))
    machine.ensure_machine(s)
    try:
        s.guest()
    except Exception as exc:
        assert "refused" in str(exc)
    else:
        raise AssertionError("a refused connection must raise")
    monkeypatch.setattr(Session, "_open_guest", lambda self, port, m: FakeGuest())
    assert isinstance(s.guest(), FakeGuest)
    assert len(opened) == 2  # the early one, and warm_up's second try once the VM ran


def test_the_deploy_stage_gets_the_read_done_right_after_connecting_once(store, guest):
    s = session_for(context(RUNNING), "default", str(store))
    machine.ensure_machine(s)
    s.guest()  # connected: the daemon files were read on the way
    assert guest.log == ["read"]
    assert s.daemon_files().server_cert_pem == guest.files[FakeGuest.CERT]
    assert guest.log == ["read"]
    s.daemon_files()  # later callers read what is there now
    assert guest.log == ["read", "read"]
