"""read_optional: a local file that may be missing, and only that; ProcessLock; files
replaced as a unit."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from docker_vpn_helper.core.fsutil import (
    RECORD_WIDTH,
    Busy,
    NotOurs,
    ProcessLock,
    backup_files,
    flock_holder,
    private_dir,
    read_optional,
    stale_temporaries,
    writable_target,
    write_together,
)
from docker_vpn_helper.errors import HelperError


def test_a_file_is_read_whole(tmp_path: Path):
    path = tmp_path / "server.pem"
    path.write_bytes(b"pem\x00\xff")
    assert read_optional(path) == b"pem\x00\xff"
    assert read_optional(str(path)) == b"pem\x00\xff"


def test_a_missing_file_is_none(tmp_path: Path):
    assert read_optional(tmp_path / "server.pem") is None


def test_any_other_failure_is_one_line_naming_the_file(tmp_path: Path):
    folder = tmp_path / "ca-key.pem"
    folder.mkdir()
    with pytest.raises(
        HelperError, match=f"^cannot read {re.escape(str(folder))}: Is a directory$"
    ):
        read_optional(folder)
    with pytest.raises(HelperError, match=f"^cannot read CA key {re.escape(str(folder))}: "):
        read_optional(folder, "CA key")


def test_the_lock_names_its_last_holder_and_refuses_a_second_one(tmp_path: Path):
    path = tmp_path / ".lock"
    first = ProcessLock(path)
    assert first.acquire() == ""  # a new lock file: nobody held it
    with pytest.raises(Busy, match=f"^pid {os.getpid()}$"):
        ProcessLock(path).acquire()
    first.release()
    path.write_text("4242")  # another process held it since, and let go (before roles)
    again = ProcessLock(path)
    assert again.acquire("sync") == "4242"
    assert path.read_text().split() == [str(os.getpid()), "sync"]
    again.release()
    path.write_text("4343 run")
    assert ProcessLock(path).acquire() == "4343"


def test_a_refused_run_learns_what_the_holder_holds_the_lock_for(tmp_path: Path):
    path = tmp_path / ".lock"
    first = ProcessLock(path)
    first.acquire("sync")
    with pytest.raises(Busy) as refused:
        ProcessLock(path).acquire()
    assert (refused.value.holder, refused.value.role) == (f"pid {os.getpid()}", "sync")
    first.release()


# -- files replaced as a unit ------------------------------------------------------------------


def test_files_written_together_replace_their_targets_with_their_modes(tmp_path: Path):
    key, cert = tmp_path / "server-key.pem", tmp_path / "server.pem"
    key.write_bytes(b"old key")
    write_together([(key, b"new key", 0o600), (cert, b"new cert", 0o644)])
    assert (key.read_bytes(), cert.read_bytes()) == (b"new key", b"new cert")
    assert (key.stat().st_mode & 0o777, cert.stat().st_mode & 0o777) == (0o600, 0o644)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["server-key.pem", "server.pem"]


def test_a_failure_before_the_renames_changes_nothing_and_leaves_no_temporary(tmp_path: Path):
    key, cert = tmp_path / "server-key.pem", tmp_path / "server.pem"
    key.write_bytes(b"old key")
    cert.write_bytes(b"old cert")
    missing = tmp_path / "gone" / "x.pem"  # its temporary cannot be made
    with pytest.raises(FileNotFoundError):
        write_together([(key, b"new key", 0o600), (cert, b"new cert", 0o644), (missing, b"", 0)])
    assert (key.read_bytes(), cert.read_bytes()) == (b"old key", b"old cert")
    assert stale_temporaries(tmp_path) == []


def test_stale_temporaries_are_only_the_ones_atomic_writes_make(tmp_path: Path):
    for name in (".server.pem.ab_c12x9.tmp", ".config.json.k3j2h1g0.tmp", "notes.tmp", ".x.tmp"):
        (tmp_path / name).write_text("")
    assert [p.name for p in stale_temporaries(tmp_path)] == [
        ".config.json.k3j2h1g0.tmp",
        ".server.pem.ab_c12x9.tmp",
    ]


# -- files that are not ours ---------------------------------------------------------------------


def test_backup_folders_are_0700_whatever_the_umask(tmp_path: Path):
    previous = os.umask(0)
    try:
        private_dir(tmp_path / "backups" / "20260101T000000.000000Z")
    finally:
        os.umask(previous)
    for folder in (tmp_path / "backups", tmp_path / "backups" / "20260101T000000.000000Z"):
        assert folder.stat().st_mode & 0o777 == 0o700


def test_a_backups_folder_that_is_a_link_is_refused(tmp_path: Path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "backups").symlink_to(elsewhere)
    with pytest.raises(HelperError, match=r"backups is a symbolic link \(to .*elsewhere\)"):
        backup_files([a_file(tmp_path)], tmp_path / "backups" / "run")
    assert list(elsewhere.iterdir()) == []


def a_file(tmp_path: Path) -> Path:
    source = tmp_path / "server.pem"
    source.write_text("pem")
    return source


def test_a_link_to_a_file_of_the_same_owner_is_written_through(tmp_path: Path):
    real = tmp_path / "dotfiles" / "config.json"
    real.parent.mkdir()
    real.write_text("{}")
    link = tmp_path / "config.json"
    link.symlink_to(real)
    assert writable_target(link) == real
    assert writable_target(real) == real


def test_a_link_to_another_users_file_is_refused(tmp_path: Path):
    if os.geteuid() != 0:
        pytest.skip("needs root to give the file to another user")
    real = tmp_path / "theirs.json"
    real.write_text("{}")
    os.chown(real, 65534, 65534)
    link = tmp_path / "config.json"
    link.symlink_to(real)
    with pytest.raises(HelperError, match="not a file of the link's owner: not written through"):
        writable_target(link)


@pytest.mark.parametrize("kind", ["symlink", "hardlink", "fifo"])
def test_a_lock_file_that_is_not_ours_is_refused_and_left_alone(tmp_path: Path, kind):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    lock = tmp_path / ".docker-vpn-helper.lock"
    if kind == "symlink":
        lock.symlink_to(victim)
    elif kind == "hardlink":
        os.link(victim, lock)
    else:
        os.mkfifo(lock)
    with pytest.raises(NotOurs):
        ProcessLock(lock).acquire()
    assert victim.read_text() == "precious\n"


# -- the lock's holder ---------------------------------------------------------------------------

PROC_LOCKS = """\
1: POSIX  ADVISORY  WRITE 512 fe:00:99 0 EOF
2: FLOCK  ADVISORY  WRITE 4137 fe:00:1523962 0 EOF
2: -> FLOCK  ADVISORY  WRITE 4200 fe:00:1523962 0 EOF
"""


def test_the_kernel_names_a_flock_holder():
    assert flock_holder(PROC_LOCKS, 0xFE, 0, 1523962) == 4137
    assert flock_holder(PROC_LOCKS, 0xFE, 0, 99) is None  # a POSIX lock, not ours
    assert flock_holder("", 0xFE, 0, 1523962) is None


HOLD = (
    "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT);"
    " fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(30)"
)


@pytest.mark.parametrize("writes_its_pid", [True, False])
def test_a_refused_run_names_the_holder(tmp_path: Path, writes_its_pid):
    """Even a holder between its lock and its pid (or one that never writes it) is named."""
    lock = tmp_path / ".docker-vpn-helper.lock"
    if writes_its_pid:
        first = ProcessLock(lock)
        first.acquire()
        with pytest.raises(Busy, match=f"^pid {os.getpid()}$"):
            ProcessLock(lock).acquire()
        first.release()
        assert lock.read_text() == f"{f'{os.getpid()} run':<{RECORD_WIDTH}}\n"
        return
    if not Path("/proc/locks").exists():
        pytest.skip("the kernel's lock table is Linux's")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock)], stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == b"locked\n"  # type: ignore[union-attr]
        with pytest.raises(Busy, match=f"^pid {holder.pid}$"):
            ProcessLock(lock).acquire()
    finally:
        holder.kill()
        holder.wait()
