"""Issue 5: every failure is safe and every bad input is one clear line (see docs/RELIABILITY.md).

The real CLI runs in-process; VirtualBox is a small script given as `vpnhelper.vboxmanage`, the
guest and the daemon are the stand-ins of standins.py.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography import x509
from invoke import Context

from docker_vpn_helper import forwarding
from docker_vpn_helper import session as session_module
from docker_vpn_helper.adapters import host, signals
from docker_vpn_helper.core import certs
from docker_vpn_helper.errors import ForeignCA, HelperError
from docker_vpn_helper.program import program
from docker_vpn_helper.stages import cert, nat, restore, step
from docker_vpn_helper.stages import daemon as daemon_stage

from ..support import store as dm
from ..support.runs import close_all, session_for
from .standins import (
    DOCKER_RULE,
    RUNNING,
    SSH_RULE,
    FakeGuest,
    cmd,
    commands,
    context,
    install_daemon,
    install_guest,
    ok,
    showvminfo,
)

PREFIX = "docker-vpn-helper: "
SECRET = "s3cr3t-sudo-pa55word"
HOSTILE = "my dir 'single' \"double\" $(touch pwned) `touch pwned2`; &|"


def cli(*argv: str) -> int:
    """Run the real command line in-process; its exit code."""
    try:
        program.run(["docker-vpn-helper", *argv], exit=True)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def one_line_error(capsys) -> str:
    """The single `docker-vpn-helper: ...` line on stderr, without the prefix; stdout empty but
    for the statement that makes an eval of a failed fix fail."""
    out, err = capsys.readouterr()
    assert out in ("", "false\n")
    lines = [line for line in err.splitlines() if not line.startswith(("=====", "  "))]
    assert len(lines) == 1 and lines[0].startswith(PREFIX), err
    assert "Traceback" not in err
    return lines[0][len(PREFIX) :]


def fake_vboxmanage(folder: Path, info: str, body: str = "") -> Path:
    """An executable answering `showvminfo` with `info`, `--version` as 7.0.14 does (and
    anything else with exit 0)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "showvminfo.txt").write_text(info)
    script = folder / "VBoxManage"
    script.write_text(
        f'#!/bin/sh\n{body}\n[ "$1" = showvminfo ] && exec cat "$(dirname "$0")/showvminfo.txt"\n'
        '[ "$1" = --version ] && echo 7.0.14r161095\n'
        "exit 0\n"
    )
    script.chmod(0o755)
    return script


def copy_store(template: Path, to: Path) -> Path:
    """The template store at `to`, config.json's absolute paths moved along (JSON-escaped)."""
    shutil.copytree(template, to)
    config = to / "machines" / "default" / "config.json"
    moved = json.dumps(str(to))[1:-1]
    config.write_text(config.read_text().replace(json.dumps(str(template))[1:-1], moved))
    json.loads(config.read_text())
    return to


@pytest.fixture
def standins(monkeypatch):
    """Install a FakeGuest/FakeDaemon pair for a store: returns a function(store) -> guest."""

    def install(store: Path) -> FakeGuest:
        fake = install_guest(monkeypatch, store)
        install_daemon(monkeypatch, fake)
        return fake

    return install


@pytest.fixture
def vbox(tmp_path, monkeypatch):
    """A running VM with its `docker` forward, as VBoxManage describes it."""
    script = fake_vboxmanage(tmp_path / "bin", showvminfo(rules=(SSH_RULE, DOCKER_RULE)))
    monkeypatch.setenv("INVOKE_VPNHELPER_VBOXMANAGE", str(script))
    return script


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("task", ["fix", "cert.issue", "restore", "daemon.restart"])
@pytest.mark.parametrize("name", ["default\n", "-rf", "a b", "x'y", "..", "a/../b", "$(id)"])
def test_hostile_machine_names_stop_before_any_command(store, capsys, monkeypatch, task, name):
    monkeypatch.setattr(Context, "run", lambda *a, **k: pytest.fail("a command ran"))
    assert cli(task, "--machine", name, "--storage-path", str(store)) == 1
    assert one_line_error(capsys).startswith(f"invalid machine name {name!r}")


def test_hostile_values_reach_local_programs_as_one_literal_argument(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = host.run(Context(), ["printf", "%s|", HOSTILE, "--x", "a\nb"], timeout=10)
    assert out.stdout == f"{HOSTILE}|--x|a\nb|"
    assert not list(tmp_path.iterdir())  # no `pwned` file: nothing was interpreted


def test_home_and_store_with_spaces_quotes_and_metacharacters(
    store_template, tmp_path, monkeypatch, capsys, standins
):
    home = tmp_path / HOSTILE / "home"
    store = copy_store(store_template, home / ".docker" / "machine")
    guest = standins(store)
    script = fake_vboxmanage(tmp_path / HOSTILE / "bin", showvminfo(rules=(SSH_RULE, DOCKER_RULE)))
    monkeypatch.setenv("INVOKE_VPNHELPER_VBOXMANAGE", str(script))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    assert cli("fix", "--shell", "bash") == 0
    out, err = capsys.readouterr()
    assert guest.served == (store / "machines/default/server.pem").read_bytes()
    assert guest.restarts == 1
    printed = subprocess.run(
        ["bash", "-c", 'eval "$1"; printf %s "$DOCKER_CERT_PATH"', "-", out],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert printed == str(store / "machines" / "default")
    assert not [p for p in tmp_path.rglob("pwned*")]
    assert "Traceback" not in err


def test_unknown_machine_for_a_stage_without_create(store, capsys):
    assert cli("restore", "--machine", "prod", "--storage-path", str(store)) == 1
    assert one_line_error(capsys).startswith(f"no machine 'prod' in the store {store}")


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "is empty"),
        ("{not json", "is not valid JSON"),
        ('{"ConfigVersion": 3}', "has neither Driver nor HostOptions"),
        ('{"ConfigVersion": 4, "Driver": {}}', "unsupported ConfigVersion 4"),
    ],
)
def test_a_broken_config_json_stops_fix_with_one_line(store, vbox, capsys, content, message):
    (store / "machines/default/config.json").write_text(content)
    assert cli("fix", "--storage-path", str(store)) == 1
    assert message in one_line_error(capsys)


def test_a_v1_config_is_fixed_like_a_v3_one(store, vbox, standins, capsys):
    """docker-machine v0.4 wrote ConfigVersion 1 with empty paths: the defaults apply."""
    config = store / "machines/default/config.json"
    config.write_text(
        '{"ConfigVersion": 1, "Driver": {"IPAddress": "192.168.99.100", "SSHPort": 50157},'
        ' "DriverName": "virtualbox", "HostOptions": {"AuthOptions": {}}}'
    )
    guest = standins(store)
    assert cli("fix", "--storage-path", str(store), "--shell", "bash") == 0
    assert guest.served == (store / "machines/default/server.pem").read_bytes()
    assert '"127.0.0.1"' in config.read_text()


# -- the CA ----------------------------------------------------------------------------------


def _encrypted(key_pem: bytes) -> bytes:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(key_pem, None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(b"pw"),
    )


@pytest.mark.parametrize(
    "break_it, message",
    [
        (lambda key: key.unlink(), "is missing"),
        (lambda key: (key.unlink(), key.mkdir()), "cannot read CA key"),  # root reads any file
        (lambda key: key.write_bytes(_encrypted(key.read_bytes())), "is encrypted"),
        (lambda key: key.write_bytes(dm.key_pem(dm.issue_ca("x")[1])), "does not match"),
    ],
    ids=["missing", "unreadable", "encrypted", "mismatch"],
)
def test_ca_key_problems_are_one_line_and_never_show_the_key(
    store, vbox, capsys, monkeypatch, break_it, message
):
    key = store / "certs" / "ca-key.pem"
    body = "".join(key.read_text().splitlines()[1:-1])[:40]
    break_it(key)
    monkeypatch.setenv("DVH_DEBUG", "1")
    assert cli("fix", "--storage-path", str(store)) == 1
    text = one_line_error(capsys)
    assert message in text and body not in text
    assert not (store / "machines/default/backups").exists()  # nothing was replaced


# -- programs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("setting", ["VBOXMANAGE", "DOCKER_MACHINE"])
def test_a_configured_program_path_that_does_not_exist(
    store, tmp_path, capsys, monkeypatch, setting
):
    script = fake_vboxmanage(
        tmp_path / "bin", showvminfo("poweroff", rules=(SSH_RULE, DOCKER_RULE))
    )
    monkeypatch.setenv("INVOKE_VPNHELPER_VBOXMANAGE", str(script))
    monkeypatch.setenv(f"INVOKE_VPNHELPER_{setting}", "/nonexistent/program")
    assert cli("fix", "--storage-path", str(store)) == 1
    assert one_line_error(capsys).startswith("/nonexistent/program is not installed or not on PATH")


def test_a_hanging_vboxmanage_is_cut_by_its_timeout(store, tmp_path, capsys, monkeypatch):
    script = fake_vboxmanage(tmp_path / "bin", showvminfo(), body="exec sleep 30")
    monkeypatch.setenv("INVOKE_VPNHELPER_VBOXMANAGE", str(script))
    monkeypatch.setenv("INVOKE_VPNHELPER_VBOXMANAGE_TIMEOUT", "1")
    start = time.monotonic()
    assert cli("fix", "--storage-path", str(store)) == 1
    assert time.monotonic() - start < 10
    assert one_line_error(capsys).startswith("VBoxManage did not answer within 1 s")


# -- the NAT rule ------------------------------------------------------------------------------


def test_a_docker_rule_open_to_every_interface_is_replaced_by_a_loopback_one(store, monkeypatch):
    monkeypatch.setattr(forwarding, "port_listener", lambda port: False)
    show = cmd("VBoxManage", "showvminfo", "default", "--machinereadable")
    delete = cmd("VBoxManage", "controlvm", "default", "natpf1", "delete", "docker")
    add = cmd("VBoxManage", "controlvm", "default", "natpf1", DOCKER_RULE)
    c = context(
        {show: ok(showvminfo(rules=(SSH_RULE, "docker,tcp,,2376,,2376"))), delete: ok(), add: ok()}
    )
    step(session_for(c, "default", str(store)), nat.STAGE)
    assert commands(c)[-2:] == [delete, add]


# -- secrets ---------------------------------------------------------------------------------


def test_dry_run_with_debug_prints_no_secret(store, vbox, standins, capsys, monkeypatch):
    standins(store)
    monkeypatch.setenv("INVOKE_SUDO_PASSWORD", SECRET)
    monkeypatch.setenv("DVH_DEBUG", "1")
    assert cli("fix", "--storage-path", str(store), "--dry-run", "--shell", "bash") == 0
    out, err = capsys.readouterr()
    assert "would issue a new server certificate" in err
    for text in (out, err):
        assert SECRET not in text and "PRIVATE KEY" not in text


# -- interrupted runs and rollback -----------------------------------------------------------


def test_rollback_after_a_run_stopped_between_deploy_and_restart(store, guest, dockerd):
    """The first run deployed, then was interrupted; the next run's restart fails: the VM gets
    the certificate from before the first run back, and its daemon answers."""
    old = guest.files[FakeGuest.CERT]
    first = session_for(context(RUNNING), "default", str(store))
    step(first, cert.ISSUE)
    step(first, cert.DEPLOY)
    close_all()  # Ctrl-C here: no restart
    guest.refuse = guest.files[FakeGuest.CERT]
    s = session_for(context(RUNNING), "default", str(store))
    s.settings = replace(s.settings, daemon_wait=0.3)
    with pytest.raises(HelperError) as caught:
        step(s, daemon_stage.STAGE)
    assert "the previous certificate was put back" in caught.value.message
    assert guest.files[FakeGuest.CERT] == old and guest.served == old


def test_a_failed_upload_leaves_a_state_the_next_run_completes(store, guest, dockerd, capsys):
    """Disk full (or the SSH link dropped) during the upload: the VM keeps its certificate and
    daemon; the store already has the new one, which the next run deploys."""
    old = guest.files[FakeGuest.CERT]

    def full(files, backup_dir):
        raise HelperError("cannot write ... No space left on device")

    real_install = guest.install_files
    guest.install_files = full
    s = session_for(context(RUNNING), "default", str(store))
    step(s, cert.ISSUE)
    with pytest.raises(HelperError):
        step(s, cert.DEPLOY)
    assert guest.files[FakeGuest.CERT] == old and guest.served == old and guest.restarts == 0
    close_all()
    guest.install_files = real_install
    again = session_for(context(RUNNING), "default", str(store))
    step(again, cert.ISSUE)
    step(again, cert.DEPLOY)
    step(again, daemon_stage.STAGE)
    assert guest.served == (store / "machines/default/server.pem").read_bytes() != old


# -- clocks ------------------------------------------------------------------------------------


def test_a_host_clock_behind_the_current_certificate_reissues_one_valid_now(store, monkeypatch):
    """The host's clock is what the client checks with; a certificate issued 'in its future'
    (clock set back) is replaced by one valid at the host's time, backdated 5 minutes."""
    skewed = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2)
    monkeypatch.setattr(session_module.Session, "now", lambda self: skewed)
    s = session_for(context({}), "default", str(store))
    step(s, cert.ISSUE)
    assert "cert" in set(s.changes())
    pem = (store / "machines/default/server.pem").read_bytes()
    new = x509.load_pem_x509_certificate(pem)
    assert new.not_valid_before_utc == skewed.replace(microsecond=0) - dt.timedelta(minutes=5)
    assert new.not_valid_after_utc - skewed <= dt.timedelta(days=1080)


# -- signals during the restart ----------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGHUP, signal.SIGTERM])
def test_a_signal_during_the_restart_finishes_it_then_ends_the_run(store, guest, dockerd, signum):
    """Ctrl-C, a closed terminal or SIGTERM while the daemon restarts: the restart finishes (the
    daemon serves the new certificate), then the run ends saying so, exit 128 + the signal."""
    real_restart = guest.restart_daemon

    def signalled_restart(command=None, *, timeout=60.0, flavour=None):
        os.kill(os.getpid(), signum)  # arrives while the restart runs
        real_restart(command, timeout=timeout, flavour=flavour)

    guest.restart_daemon = signalled_restart
    s = session_for(context(RUNNING), "default", str(store))
    step(s, cert.ISSUE)
    step(s, cert.DEPLOY)
    with signals.handled(), pytest.raises(HelperError) as caught:
        step(s, daemon_stage.STAGE)
    name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
    assert caught.value.code == 128 + signum
    assert caught.value.reason.startswith(
        f"interrupted by {name} during the daemon restart, which was finished first: the daemon "
        "answers on tcp://localhost:2376 with the new certificate; run `"
    )
    assert guest.served == (store / "machines/default/server.pem").read_bytes()


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM])
def test_sighup_and_sigterm_end_a_run_like_ctrl_c(store, vbox, capsys, monkeypatch, signum):
    """Outside the restart, SIGHUP and SIGTERM end the run at once: one line, 128 + signal."""

    def hang_up(*args, **kwargs):
        os.kill(os.getpid(), signum)
        pytest.fail("the signal did not end the run")

    monkeypatch.setattr(cert, "write_certificate", hang_up)
    assert cli("fix", "--storage-path", str(store)) == 128 + signum
    line = one_line_error(capsys)
    assert line.startswith(f"interrupted by {signal.Signals(signum).name}: files are replaced")


# -- write-ahead: the VM's files -------------------------------------------------------------


def manifests(store: Path) -> list[dict]:
    folder = store / "machines/default/backups"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*/manifest.json"))]


def test_a_wrong_key_in_the_vm_is_uploaded_again_with_the_certificate(store, guest, dockerd):
    """The VM has the store's certificate but another key (a deploy cut off between the two
    files): both go up again, and the daemon serves the pair."""
    guest.files[FakeGuest.KEY] = b"-----BEGIN RSA PRIVATE KEY-----\nwrong\n"
    guest.served = None  # dockerd cannot start with that pair
    s = session_for(context(RUNNING), "default", str(store))
    plan = step(s, cert.DEPLOY)
    assert plan.upload and plan.why.startswith("the VM's server key is not the store's")
    step(s, daemon_stage.STAGE)
    assert guest.files[FakeGuest.KEY] == (store / "machines/default/server-key.pem").read_bytes()
    assert guest.served == (store / "machines/default/server.pem").read_bytes()


@pytest.mark.parametrize("replaced", [True, False], ids=["after", "before"])
def test_a_run_killed_during_the_upload_is_noted_before_and_can_be_undone(
    store, guest, dockerd, replaced
):
    """Killed right after the VM's files were replaced (or right before): the manifest already
    says what the run was replacing, so `restore` puts the VM back."""
    original = dict(guest.files)
    real_install = guest.install_files

    def killed(files, backup_dir):
        if replaced:
            real_install(files, backup_dir)
        raise SystemExit(137)  # the process ends here: nothing after this runs

    guest.install_files = killed
    s = session_for(context(RUNNING), "default", str(store))
    step(s, cert.ISSUE)
    with pytest.raises(SystemExit):
        step(s, cert.DEPLOY)
    close_all()
    [noted] = [m for m in manifests(store) if m.get("guest")]
    assert noted["guest_state"] == "installing"
    guest.install_files = real_install
    step(session_for(context(RUNNING), "default", str(store)), restore.STAGE)
    assert {k: v for k, v in guest.files.items() if "/backups/" not in k} == original
    assert guest.served == original[FakeGuest.CERT]


def test_a_rollback_never_goes_back_to_an_older_finished_run(store, guest, dockerd):
    """A run whose deploy the daemon served has ended: a later run that restarts the daemon
    and fails does not put that older run's backups back."""
    s = session_for(context(RUNNING), "default", str(store))
    for stage in (cert.ISSUE, cert.DEPLOY, daemon_stage.STAGE):
        step(s, stage)
    close_all()
    assert manifests(store)[-1]["guest_state"] == "served"
    fixed = guest.files[FakeGuest.CERT]
    guest.served = None  # the daemon is down; it will not start again either
    guest.refuse = fixed
    again = session_for(context(RUNNING), "default", str(store))
    again.settings = replace(again.settings, daemon_wait=0.3)
    with pytest.raises(HelperError) as caught:
        step(again, daemon_stage.STAGE)
    assert caught.value.reason.startswith("the daemon did not come back on tcp://localhost:2376")
    assert "restore" not in guest.log and guest.files[FakeGuest.CERT] == fixed


def test_a_run_whose_restart_went_on_without_it_is_noted_as_ended(store, guest, dockerd):
    """Killed during the restart, which finished in the VM: the next run sees the daemon serve
    that run's certificate and notes the run as ended (a later rollback will not undo it)."""
    s = session_for(context(RUNNING), "default", str(store))
    step(s, cert.ISSUE)
    step(s, cert.DEPLOY)
    guest.restart_daemon()  # the detached restart, while the client is gone
    close_all()
    assert manifests(store)[-1]["guest_state"] == "installed"
    again = session_for(context(RUNNING), "default", str(store))
    plan = step(again, daemon_stage.STAGE)
    assert not plan.restart and plan.chores
    assert manifests(store)[-1]["guest_state"] == "served"


# -- the VM's CA -------------------------------------------------------------------------------


@pytest.mark.parametrize("vm_ca", ["another", "missing"])
def test_a_vm_trusting_another_ca_is_refused_before_anything_changes(store, guest, dockerd, vm_ca):
    """Restarted with another CA than the store's, the daemon would refuse every client of the
    store, and no rollback could undo that: fix stops before the upload, naming both files."""
    if vm_ca == "missing":
        del guest.files[FakeGuest.CA]
    else:
        guest.files[FakeGuest.CA] = dm.cert_pem(dm.issue_ca("another")[0])
    s = session_for(context(RUNNING), "default", str(store))
    step(s, cert.ISSUE)
    with pytest.raises(ForeignCA) as caught:
        step(s, cert.DEPLOY)
    assert caught.value.ca_cert == store / "certs" / "ca.pem"
    found = "is not" if vm_ca == "another" else "is missing, so it is not"
    assert caught.value.reason.startswith(
        f"the VM's CA certificate /var/lib/boot2docker/ca.pem {found} the store's "
        f"{store / 'certs' / 'ca.pem'}: restarted with it, the daemon would refuse every client"
    )
    assert "run `docker-machine regenerate-certs -f default && " in caught.value.reason
    assert guest.log == ["read"] and guest.restarts == 0


# -- the store's pair ----------------------------------------------------------------------------


def mismatched_pair(store: Path) -> None:
    """What a run killed between the two renames of the pair leaves: a new key, the old cert."""
    (store / "machines/default/server-key.pem").write_bytes(dm.key_pem(dm.issue_ca("x")[1]))


def test_a_mismatched_pair_is_replaced_and_our_temporaries_removed(store, guest, dockerd, capsys):
    mismatched_pair(store)
    folder = store / "machines/default"
    (folder / ".server.pem.k2j4h6g8.tmp").write_bytes(b"half a certificate")
    s = session_for(context(RUNNING), "default", str(store))
    assert "the server key does not match it" in step(s, cert.ISSUE).reason
    assert not (folder / ".server.pem.k2j4h6g8.tmp").exists()
    assert "removed .server.pem.k2j4h6g8.tmp, left by an interrupted run" in capsys.readouterr().err
    pem, key = (folder / "server.pem").read_bytes(), (folder / "server-key.pem").read_bytes()
    assert certs.pair_matches(pem, key)


def test_restore_refuses_to_bring_back_a_pair_that_does_not_match(store, guest, dockerd):
    s = session_for(context(RUNNING), "default", str(store))
    step(s, cert.ISSUE, force=True)
    close_all()
    first = s.journal.stamp
    mismatched_pair(store)  # a later run was killed between the two files
    s = session_for(context(RUNNING), "default", str(store))
    for stage in (cert.ISSUE, cert.DEPLOY, daemon_stage.STAGE):
        step(s, stage)  # the next fix replaces the pair, backing up the broken one
    close_all()
    with pytest.raises(HelperError) as caught:
        step(session_for(context(RUNNING), "default", str(store)), restore.STAGE)
    assert caught.value.reason == (
        f"the backup {s.journal.stamp} holds a server.pem and server-key.pem that do not match "
        "(left by an interrupted run): not restored; restore the one before it with "
        f"`docker-vpn-helper restore --machine default --backup {first}`"
    )


def test_restore_refuses_a_vm_pair_that_does_not_match(store, guest, dockerd):
    """The VM had the store's certificate beside another key; the fix that repaired it backed
    that pair up: restoring it would leave the daemon down."""
    guest.files[FakeGuest.KEY] = dm.key_pem(dm.issue_ca("x")[1])
    guest.served = None
    s = session_for(context(RUNNING), "default", str(store))
    for stage in (cert.DEPLOY, daemon_stage.STAGE):
        step(s, stage)
    close_all()
    before = dict(guest.files)
    with pytest.raises(HelperError) as caught:
        step(session_for(context(RUNNING), "default", str(store)), restore.STAGE)
    assert "server.pem and server-key.pem that do not match" in caught.value.reason
    assert guest.files == before and "restore" not in guest.log
