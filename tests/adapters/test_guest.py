"""The guest adapter against real sshds: modern, and legacy (ssh-rsa signatures only)."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import re
import socket
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from docker_vpn_helper.adapters.guest import DaemonFiles, Guest
from docker_vpn_helper.core import guestscripts
from docker_vpn_helper.errors import HelperError

from ..core.test_profile import DOCKER_MACHINE_PROFILE

OLD_CERT = b"-----BEGIN CERTIFICATE-----\nold cert\n-----END CERTIFICATE-----\n"
OLD_KEY = b"-----BEGIN RSA PRIVATE KEY-----\nold key\n-----END RSA PRIVATE KEY-----\n"
NEW_CERT = b"-----BEGIN CERTIFICATE-----\nnew cert\n-----END CERTIFICATE-----\n"
NEW_KEY = b"-----BEGIN RSA PRIVATE KEY-----\nnew key\n-----END RSA PRIVATE KEY-----\n"


def accepted_logins(server) -> int:
    return server.log().count("Accepted publickey")


@pytest.fixture
def guest_root(tmp_path: Path) -> Path:
    """A stand-in for /var/lib/boot2docker holding docker-machine's current files."""
    root = tmp_path / "var-lib-boot2docker"
    root.mkdir()
    (root / "server.pem").write_bytes(OLD_CERT)
    (root / "server-key.pem").write_bytes(OLD_KEY)
    os.chmod(root / "server.pem", 0o644)
    os.chmod(root / "server-key.pem", 0o600)
    return root


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file's content and mode, to show nothing changed."""
    return {
        p.name: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
        for p in directory.iterdir()
        if p.is_file()
    }


# -- refusing to connect (no sshd needed) -----------------------------------------------------


def test_missing_key_is_named(tmp_path: Path, unused_port: int) -> None:
    missing = tmp_path / "id_rsa"
    with pytest.raises(HelperError, match=re.escape(f"SSH key {missing} not found")):
        Guest(unused_port, "docker", missing).run("true")


def test_open_key_permissions_are_refused_with_the_chmod_hint(make_key, unused_port: int) -> None:
    key = make_key()
    key.chmod(0o644)
    g = Guest(unused_port, "docker", key)
    with pytest.raises(
        HelperError, match=re.escape(f"(mode 0644), ssh would refuse it: run `chmod 600 {key}`")
    ) as err:
        g.run("true")
    assert g.connections_opened == 0
    assert "PRIVATE KEY" not in str(err.value)


def test_garbage_key_is_refused_without_showing_it(tmp_path: Path, unused_port: int) -> None:
    key = tmp_path / "id_rsa"
    key.write_bytes(b"-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0\n-----END RSA PRIVATE KEY-----\n")
    key.chmod(0o600)
    with pytest.raises(HelperError, match="is not a usable private key") as err:
        Guest(unused_port, "docker", key).run("true")
    assert "PRIVATE" not in str(err.value) and "c2VjcmV0" not in str(err.value)


def test_passphrase_protected_key_is_refused(make_key, unused_port: int) -> None:
    key = make_key(passphrase="secret")
    with pytest.raises(HelperError, match="is passphrase-protected"):
        Guest(unused_port, "docker", key).run("true")


def test_closed_port_says_the_forward_or_vm_is_down_fast(make_key, unused_port: int) -> None:
    port = unused_port
    started = time.monotonic()
    with pytest.raises(HelperError) as err:
        Guest(port, "docker", make_key(), machine="default").run("true")
    assert time.monotonic() - started < 2
    message = str(err.value)
    assert f"nothing answers SSH on 127.0.0.1:{port} (connection refused)" in message
    assert "NAT `ssh` forward" in message and "`docker-machine start default`" in message
    assert "\n" not in message


def test_silent_listener_times_out_fast(make_key) -> None:
    """A NAT forward whose VM is still booting accepts the TCP connection but says nothing."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(HelperError, match=r"nothing answers SSH on .*docker-machine start"):
            Guest(port, "docker", make_key(), connect_timeout=0.5).run("true")
        assert time.monotonic() - started < 3


# -- a modern sshd -----------------------------------------------------------------------------


def test_run_returns_stdout_and_uses_sha2(guest: Guest) -> None:
    assert guest.run("echo hello; echo ignored >&2") == "hello\n"
    assert guest.signature_algorithm == "rsa-sha2-512"


def test_stdin_is_sent_whole_and_byte_exact(guest: Guest) -> None:
    payload = os.urandom(256 * 1024)
    started = time.monotonic()
    out = guest.run("sha256sum", stdin=payload)
    assert out.split()[0] == hashlib.sha256(payload).hexdigest()
    assert time.monotonic() - started < 5


def test_failed_command_reports_its_name_and_last_stderr_line(guest: Guest) -> None:
    with pytest.raises(HelperError) as err:
        guest.run("sudo sh -c 'echo noise >&2; echo \"the real reason\" >&2; exit 3'")
    assert str(err.value).endswith("guest command `sh` failed (exit 3): the real reason")


def test_command_timeout_is_enforced_and_the_connection_survives(guest: Guest) -> None:
    started = time.monotonic()
    with pytest.raises(HelperError, match=r"guest command `sleep` timed out after 0\.5s"):
        guest.run("sleep 10", timeout=0.5)
    assert time.monotonic() - started < 3
    assert guest.run("echo still here") == "still here\n"
    assert guest.connections_opened == 1


def test_one_connection_serves_every_call(sshd, guest_root: Path) -> None:
    before = accepted_logins(sshd)
    with Guest(sshd.port, sshd.user, sshd.key_path) as g:
        g.run("true")
        g.read_daemon_files(profile_path=str(guest_root / "profile"))
        target = str(guest_root / "server.pem")
        backups = g.install_files([(target, NEW_CERT, 0o644)], str(guest_root / "bk"))
        g.restore_files([(backups[0], target)])
        g.run("true")
        assert g.connections_opened == 1
    assert accepted_logins(sshd) - before == 1


def test_small_packets_go_out_at_once(guest: Guest) -> None:
    # With Nagle on, each request waited ~40 ms for the guest's delayed ACK (measured).
    guest.run("true")
    sock = guest._connection().client.get_transport().sock
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_close_then_reuse_opens_a_new_connection(guest: Guest) -> None:
    guest.run("true")
    guest.close()
    guest.close()
    guest.run("true")
    assert guest.connections_opened == 2


def test_openssh_format_keys_work_too(sshd, tmp_path: Path) -> None:
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-N", "", "-t", "ed25519", "-f", str(key)], check=True)
    with sshd.authorized_keys.open("a") as authorized:
        authorized.write(Path(f"{key}.pub").read_text())
    with Guest(sshd.port, sshd.user, key) as g:
        assert g.run("echo ok") == "ok\n"
        assert g.signature_algorithm == "ssh-ed25519"


def test_wrong_key_is_refused(sshd, make_key) -> None:
    stranger = make_key()
    with pytest.raises(HelperError, match=re.escape(f"refused SSH key {stranger} for user 'root'")):
        Guest(sshd.port, sshd.user, stranger).run("true")


# -- daemon files ------------------------------------------------------------------------------


def write_profile(root: Path, cert: str) -> Path:
    profile = root / "profile"
    profile.write_text(
        DOCKER_MACHINE_PROFILE.replace("/var/lib/boot2docker/server.pem", cert).replace(
            "/var/lib/boot2docker/server-key.pem", str(root / "server-key.pem")
        )
    )
    return profile


def test_read_daemon_files_follows_the_profile(guest: Guest, guest_root: Path) -> None:
    spaced = guest_root / "my certs"
    spaced.mkdir()
    (spaced / "server.pem").write_bytes(NEW_CERT)
    profile = write_profile(guest_root, f"'{spaced}/server.pem'")
    assert guest.read_daemon_files(profile_path=str(profile)) == DaemonFiles(
        ca_cert_path="/var/lib/boot2docker/ca.pem",
        server_cert_path=f"{spaced}/server.pem",
        server_key_path=str(guest_root / "server-key.pem"),
        server_cert_pem=NEW_CERT,
        profile_found=True,
        server_key_sha256=hashlib.sha256(OLD_KEY).hexdigest(),  # the key itself stays there
    )


def test_read_daemon_files_reads_the_ca_the_profile_names(guest: Guest, guest_root: Path) -> None:
    ca = guest_root / "my ca.pem"
    ca.write_bytes(b"the CA\n")
    profile = write_profile(guest_root, str(guest_root / "server.pem"))
    profile.write_text(profile.read_text().replace("/var/lib/boot2docker/ca.pem", f"'{ca}'"))
    files = guest.read_daemon_files(profile_path=str(profile))
    assert files.ca_cert_path == str(ca) and files.ca_cert_pem == b"the CA\n"


def test_read_daemon_files_with_a_missing_cert(guest: Guest, guest_root: Path) -> None:
    profile = write_profile(guest_root, str(guest_root / "absent.pem"))
    files = guest.read_daemon_files(profile_path=str(profile))
    assert files.server_cert_path == str(guest_root / "absent.pem")
    assert files.server_cert_pem is None and files.profile_found


def test_read_daemon_files_without_a_profile_uses_the_defaults(
    guest: Guest, guest_root: Path
) -> None:
    if os.path.exists(guestscripts.DEFAULT_SERVER_CERT):
        pytest.skip("this host has a real boot2docker server.pem")
    assert guest.read_daemon_files(profile_path=str(guest_root / "profile")) == DaemonFiles(
        ca_cert_path="/var/lib/boot2docker/ca.pem",
        server_cert_path="/var/lib/boot2docker/server.pem",
        server_key_path="/var/lib/boot2docker/server-key.pem",
        server_cert_pem=None,
        profile_found=False,
    )


def test_read_daemon_files_when_the_guest_shell_reads_the_profile_differently(
    guest: Guest, guest_root: Path
) -> None:
    """A profile the shell cannot finish sourcing costs a second read of the parsed path."""
    profile = write_profile(guest_root, str(guest_root / "server.pem"))
    profile.write_text("exit 0\n" + profile.read_text())
    files = guest.read_daemon_files(profile_path=str(profile))
    assert files.server_cert_pem == OLD_CERT


# -- install / restore -------------------------------------------------------------------------


def test_install_files_replaces_atomically_and_backs_up(guest: Guest, guest_root: Path) -> None:
    cert, key, ca = (str(guest_root / n) for n in ("server.pem", "server-key.pem", "ca.pem"))
    backup_dir = guest_root / "backups" / "20240101-120000"
    backups = guest.install_files(
        [(cert, NEW_CERT, 0o644), (key, NEW_KEY, 0o600), (ca, b"ca\n", 0o644)], str(backup_dir)
    )
    assert backups == [str(backup_dir / "server.pem"), str(backup_dir / "server-key.pem"), ""]
    assert snapshot(guest_root) == {
        "server.pem": (NEW_CERT, 0o644),
        "server-key.pem": (NEW_KEY, 0o600),
        "ca.pem": (b"ca\n", 0o644),
    }
    assert all(os.stat(p).st_uid == 0 for p in (cert, key, ca))
    assert snapshot(backup_dir) == {
        "server.pem": (OLD_CERT, 0o644),
        "server-key.pem": (OLD_KEY, 0o600),
    }
    assert stat.S_IMODE(backup_dir.stat().st_mode) == 0o700


def test_install_files_creates_a_missing_folder(guest: Guest, guest_root: Path) -> None:
    target = guest_root / "certs" / "docker-vpn-helper-0123.pem"
    backups = guest.install_files([(str(target), b"root\n", 0o644)], str(guest_root / "b"))
    assert backups == [""]
    assert target.read_bytes() == b"root\n"


def test_read_folder_reads_the_matching_files(guest: Guest, guest_root: Path) -> None:
    certs = guest_root / "certs"
    certs.mkdir()
    (certs / "a.pem").write_bytes(b"A\n")
    (certs / "b b.crt").write_bytes(b"B")
    (certs / "c.txt").write_bytes(b"C\n")
    (certs / "d.pem").mkdir()
    found = guest.read_folder(str(certs), ["*.pem", "*.crt"])
    assert found == {str(certs / "a.pem"): b"A\n", str(certs / "b b.crt"): b"B"}
    assert guest.read_folder(str(guest_root / "none"), ["*.pem"]) == {}


def test_checksum_mismatch_changes_nothing(
    guest: Guest, guest_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(guest_root)
    monkeypatch.setattr(guestscripts, "sha256", lambda data: "0" * 64)
    with pytest.raises(HelperError, match=r"checksum mismatch for \S*server.pem.*nothing changed"):
        guest.install_files(
            [(str(guest_root / "server.pem"), NEW_CERT, 0o644)], str(guest_root / "backups")
        )
    assert snapshot(guest_root) == before
    assert sorted(p.name for p in guest_root.iterdir()) == ["server-key.pem", "server.pem"]


def test_restore_files_puts_the_backups_back(guest: Guest, guest_root: Path) -> None:
    files = [
        (str(guest_root / "server.pem"), NEW_CERT, 0o644),
        (str(guest_root / "server-key.pem"), NEW_KEY, 0o600),
        (str(guest_root / "ca.pem"), b"ca\n", 0o644),
    ]
    before = snapshot(guest_root)
    backups = guest.install_files(files, str(guest_root / "bk"))
    guest.restore_files(list(zip(backups, [path for path, _, _ in files])))
    assert snapshot(guest_root) == before  # ca.pem, new in the install, is gone again
    assert not [p for p in guest_root.iterdir() if p.name.startswith(".")]


def test_restore_files_can_keep_what_it_replaces(guest: Guest, guest_root: Path) -> None:
    target = str(guest_root / "server.pem")
    original = (guest_root / "server.pem").read_bytes()
    [backup] = guest.install_files([(target, NEW_CERT, 0o644)], str(guest_root / "bk1"))
    kept = guest.restore_files([(backup, target)], backup_dir=str(guest_root / "bk2"))
    assert kept == [str(guest_root / "bk2" / "server.pem")]
    assert (guest_root / "bk2" / "server.pem").read_bytes() == NEW_CERT
    assert (guest_root / "server.pem").read_bytes() == original
    guest.restore_files(list(zip(kept, [target])))
    assert (guest_root / "server.pem").read_bytes() == NEW_CERT


def test_restore_with_a_missing_backup_changes_nothing(guest: Guest, guest_root: Path) -> None:
    before = snapshot(guest_root)
    pairs = [
        (str(guest_root / "server.pem"), str(guest_root / "server-key.pem")),
        (str(guest_root / "gone.pem"), str(guest_root / "server.pem")),
    ]
    with pytest.raises(HelperError, match=r"backup \S*gone\.pem is missing"):
        guest.restore_files(pairs)
    assert snapshot(guest_root) == before


def test_restore_files_can_skip_backups_a_stopped_run_never_made(
    guest: Guest, guest_root: Path
) -> None:
    """A run stopped before it backed up server-key.pem never replaced it either: restoring
    that run puts back what it did back up, and leaves the rest."""
    (guest_root / "bk").mkdir()
    (guest_root / "bk" / "server.pem").write_bytes(NEW_CERT)
    pairs = [
        (str(guest_root / "bk" / "server.pem"), str(guest_root / "server.pem")),
        (str(guest_root / "bk" / "server-key.pem"), str(guest_root / "server-key.pem")),
    ]
    guest.restore_files(pairs, skip_missing=True)
    assert (guest_root / "server.pem").read_bytes() == NEW_CERT
    assert (guest_root / "server-key.pem").read_bytes() == OLD_KEY


# -- daemon restart ----------------------------------------------------------------------------


@pytest.fixture
def restart_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the detached restart leaves its outcome (not this host's /var/lib/boot2docker)."""
    folder = tmp_path / "restart"
    moved = dataclasses.replace(guestscripts.BOOT2DOCKER, restart_dir=str(folder))
    monkeypatch.setattr(guestscripts, "BOOT2DOCKER", moved)
    return folder


def init_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> Path:
    script = tmp_path / "docker"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    ours = dataclasses.replace(guestscripts.BOOT2DOCKER, restart=f"{script} restart")
    monkeypatch.setattr(guestscripts, "BOOT2DOCKER", ours)
    return script


@pytest.mark.parametrize("status", [0, 1])
def test_restart_daemon_reports_the_init_scripts_last_line(
    guest: Guest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: int, restart_dir: Path
) -> None:
    init_script(
        tmp_path,
        monkeypatch,
        f"echo \"$1 called\"\necho 'Need TLS certs for x,127.0.0.1'\nexit {status}",
    )
    if status == 0:
        guest.restart_daemon(timeout=5)
    else:
        with pytest.raises(
            HelperError, match=r"`\S+docker restart` failed \(exit 1\): Need TLS.*restart\.log"
        ):
            guest.restart_daemon(timeout=5)
    # The outcome stays readable in the guest, root's only.
    assert (restart_dir / "restart.status").read_text() == f"{status}\n"
    assert (restart_dir / "restart.log").read_text().startswith("restart called\n")
    assert stat.S_IMODE(restart_dir.stat().st_mode) == 0o700


def cut_off_mid_restart(guest: Guest, seconds: float) -> threading.Thread:
    """Start a restart in the background, then close the client's connection after `seconds`
    (the client killed, or its network gone)."""

    def restart() -> None:
        with contextlib.suppress(HelperError):  # the client's side of it is lost
            guest.restart_daemon(timeout=10)

    worker = threading.Thread(target=restart)
    worker.start()
    time.sleep(seconds)
    assert guest._conn is not None
    guest._conn.client.close()
    worker.join(10)
    return worker


def wait_for_file(path: Path, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"no {path}"
        time.sleep(0.05)
    return path.read_text()


@pytest.mark.parametrize("setsid", ["setsid", "no-such-setsid"], ids=["setsid", "plain-sh"])
def test_restart_daemon_completes_when_the_connection_drops_mid_restart(
    guest: Guest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restart_dir: Path, setsid: str
) -> None:
    """Cut off between the init script's stop and its start (which writes on stdout, like
    boot2docker's): the script still finishes, detached from the SSH session, with setsid or
    (a guest without it) in a background subshell that ignores SIGHUP and SIGPIPE."""
    monkeypatch.setattr(guestscripts, "SETSID", setsid)
    marker = tmp_path / "started"
    init_script(
        tmp_path,
        monkeypatch,
        f"echo stopped\nsleep 1\necho 'Need TLS certs for x'\necho yes > {marker}",
    )
    cut_off_mid_restart(guest, 0.5)
    assert wait_for_file(restart_dir / "restart.status") == "0\n"
    assert marker.read_text() == "yes\n"
    assert (restart_dir / "restart.log").read_text() == "stopped\nNeed TLS certs for x\n"


def test_restart_daemon_waits_for_a_restart_an_interrupted_run_left_running(
    sshd, guest: Guest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restart_dir: Path
) -> None:
    log = tmp_path / "calls"
    init_script(tmp_path, monkeypatch, f"echo begin >> {log}\nsleep 1\necho end >> {log}")
    with Guest(sshd.port, sshd.user, sshd.key_path, connect_timeout=5) as interrupted:
        cut_off_mid_restart(interrupted, 0.3)
    guest.restart_daemon(timeout=10)
    # The earlier restart ended before this one began: the two never overlapped.
    assert log.read_text() == "begin\nend\nbegin\nend\n"


# -- a legacy sshd: ssh-rsa signatures only ----------------------------------------------------


def test_legacy_sshd_is_reached_with_ssh_rsa(legacy_sshd) -> None:
    before = legacy_sshd.log()
    with Guest(legacy_sshd.port, legacy_sshd.user, legacy_sshd.key_path) as g:
        assert g.run("echo ok") == "ok\n"
        assert g.signature_algorithm == "ssh-rsa"
        assert g.connections_opened == 2  # the refused rsa-sha2-512 attempt, then ssh-rsa
        g.run("true")
        assert g.connections_opened == 2
    new = legacy_sshd.log()[len(before) :]
    assert "signature algorithm rsa-sha2-512 not in PubkeyAcceptedAlgorithms" in new


def test_legacy_sshd_without_server_sig_algs(legacy_sshd, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pre-7.2 OpenSSH sends no server-sig-algs: paramiko then guesses rsa-sha2-512 too."""
    import paramiko

    seen = threading.Event()
    monkeypatch.setattr(paramiko.Transport, "_parse_ext_info", lambda self, m: seen.set())
    with Guest(legacy_sshd.port, legacy_sshd.user, legacy_sshd.key_path) as g:
        assert g.run("echo ok") == "ok\n"
        assert g.signature_algorithm == "ssh-rsa"
    assert seen.is_set()


def test_wrong_key_costs_one_ssh_rsa_retry(sshd, make_key) -> None:
    """A refused rsa-sha2 login is retried once with ssh-rsa, then reported."""
    stranger = make_key()
    g = Guest(sshd.port, sshd.user, stranger)
    with pytest.raises(HelperError, match="refused SSH key"):
        g.run("true")
    assert g.connections_opened == 2
