"""Find VirtualBox processes in `ps` output. Pure: the caller runs `ps`.

The command parsed is exactly::

    ps -axo pid=,comm=

which both BSD/macOS `ps` and Linux procps-ng accept: every process, no header (the `=` empties
the column titles), one `PID COMM` per line with the PID right-aligned. `comm` differs:

* macOS prints the executable's full path, which may contain spaces
  (`/Applications/VirtualBox.app/Contents/MacOS/VBoxHeadless`), and `(name)` for a zombie;
* Linux prints the kernel's task name: a basename cut to 15 characters (`VBoxXPCOMIPCD`,
  `VBoxHeadless`; `kworker/0:1` for kernel threads), and `name <defunct>` for a zombie.

So a line is `PID`, blanks, then the rest of the line is the command. Every VirtualBox process
name is at most 15 characters, so the Linux truncation never hides one, and exact matching never
mistakes a truncated longer name (`VBoxManageHelpe`) for one.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

VIRTUALBOX_PROCESS_NAMES: tuple[str, ...] = (
    "VirtualBox",
    "VirtualBoxVM",
    "VBoxHeadless",
    "VBoxSVC",
    "VBoxXPCOMIPCD",
    "VBoxNetDHCP",
    "VBoxNetNAT",
    "VBoxManage",
    "vboxwebsrv",
)

_LINE = re.compile(r"^\s*(?P<pid>\d+)\s+(?P<command>\S.*?)\s*$")
_DEFUNCT = " <defunct>"


@dataclass(frozen=True)
class Process:
    """`name` is the executable's basename; `command` is the `comm` column as printed."""

    pid: int
    name: str
    command: str


def _basename(command: str) -> str:
    name = command
    if name.endswith(_DEFUNCT):
        name = name[: -len(_DEFUNCT)].rstrip()
    if len(name) > 2 and name[0] == "(" and name[-1] == ")":
        name = name[1:-1]
    # Only a path (macOS) is cut to its basename: Linux task names such as `kworker/0:1` keep
    # their slash.
    if name.startswith("/") or name.startswith("./"):
        name = name.rsplit("/", 1)[-1]
    return name


def parse_ps(text: str) -> list[Process]:
    """Parse `ps -axo pid=,comm=` output; lines that do not start with a PID are skipped.

    A header line (`PID COMMAND`, if someone ran `ps` without `=`) is skipped that way too.
    """
    processes: list[Process] = []
    for line in text.splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        command = match.group("command")
        name = _basename(command)
        if not name:
            continue
        processes.append(Process(pid=int(match.group("pid")), name=name, command=command))
    return processes


def virtualbox_processes(
    processes: Iterable[Process], exclude_pids: Collection[int] = ()
) -> list[Process]:
    """The processes whose basename is exactly one of VIRTUALBOX_PROCESS_NAMES (case-sensitive).

    `exclude_pids` drops e.g. our own `VBoxManage` child.
    """
    wanted = frozenset(VIRTUALBOX_PROCESS_NAMES)
    excluded = frozenset(exclude_pids)
    return [p for p in processes if p.name in wanted and p.pid not in excluded]


def describe(processes: Iterable[Process]) -> str:
    """`VBoxHeadless (pid 812), VBoxSVC (pid 790)`; an empty string for no processes."""
    return ", ".join(f"{p.name} (pid {p.pid})" for p in processes)
