import pytest

from docker_vpn_helper.errors import HelperError
from docker_vpn_helper.session import close_all, session_for
from docker_vpn_helper.stages import cert, daemon, nat, restore, step

from .standins import (
    DOCKER_RULE,
    RUNNING,
    SHOW,
    SSH_RULE,
    FakeGuest,
    cmd,
    commands,
    context,
    ok,
    showvminfo,
)


def snapshot(store, guest):
    folder = store / "machines" / "default"
    local = {
        name: (folder / name).read_bytes()
        for name in ("server.pem", "server-key.pem", "config.json")
    }
    return local, dict(
        (k, v) for k, v in guest.files.items() if not k.startswith("/var/lib/boot2docker/backups")
    )


def fixed(store, guest, monkeypatch):
    monkeypatch.setattr(nat, "port_listener", lambda port: False)
    results = {
        SHOW: ok(showvminfo()),
        cmd("VBoxManage", "list", "vms"): ok(),
        cmd("VBoxManage", "controlvm", "default", "natpf1", DOCKER_RULE): ok(),
    }
    s = session_for(context(results), "default", str(store))
    step(s, nat.STAGE)
    step(s, cert.ISSUE)
    step(s, cert.DEPLOY)
    step(s, daemon.STAGE)
    close_all()


def test_restore_returns_store_and_vm_to_before_the_run(store, guest, dockerd, monkeypatch):
    before = snapshot(store, guest)
    fixed(store, guest, monkeypatch)
    assert snapshot(store, guest) != before
    s = session_for(context(RUNNING), "default", str(store))
    step(s, restore.STAGE)
    assert snapshot(store, guest) == before
    assert guest.log[-2:] == ["restore", "restart"]
    assert guest.served == before[1][FakeGuest.CERT]


def test_restore_is_itself_undoable(store, guest, dockerd, monkeypatch):
    fixed(store, guest, monkeypatch)
    after_fix = snapshot(store, guest)
    undo = session_for(context(RUNNING), "default", str(store))
    step(undo, restore.STAGE)
    close_all()
    step(
        session_for(context(RUNNING), "default", str(store)),
        restore.STAGE,
        backup=undo.journal.stamp,
    )
    assert snapshot(store, guest) == after_fix


def test_restore_removes_the_forward_only_on_request(store, guest, dockerd, monkeypatch):
    fixed(store, guest, monkeypatch)
    delete = cmd("VBoxManage", "controlvm", "default", "natpf1", "delete", "docker")
    c = context({SHOW: ok(showvminfo(rules=(SSH_RULE, DOCKER_RULE))), delete: ok()})
    step(session_for(c, "default", str(store)), restore.STAGE, forward=True)
    assert commands(c) == [SHOW, delete]


def test_restore_dry_run_changes_nothing(store, guest, dockerd, monkeypatch, capsys):
    fixed(store, guest, monkeypatch)
    after = snapshot(store, guest)
    step(session_for(context({}), "default", str(store), dry_run=True), restore.STAGE)
    assert snapshot(store, guest) == after
    assert "would put back" in capsys.readouterr().err


def test_nothing_to_restore(store):
    with pytest.raises(HelperError, match="no backups for 'default'"):
        step(session_for(context({}), "default", str(store)), restore.STAGE)


def test_unknown_backup_lists_the_known_ones(store, guest, dockerd, monkeypatch):
    fixed(store, guest, monkeypatch)
    with pytest.raises(
        HelperError, match=r"no backup '2001' for 'default' \(backups: \d{8}T\d{6}\.\d{6}Z\)"
    ):
        step(session_for(context({}), "default", str(store)), restore.STAGE, backup="2001")
