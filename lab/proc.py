"""Process helpers: bounded commands, detached daemons, and waiting for death the reliable way."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

DEFAULT_TIMEOUT = 30.0


def run(
    argv: Sequence[str],
    *,
    check: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run a local command (never a shell string) with a timeout, capturing text output."""
    result = subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}"
        )
    return result


def spawn_daemon(argv: Sequence[str], log: Path) -> int:
    """Start a long-lived lab process detached from the caller (own session, no inherited pipes).

    Callers often capture our output; a daemon holding their pipe open would make them hang.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        child = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    return child.pid


def state(pid: int) -> str | None:
    """The one-letter state from /proc/PID/status, or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("State:"):
                    return line.split()[1]
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def alive(pid: int | None) -> bool:
    """True for a live process; a zombie counts as dead (`kill -0` would say otherwise)."""
    return bool(pid) and state(pid) not in (None, "Z", "X")  # type: ignore[arg-type]


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def wait_dead(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        _reap(pid)
        time.sleep(0.02)
    _reap(pid)
    return True


def _reap(pid: int) -> None:
    """Collect our own dead children so they do not linger as zombies (PID 1 here may not reap)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def kill(pid: int | None, sig: int = signal.SIGKILL, wait: float = 5.0) -> None:
    """Signal a process and, for SIGKILL, wait until it is really gone."""
    if not alive(pid):
        return
    try:
        os.kill(pid, sig)  # type: ignore[arg-type]
    except ProcessLookupError:
        return
    if sig == signal.SIGKILL:
        wait_dead(pid, wait)  # type: ignore[arg-type]


def all_pids() -> Iterator[int]:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            yield int(entry)


def parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def ancestors() -> set[int]:
    """This process and the ones it runs under (e.g. `sudo DVH_LAB_DIR=... pytest`, whose
    command line names the lab): what a clean-up must spare."""
    found = {os.getpid()}
    pid: int | None = os.getpid()
    while pid and pid > 1:
        pid = parent(pid)
        found.add(pid or 0)
    return found


def children(pid: int) -> list[int]:
    return [p for p in all_pids() if parent(p) == pid]


def netns_inode(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None
