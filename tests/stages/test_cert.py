import json
import os
import signal
import stat
import threading
from pathlib import Path

import pytest
from cryptography import x509

from docker_vpn_helper.core import certs
from docker_vpn_helper.errors import HelperError
from docker_vpn_helper.session import Session
from docker_vpn_helper.stages import cert, step

from ..support.runs import close_all, session_for
from .standins import RUNNING, FakeGuest, context


def machine_files(store):
    folder = store / "machines" / "default"
    return folder / "server.pem", folder / "server-key.pem", folder / "config.json"


def names_of(pem: bytes):
    return certs.certificate_names(x509.load_pem_x509_certificate(pem)).all()


def test_issue_replaces_docker_machines_cert_backs_up_and_records_sans(store, capsys):
    server, key, config = machine_files(store)
    old_cert, old_key, old_config = server.read_bytes(), key.read_bytes(), config.read_text()
    s = session_for(context({}), "default", str(store))
    step(s, cert.ISSUE)
    assert set(s.changes()) == {"cert", "config"}
    new = server.read_bytes()
    assert names_of(new) == ["localhost", "default", "127.0.0.1", "192.168.99.100"]
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    backup = store / "machines/default/backups" / s.journal.stamp
    assert (backup / "server.pem").read_bytes() == old_cert
    assert (backup / "server-key.pem").read_bytes() == old_key
    assert (backup / "config.json").read_text() == old_config
    sans = json.loads(config.read_text())["HostOptions"]["AuthOptions"]["ServerCertSANs"]
    assert sans == ["localhost", "127.0.0.1"]
    assert (
        "DNS.1 = localhost"
        in (store / "machines/default/docker-vpn-helper-openssl.cnf").read_text()
    )
    err = capsys.readouterr().err
    assert "(the old certificate lacks default, 127.0.0.1)" in err


def test_second_issue_changes_nothing(store, capsys):
    step(session_for(context({}), "default", str(store)), cert.ISSUE)
    server, _, config = machine_files(store)
    before = (server.read_bytes(), config.read_text())
    close_all()
    s = session_for(context({}), "default", str(store))
    step(s, cert.ISSUE)
    assert set(s.changes()) == set()
    assert (server.read_bytes(), config.read_text()) == before
    assert "is signed by this CA and is valid until" in capsys.readouterr().err


def test_force_reissues(store):
    step(session_for(context({}), "default", str(store)), cert.ISSUE)
    server, _, _ = machine_files(store)
    first = server.read_bytes()
    close_all()
    s = session_for(context({}), "default", str(store))
    step(s, cert.ISSUE, force=True)
    assert server.read_bytes() != first and set(s.changes()) == {"cert"}


def test_dry_run_writes_nothing(store, capsys):
    server, key, config = machine_files(store)
    before = [p.read_bytes() for p in (server, key, config)]
    s = session_for(context({}), "default", str(store), dry_run=True)
    step(s, cert.ISSUE)
    assert [p.read_bytes() for p in (server, key, config)] == before
    assert not (store / "machines/default/backups").exists()
    err = capsys.readouterr().err
    assert "would issue a new server certificate" in err and "would record localhost" in err


def test_missing_ca_key_is_a_one_line_error(store):
    (store / "certs" / "ca-key.pem").unlink()
    with pytest.raises(HelperError, match=r"CA key .*ca-key.pem is missing"):
        step(session_for(context({}), "default", str(store)), cert.ISSUE)


def test_deploy_uploads_cert_and_key_only(store, guest):
    s = session_for(context(RUNNING), "default", str(store))
    step(s, cert.ISSUE)
    step(s, cert.DEPLOY)
    server, key, _ = machine_files(store)
    assert guest.files[FakeGuest.CERT] == server.read_bytes()
    assert guest.files[FakeGuest.KEY] == key.read_bytes()
    assert s.journal.guest_backups == [
        (f"/var/lib/boot2docker/backups/{s.journal.stamp}/server.pem", FakeGuest.CERT),
        (f"/var/lib/boot2docker/backups/{s.journal.stamp}/server-key.pem", FakeGuest.KEY),
    ]
    ca_key = (store / "certs" / "ca-key.pem").read_bytes()
    assert all(content != ca_key for content in guest.files.values())
    assert "deploy" in set(s.changes())


def test_deploy_skips_when_the_vm_has_the_same_certificate(store, guest):
    s = session_for(context(RUNNING), "default", str(store))
    step(s, cert.DEPLOY)
    assert guest.log == ["read"] and "deploy" not in set(s.changes())


def test_deploy_dry_run_reads_but_does_not_write(store, guest, capsys):
    s = session_for(context(RUNNING), "default", str(store), dry_run=True)
    step(s, cert.ISSUE)
    step(s, cert.DEPLOY)
    assert guest.log == ["read"]
    assert "would upload server.pem and server-key.pem" in capsys.readouterr().err


def test_a_second_run_on_the_same_machine_is_refused_while_the_first_holds_the_lock(store):
    first = session_for(context({}), "default", str(store))
    second = Session(context({}), first.settings)  # another run: its own Session, its own lock
    with pytest.raises(HelperError) as caught:
        second.lock()
    assert (
        f"another docker-vpn-helper run (pid {os.getpid()}) is working on machine 'default'"
        in caught.value.message
    )
    first.close()
    second.lock()  # free again
    second.close()


def test_a_legacy_ssh_rsa_guest_is_named(store, guest, capsys):
    guest.signature_algorithm = "ssh-rsa"
    step(session_for(context(RUNNING), "default", str(store)), cert.DEPLOY)
    assert "only accepts legacy ssh-rsa signatures" in capsys.readouterr().err


def test_ctrl_c_between_the_two_renames_waits_until_both_files_are_in_place(store, monkeypatch):
    """Even when the OS hands the signal to another thread of the run (a repair opens its SSH
    connection in one), which a signal mask on the main thread alone did not hold back."""
    server, key, _ = machine_files(store)
    rename = os.replace

    def signalled_rename(source, target):
        rename(source, target)
        if Path(target) == key:  # between the key's rename and the certificate's
            os.kill(os.getpid(), signal.SIGINT)

    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    monkeypatch.setattr(os, "replace", signalled_rename)
    s = session_for(context({}), "default", str(store))
    try:
        with pytest.raises(KeyboardInterrupt):
            cert.write_certificate(s)
    finally:
        stop.set()
        monkeypatch.undo()
    assert certs.pair_matches(server.read_bytes(), key.read_bytes())
