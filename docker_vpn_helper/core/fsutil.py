"""Local files: read one that may be missing; replace files without ever losing one (back up
first, then write atomically)."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Union

from ..errors import HelperError

PathLike = Union[str, "os.PathLike[str]"]
TEMP_SUFFIX = ".tmp"
# tempfile.mkstemp's names: our prefix `.<target name>.`, 8 random characters, our suffix.
_TEMPORARY = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


def timestamp(now: float | None = None) -> str:
    """A sortable, filesystem-safe stamp for backup folders (UTC, to the microsecond, so two
    runs in the same second keep separate folders)."""
    now = time.time() if now is None else now
    micro = round(now % 1 * 1_000_000) % 1_000_000
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{micro:06d}Z"


def read_optional(path: PathLike, what: str = "") -> bytes | None:
    """A file's bytes, or None when it does not exist (for the caller to judge); any other
    failure (permissions, a directory) is a one-line error naming `what` and the path."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        name = f"{what} {path}" if what else path
        raise HelperError(f"cannot read {name}: {exc.strerror or exc}") from None


def atomic_write(path: PathLike, data: bytes, mode: int = 0o600) -> None:
    """Write `data` to a temporary file beside `path`, fsync it and rename it over `path`.

    Readers see the old file or the new one, never half of one; the mode is set before the
    content lands, so a key is never readable by others even for an instant.
    """
    write_together([(path, data, mode)])


def write_together(files: Sequence[tuple[PathLike, bytes, int]]) -> None:
    """Replace several files as a unit (a certificate and its key): every new file is written
    and fsynced as a temporary beside its target first, then all are renamed in a row. A caller
    that a signal must not stop between two renames holds the signals around the call
    (`adapters.signals.deferred()`, as cert.issue does); only SIGKILL or a crash can then fall
    between them, and the next run sees a pair that does not match and replaces it. A failure
    before the renames leaves every target as it was and no temporary behind."""
    temps: list[tuple[str, Path]] = []
    try:
        for path, data, mode in files:
            temps.append((_temporary(Path(path), data, mode), Path(path)))
        while temps:
            tmp, target = temps[0]
            os.replace(tmp, target)
            temps.pop(0)
    except BaseException:
        for tmp, _ in temps:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise
    for directory in {Path(path).parent for path, _, _ in files}:
        _fsync_directory(directory)


def _temporary(target: Path, data: bytes, mode: int) -> str:
    """`data` in a new file beside `target`, mode set first, fsynced; its path."""
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=str(target.parent)
    )
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return tmp


def stale_temporaries(folder: Path) -> list[Path]:
    """The temporaries `write_together` leaves in `folder` when a run is killed before it
    could remove them (`.<name>.<8 random characters>.tmp`); only ever ours."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    return sorted(p for p in entries if _TEMPORARY.fullmatch(p.name) and p.is_file())


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(str(directory), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def backup_files(paths: list[Path], backup_dir: Path) -> dict[Path, Path]:
    """Copy the existing `paths` into `backup_dir` (0700, as is `backups/` above it), keeping
    modes: {original: copy}.

    A copy already there stays: a run that replaces a file twice (config.json: its SANs, then
    its DNS setting) keeps the file as it was before the run, which is what restore puts back.
    """
    existing = [p for p in paths if p.exists()]
    if existing:
        private_dir(backup_dir)
    copies = {}
    for source in existing:
        copies[source] = backup_dir / source.name
        if not copies[source].exists():
            shutil.copy2(source, copies[source])
    return copies


def private_dir(path: Path, levels: int = 2) -> None:
    """Make `path` and the `levels` - 1 folders above it (a run's folder and `backups/`)
    folders of ours: each one created is 0700 whatever the umask. A symbolic link, or anything
    but a folder, in the place of one is refused: backups written through it would land in a
    folder that is not ours."""
    for folder in reversed([path, *list(path.parents)[: levels - 1]]):
        try:
            found = os.lstat(folder)
        except FileNotFoundError:
            with contextlib.suppress(FileExistsError):
                os.mkdir(folder, 0o700)
                os.chmod(folder, 0o700)  # mkdir's mode went through the umask
            found = os.lstat(folder)
        if stat.S_ISLNK(found.st_mode):
            raise HelperError(
                f"{folder} is a symbolic link (to {os.readlink(folder)}): refusing to keep "
                "backups through it; remove the link (what it points to stays) and run the "
                "command again"
            )
        if not stat.S_ISDIR(found.st_mode):
            raise HelperError(f"{folder} is not a folder: move it away and run the command again")


def writable_target(path: Path) -> Path:
    """Where writing `path` goes: `path`, or for a symbolic link the file it points to, so the
    user's link stays a link. Only when link and file belong to the same user: a link must not
    let a run (root's) replace another user's file."""
    if not path.is_symlink():
        return path
    target = path.resolve()
    try:
        same_owner = os.lstat(path).st_uid == target.stat().st_uid
    except OSError as exc:
        raise HelperError(
            f"{path} is a link to {target}, which cannot be read: {exc.strerror}"
        ) from None
    if not same_owner or not target.is_file():
        raise HelperError(
            f"{path} is a link to {target}, which is not a file of the link's owner: not "
            "written through it"
        )
    return target


class Busy(Exception):
    """Another process holds the lock; its text names that process (`pid 4137`), `role` what
    that process wrote it does ("" when it wrote nothing more than its pid)."""

    def __init__(self, holder: str, role: str = "") -> None:
        super().__init__(holder)
        self.holder = holder
        self.role = role


class NotOurs(Exception):
    """The lock's path is a link, or not a plain file: it is never opened for writing."""


RECORD_WIDTH = 32  # the lock file's content: "<pid> <role>", padded, then a newline
HOLDER_WAIT = 1.0  # seconds a refused run waits for the holder to write its pid


def flock_holder(proc_locks: str, major: int, minor: int, inode: int) -> int | None:
    """The pid holding a flock on the file (device major:minor, inode), from /proc/locks:
    `1: FLOCK  ADVISORY  WRITE 4137 fe:00:1523962 0 EOF` (device numbers in hex); waiting
    requests (`1: -> FLOCK ...`) do not hold it."""
    wanted = (major, minor, inode)
    for line in proc_locks.splitlines():
        fields = line.split()
        if len(fields) < 6 or fields[1] != "FLOCK":
            continue
        device = fields[5].split(":")
        try:
            if (int(device[0], 16), int(device[1], 16), int(device[2])) == wanted:
                return int(fields[4])
        except (IndexError, ValueError):
            continue
    return None


def read_record(raw: bytes) -> tuple[str, str]:
    """(pid, role) from a lock file's content; ("", "") when it holds no pid, role "" when it
    holds a pid alone (written by a version before roles)."""
    words = raw.decode(errors="replace").split()
    if not words or not words[0].isdigit():
        return "", ""
    return words[0], words[1] if len(words) > 1 else ""


class ProcessLock:
    """An exclusive, non-blocking lock on a file; released when closed or when the process dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, role: str = "run") -> str:
        """Take the lock and write our pid and `role` (one word: what we hold it for) into the
        file; return the pid the file held, the last holder's ("" for a new file), so a process
        that locks again and again can tell whether another one held the lock in between."""
        import fcntl

        # O_NOFOLLOW: a link in the lock's place (in a store another user controls) must not
        # make us truncate whatever it points to; O_NONBLOCK: nor a FIFO hang the run.
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
        try:
            fd = os.open(str(self.path), flags, 0o600)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise NotOurs("a symbolic link") from None
            raise
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode) or found.st_nlink != 1:
            os.close(fd)
            raise NotOurs(
                "a hard link to another file" if stat.S_ISREG(found.st_mode) else "not a file"
            )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder, held_as = self._holder(fd)
            os.close(fd)
            raise Busy(holder, held_as) from None
        previous = read_record(os.read(fd, 64))[0]
        # One write of a fixed width, then the length: a reader never sees it empty or mixed.
        record = f"{f'{os.getpid()} {role}':<{RECORD_WIDTH}}\n".encode()
        os.pwrite(fd, record, 0)
        os.ftruncate(fd, len(record))
        self._fd = fd
        return previous

    def _holder(self, fd: int) -> tuple[str, str]:
        """Who holds the lock and what for: the pid and role it wrote, else (a run between its
        lock and its write, given a moment) the kernel's own record of the lock (Linux)."""
        deadline = time.monotonic() + HOLDER_WAIT
        while True:
            pid, role = read_record(os.pread(fd, 64, 0))
            if pid:
                return f"pid {pid}", role
            if time.monotonic() >= deadline:
                break
            time.sleep(0.01)
        found = os.fstat(fd)
        try:
            with open("/proc/locks") as table:
                pid = flock_holder(
                    table.read(), os.major(found.st_dev), os.minor(found.st_dev), found.st_ino
                )
        except OSError:
            pid = None
        if pid is not None:
            return f"pid {pid}", ""
        return f"one that has not written its pid into {self.path} yet", ""

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
