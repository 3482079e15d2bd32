"""Local files: read one that may be missing; replace files without ever losing one (back up
first, then write atomically)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Union

from ..errors import HelperError

PathLike = Union[str, "os.PathLike[str]"]


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
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=str(target.parent))
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(target.parent)


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
    """Copy the existing `paths` into `backup_dir` (0700), keeping modes: {original: copy}.

    A copy already there stays: a run that replaces a file twice (config.json: its SANs, then
    its DNS setting) keeps the file as it was before the run, which is what restore puts back.
    """
    existing = [p for p in paths if p.exists()]
    if existing:
        backup_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    copies = {}
    for source in existing:
        copies[source] = backup_dir / source.name
        if not copies[source].exists():
            shutil.copy2(source, copies[source])
    return copies


class Busy(Exception):
    """Another process holds the lock; its text names that process."""


class ProcessLock:
    """An exclusive, non-blocking lock on a file; released when closed or when the process dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> str:
        """Take the lock and write our pid into the file; return the pid the file held, the
        last holder's ("" for a new file), so a process that locks again and again can tell
        whether another one held the lock in between."""
        import fcntl

        fd = os.open(str(self.path), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise Busy(f"pid {holder}") from None
        previous = os.read(fd, 64).decode(errors="replace").strip()
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return previous

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
