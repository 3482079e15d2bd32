"""Local commands: argument lists quoted for invoke's runner, with timeouts and clear errors."""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.text import last_line
from ..errors import HelperError

if TYPE_CHECKING:
    from invoke import Context

    from ..core.listeners import Listener

NOT_FOUND = 127  # what the shell returns for a missing program
NOT_EXECUTABLE = 126  # ... and for a file it may not execute


class NotInstalled(HelperError):
    """The program to run is not installed (or not on PATH)."""


@dataclass(frozen=True)
class Output:
    stdout: str
    stderr: str
    exited: int

    @property
    def ok(self) -> bool:
        return self.exited == 0

    def last_line(self) -> str:
        """What a one-line error quotes: the last line of stderr, else of stdout."""
        return last_line(self.stderr, self.stdout, default=f"exit status {self.exited}")


def run(c: Context, argv: Sequence[str], *, timeout: float, what: str = "") -> Output:
    """Run `argv` (never a shell string built from values) and return its output.

    A missing program and a time-out become one-line errors; a non-zero exit is returned for
    the caller to judge, because VBoxManage & co. report expected states through it.
    """
    from invoke.exceptions import CommandTimedOut  # invoke is loaded: `c` is its Context

    command = shlex.join(argv)
    late = f"{what or argv[0]} did not answer within {timeout:g} s: {command}"
    try:
        result = c.run(command, hide=True, warn=True, timeout=timeout, in_stream=False)
    except CommandTimedOut:
        raise HelperError(late) from None
    missing = ("not found", "No such file or directory")  # a bare name / a configured path
    if result.exited == NOT_FOUND and any(m in result.stderr for m in missing):
        raise NotInstalled(f"{argv[0]} is not installed or not on PATH ({what or 'needed here'})")
    if result.exited == NOT_EXECUTABLE and f"{argv[0]}: Permission denied" in result.stderr:
        raise HelperError(f"{argv[0]} is not executable ({what or 'needed here'})")
    return Output(result.stdout, result.stderr, result.exited)


def port_listener(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts connections on host:port (a forward that would shadow ours)."""
    import socket  # here: env.print imports this module and needs no socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def port_holders(c: Context, port: int) -> list[Listener]:
    """Who listens on 127.0.0.1:`port` (or on every address): Linux reads /proc, macOS asks
    lsof. A listener nobody may be named for (another user's) is `Listener(None)`; an empty
    list means nothing listens."""
    from ..core import listeners

    if platform() == "macos":
        argv = ["lsof", "-nP", f"-iTCP:{port}", "-sTCP:LISTEN", "-Fpc"]
        found = listeners.parse_lsof(run(c, argv, timeout=10, what="lsof").stdout)
        if not found and port_listener(port):  # lsof shows only this user's processes
            found = [listeners.Listener(None)]
        return found
    inodes: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            inodes |= listeners.listening_inodes(Path(table).read_text(), port)
    if not inodes:
        return []
    found = []
    for process in Path("/proc").glob("[0-9]*"):
        if inodes & _socket_inodes(process):
            with contextlib.suppress(OSError):
                comm = (process / "comm").read_text().strip()
                found.append(listeners.Listener(int(process.name), comm))
    return found or [listeners.Listener(None)]


def _socket_inodes(process: Path) -> set[int]:
    """The inodes of the sockets a process has open (none for one we may not look at, or one
    that ended meanwhile)."""
    from ..core.listeners import socket_inode

    found = set()
    try:
        fds = list((process / "fd").iterdir())
    except OSError:
        return found
    for fd in fds:
        try:
            inode = socket_inode(os.readlink(fd))
        except OSError:
            continue
        if inode is not None:
            found.add(inode)
    return found


def udp_port_taken(port: int, host: str = "127.0.0.1") -> bool:
    """True when a UDP socket on host:port is bound already (UDP has no listener to connect to:
    binding is the only question the port answers)."""
    import errno
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def port_taken(proto: str, port: int) -> bool:
    """Whether something on the host holds 127.0.0.1:`port` for `proto`."""
    return udp_port_taken(port) if proto == "udp" else port_listener(port)


def platform() -> str:
    return "macos" if sys.platform == "darwin" else "linux"


def interactive() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def program_name() -> str:
    """How the user called us: `docker-vpn-helper`, `invoke`, ... (`python -m` counts as ours)."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return "docker-vpn-helper" if name in ("", "-c", "__main__.py") else name


def command_line() -> str:
    """The command the user typed, to quote back in 'disconnect and re-run: ...' messages."""
    return shlex.join([program_name(), *sys.argv[1:]])
