from dataclasses import replace

import pytest

from docker_vpn_helper.errors import HelperError
from docker_vpn_helper.stages import cert, daemon, step

from ..support.runs import session_for
from .standins import RUNNING, FakeGuest, context


def fixed_session(store):
    s = session_for(context(RUNNING), "default", str(store))
    step(s, cert.ISSUE)
    step(s, cert.DEPLOY)
    return s


def test_restart_after_deploy_waits_for_the_new_certificate(store, guest, dockerd, capsys):
    s = fixed_session(store)
    step(s, daemon.STAGE)
    assert guest.restarts == 1
    assert "the daemon is back on tcp://localhost:2376 (Docker 20.10.24" in capsys.readouterr().err


def test_no_restart_when_the_daemon_already_serves_the_certificate(store, guest, dockerd):
    step(fixed_session(store), daemon.STAGE)
    from ..support.runs import close_all

    close_all()
    s = session_for(context(RUNNING), "default", str(store))
    step(s, daemon.STAGE)
    assert guest.restarts == 1 and set(s.changes()) == set()


def test_restart_without_deploy_when_the_daemon_serves_an_old_certificate(
    store, guest, dockerd, capsys
):
    s = session_for(context(RUNNING), "default", str(store))
    step(s, cert.ISSUE)
    guest.files[FakeGuest.CERT] = (store / "machines/default/server.pem").read_bytes()  # deployed,
    set(s.changes()).clear()  # by an earlier run that was interrupted before the restart
    step(s, daemon.STAGE)
    assert guest.restarts == 1
    assert (
        "the daemon needs a restart: it still presents the previous certificate"
        in capsys.readouterr().err
    )


def test_rollback_when_the_daemon_refuses_the_new_certificate(store, guest, dockerd):
    old = guest.files[FakeGuest.CERT]
    s = fixed_session(store)
    guest.refuse = guest.files[FakeGuest.CERT]
    s.settings = replace(s.settings, daemon_wait=0.5)
    with pytest.raises(HelperError) as caught:
        step(s, daemon.STAGE)
    assert guest.log == ["read", "install", "restart", "restore", "restart"]
    assert guest.files[FakeGuest.CERT] == old and guest.served == old
    assert (
        "the previous certificate was put back and the daemon restarted (it answers again)"
        in caught.value.message
    )


def test_dry_run_does_not_restart(store, guest, dockerd, capsys):
    s = session_for(context(RUNNING), "default", str(store), dry_run=True)
    step(s, cert.ISSUE)
    step(s, cert.DEPLOY)
    step(s, daemon.STAGE)
    assert guest.restarts == 0
    assert (
        "would run in the VM: sudo setsid sh -c 'echo $$ > /var/lib/boot2docker/docker-vpn-helper/restart.pid; /etc/init.d/docker restart > "
        in capsys.readouterr().err
    )


def failing_restart(guest, *, daemon_comes_up: bool):
    """The init script fails once; after a run interrupted mid-restart, the daemon that run
    started comes up beside it with the deployed certificate. Later restarts work."""
    works = guest.restart_daemon

    def restart(command=None, *, timeout=60.0, flavour=None):
        guest.restart_daemon = works
        guest.restarts += 1
        guest.served = guest.files[FakeGuest.CERT] if daemon_comes_up else None
        raise HelperError(
            "guest command `docker` failed (exit 1): error: dockerd exited during start-up"
        )

    return restart


def test_a_failed_restart_command_counts_for_nothing_when_the_daemon_answers(
    store, guest, dockerd, capsys
):
    s = fixed_session(store)
    guest.restart_daemon = failing_restart(guest, daemon_comes_up=True)
    step(s, daemon.STAGE)
    assert "restore" not in guest.log
    assert "the daemon is back on tcp://localhost:2376" in capsys.readouterr().err


def test_a_failed_restart_command_without_a_daemon_is_rolled_back_with_its_reason(
    store, guest, dockerd, monkeypatch
):
    monkeypatch.setattr(daemon, "FAILED_RESTART_GRACE", 0.2)
    s = fixed_session(store)
    guest.restart_daemon = failing_restart(guest, daemon_comes_up=False)
    with pytest.raises(HelperError, match=r"dockerd exited during start-up.*previous certificate"):
        step(s, daemon.STAGE)
    assert "restore" in guest.log
