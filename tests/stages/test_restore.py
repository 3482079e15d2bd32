import json
import re

import pytest

from docker_vpn_helper import forwarding
from docker_vpn_helper.errors import HelperError
from docker_vpn_helper.stages import cert, daemon, nat, restore, step
from docker_vpn_helper.stages.cert import OPENSSL_CONFIG

from ..support.runs import close_all, session_for
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
    write_settings,
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


def as_json(snap):
    """A snapshot with config.json parsed (written back with a final newline, as
    docker-machine writes it, where the fixture's copy has none)."""
    local, vm = snap
    return {**local, "config.json": json.loads(local["config.json"])}, vm


def fixed(store, guest, monkeypatch):
    monkeypatch.setattr(forwarding, "port_listener", lambda port: False)
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


# -- a history, walking back, and docker-machine's original (issue 17, item 5) ----------------


def refixed(store, guest, monkeypatch):
    """A second run: a new certificate (cert.issue --force), deployed, the daemon restarted."""
    s = session_for(context(RUNNING), "default", str(store))
    step(s, cert.ISSUE, force=True)
    step(s, cert.DEPLOY)
    step(s, daemon.STAGE)
    close_all()


def restored(store, results=RUNNING, **options):
    s = session_for(context(results), "default", str(store))
    plan = step(s, restore.STAGE, **options)
    close_all()
    return plan


def test_repeated_restores_walk_back_instead_of_toggling(store, guest, dockerd, monkeypatch):
    original = snapshot(store, guest)
    fixed(store, guest, monkeypatch)
    first = snapshot(store, guest)
    refixed(store, guest, monkeypatch)
    assert snapshot(store, guest) != first
    restored(store)
    assert snapshot(store, guest) == first  # the second run undone
    restored(store)
    assert snapshot(store, guest) == original  # then the first, not the restore
    with pytest.raises(HelperError, match="nothing left to undo on 'default'"):
        restored(store)
    assert guest.served == original[1][FakeGuest.CERT]


def test_restore_forward_after_a_plain_restore_still_removes_the_rule(
    store, guest, dockerd, monkeypatch
):
    fixed(store, guest, monkeypatch)
    restored(store)
    delete = cmd("VBoxManage", "controlvm", "default", "natpf1", "delete", "docker")
    c = context({SHOW: ok(showvminfo(rules=(SSH_RULE, DOCKER_RULE))), delete: ok()})
    step(session_for(c, "default", str(store)), restore.STAGE, forward=True)
    assert commands(c) == [SHOW, delete]


def test_original_is_the_machine_as_docker_machine_left_it(store, guest, dockerd, monkeypatch):
    folder = store / "machines" / "default"
    original = snapshot(store, guest)
    fixed(store, guest, monkeypatch)
    refixed(store, guest, monkeypatch)
    restored(store)  # a walk back in between changes nothing about what the original is
    # docker-machine changes config.json on its own meanwhile (a start gave a new SSH port)
    config = json.loads((folder / "config.json").read_text())
    config["Driver"]["SSHPort"] = 50999
    (folder / "config.json").write_text(json.dumps(config, indent=4))
    assert (folder / OPENSSL_CONFIG).exists() and (folder / "docker-vpn-helper.json").exists()
    port_rule = "dvh-tcp-8080,tcp,127.0.0.1,8080,,8080"
    shown = ok(showvminfo(rules=(SSH_RULE, DOCKER_RULE, port_rule)))
    deletes = [
        cmd("VBoxManage", "controlvm", "default", "natpf1", "delete", name)
        for name in ("docker", "dvh-tcp-8080")
    ]
    c = context({SHOW: shown, **dict.fromkeys(deletes, ok())})
    step(session_for(c, "default", str(store)), restore.STAGE, original=True)
    close_all()
    local, vm = snapshot(store, guest)
    assert local["server.pem"] == original[0]["server.pem"]
    assert local["server-key.pem"] == original[0]["server-key.pem"]
    assert vm == original[1] and guest.served == original[1][FakeGuest.CERT]
    now = json.loads(local["config.json"])
    before = json.loads(original[0]["config.json"])
    assert (
        now["HostOptions"]["AuthOptions"]["ServerCertSANs"]
        == (before["HostOptions"]["AuthOptions"]["ServerCertSANs"])
    )
    assert now["Driver"]["SSHPort"] == 50999  # docker-machine's own change stays
    assert not (folder / OPENSSL_CONFIG).exists()
    assert not (folder / "docker-vpn-helper.json").exists()
    assert [c for c in commands(c) if "delete" in c] == deletes
    with pytest.raises(HelperError, match="nothing left to undo"):
        restored(store)


def test_list_shows_each_run_when_and_what_it_replaced(store, guest, dockerd, monkeypatch, capsys):
    from invoke import Config

    from docker_vpn_helper.tasks.restore import restore as restore_task

    fixed(store, guest, monkeypatch)
    refixed(store, guest, monkeypatch)
    restored(store)
    capsys.readouterr()
    c = context({})
    c._config = Config(overrides={"vpnhelper": {"storage_path": str(store)}})
    restore_task(c, machine="default", storage_path=str(store), list_=True)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        f"docker-vpn-helper restore: the runs on 'default' ({store}/machines/default/backups)"
    )
    first, second, undo = out[1:]
    stamp = r"\d{8}T\d{6}\.\d{6}Z  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"
    assert re.fullmatch(
        rf"  {stamp}  .*: replaced config.json, server-key.pem, server.pem; the VM's "
        r"server.pem, server-key.pem; added NAT rule docker,tcp,127.0.0.1,2376,,2376 \[in effect\]",
        first,
    ), first
    second_stamp = second.split()[0]
    assert second.endswith(f"[undone by {undo.split()[0]}]")
    assert (
        f"restore of {second_stamp}: replaced docker-vpn-helper-openssl.cnf, server-key.pem, "
        "server.pem" in undo
    )


def test_a_file_replaced_twice_in_one_run_is_restored_as_before_the_run(store):
    """cert.issue records the SANs, then dns.host-resolver the DNS setting, in config.json: the
    run's backup is config.json before both (the second backup used to overwrite the first)."""
    from docker_vpn_helper.stages import dns

    config = store / "machines" / "default" / "config.json"
    before = config.read_bytes()
    settings = write_settings(store)  # where VirtualBox shows the DNS setting: off
    s = session_for(context({SHOW: ok(showvminfo(cfg=settings))}), "default", str(store))
    step(s, cert.ISSUE)
    step(s, dns.STAGE)
    close_all()
    data = json.loads(config.read_text())
    assert data["Driver"]["HostDNSResolver"] is True
    assert "127.0.0.1" in data["HostOptions"]["AuthOptions"]["ServerCertSANs"]
    restored(store)
    assert config.read_bytes() == before


# -- --original, whatever happened in between (issue 20, item 3) -------------------------------


class Killed(BaseException):
    """The run dies here (SIGKILL: nothing after it runs, not even `finally` bookkeeping)."""


def killed_during_the_upload(store, guest, monkeypatch):
    """A fix stopped after it noted the VM's files (write-ahead) and before the VM's backups
    were made: nothing in the VM changed, its manifest names backups that do not exist."""

    def die(self, files, backup_dir):
        raise Killed()

    install = FakeGuest.install_files
    monkeypatch.setattr(FakeGuest, "install_files", die)
    with pytest.raises(Killed):
        fixed(store, guest, monkeypatch)
    monkeypatch.setattr(FakeGuest, "install_files", install)
    close_all()


def test_original_after_a_fix_killed_during_the_upload_and_a_second_fix(
    store, guest, dockerd, monkeypatch
):
    folder = store / "machines" / "default"
    original = snapshot(store, guest)
    killed_during_the_upload(store, guest, monkeypatch)
    fixed(store, guest, monkeypatch)  # the second fix: uploads, restarts, records the SANs
    assert snapshot(store, guest) != original
    delete = cmd("VBoxManage", "controlvm", "default", "natpf1", "delete", "docker")
    c = context({SHOW: ok(showvminfo(rules=(SSH_RULE, DOCKER_RULE))), delete: ok()})
    step(session_for(c, "default", str(store)), restore.STAGE, original=True)
    close_all()
    assert as_json(snapshot(store, guest)) == as_json(original)  # the store's files, the VM's
    assert guest.served == original[1][FakeGuest.CERT]
    assert not (folder / OPENSSL_CONFIG).exists()


def test_original_on_a_machine_as_docker_machine_left_it_is_nothing_to_do(
    store, guest, dockerd, monkeypatch, capsys
):
    folder = store / "machines" / "default"
    fixed(store, guest, monkeypatch)
    delete = cmd("VBoxManage", "controlvm", "default", "natpf1", "delete", "docker")
    c = context({SHOW: ok(showvminfo(rules=(SSH_RULE, DOCKER_RULE))), delete: ok()})
    step(session_for(c, "default", str(store)), restore.STAGE, original=True)
    close_all()
    runs = sorted(p.name for p in (folder / "backups").iterdir())
    restarts, original = guest.restarts, snapshot(store, guest)
    capsys.readouterr()
    for dry_run in (True, False):
        s = session_for(context(RUNNING), "default", str(store), dry_run=dry_run)
        plan = step(s, restore.STAGE, original=True)
        close_all()
        assert plan.changes == ()
        err = capsys.readouterr().err
        assert "the machine is as docker-machine left it: nothing to do" in err, err
        assert "would" not in err and "put back" not in err, err
    assert guest.restarts == restarts  # no daemon restart
    assert sorted(p.name for p in (folder / "backups").iterdir()) == runs  # no new entry
    assert snapshot(store, guest) == original
    assert not (folder / OPENSSL_CONFIG).exists()  # never "put back": docker-machine had none
