"""Who listens on a host TCP port: parsing what Linux's /proc and macOS's lsof say. Pure: the
adapter (adapters/host.port_holders) reads the files and runs the command.

Linux: `/proc/net/tcp` (and `tcp6`) list every socket of the network namespace, one per line:
`sl local_address rem_address st ... uid timeout inode`, addresses as hex `IP:PORT` (IPv4 in
host byte order, so 127.0.0.1 is `0100007F`), state `0A` for LISTEN. A process holds a socket
when one of its `/proc/<pid>/fd/*` links reads `socket:[<inode>]`; its name is
`/proc/<pid>/comm`. Sockets of other users' processes are listed, their fds are not readable:
such a listener is known to exist, not by whom.

macOS: `lsof -nP -iTCP:<port> -sTCP:LISTEN -Fpc` prints one field per line, `p<pid>` then
`c<command>` for each process (lsof without root shows only the user's own processes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

LISTEN = "0A"
# Addresses whose listener holds 127.0.0.1:<port>: loopback itself and the wildcards.
_HOLDING_V4 = {"0100007F", "00000000"}
_HOLDING_V6 = {"0" * 32, "0000000000000000FFFF00000100007F"}
_SOCKET_LINK = re.compile(r"^socket:\[(\d+)\]$")
# The processes in which VirtualBox runs a VM, and with it the VM's NAT port-forwards: all of
# one VM's rules are held by the same process.
VIRTUALBOX_VM_PROCESSES = ("VBoxHeadless", "VirtualBoxVM", "VirtualBox")


@dataclass(frozen=True)
class Listener:
    """A process listening on the port; `pid` None: one we may not look at (another user's)."""

    pid: int | None
    program: str = ""

    def describe(self) -> str:
        if self.pid is None:
            return "a program of another user"
        return f"{self.program or 'a program'} (pid {self.pid})"


def unnamed_holder(port: int, proto: str = "tcp") -> str:
    """A program holding 127.0.0.1:`port` that a probe found but did not name, with the
    command that names it."""
    state = " -sTCP:LISTEN" if proto == "tcp" else ""
    return f"another program (see `lsof -nP -i{proto.upper()}:{port}{state}`)"


def listening_inodes(proc_net_tcp: str, port: int) -> set[int]:
    """Inodes of the LISTEN sockets in /proc/net/tcp or tcp6 text that hold 127.0.0.1:`port`
    (bound to loopback or to every address)."""
    found = set()
    for line in proc_net_tcp.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != LISTEN:
            continue
        address, _, hex_port = fields[1].rpartition(":")
        try:
            if int(hex_port, 16) != port:
                continue
            inode = int(fields[9])
        except ValueError:
            continue
        if address.upper() in _HOLDING_V4 | _HOLDING_V6:
            found.add(inode)
    return found


def socket_inode(link: str) -> int | None:
    """The inode of an fd link `socket:[12345]`, None for any other kind of file."""
    match = _SOCKET_LINK.match(link)
    return int(match.group(1)) if match else None


def parse_lsof(text: str) -> list[Listener]:
    """`lsof -Fpc` output: one Listener per `p` line, named by the `c` line after it."""
    found: list[Listener] = []
    for line in text.splitlines():
        if line.startswith("p") and line[1:].isdigit():
            found.append(Listener(int(line[1:])))
        elif line.startswith("c") and found and not found[-1].program:
            found[-1] = Listener(found[-1].pid, line[1:])
    return found


def forwards_for_the_vm(holder: Listener, ssh_holders: Iterable[Listener]) -> bool:
    """Whether `holder` is the VM's own NAT forward: the process that also forwards the VM's
    SSH port. VirtualBox holds every rule of a VM in that VM's process (VBoxHeadless), so a
    VirtualBox process counts only by its pid (another VM's would be a thief), unless the SSH
    forward's holder cannot be seen. A NAT engine that runs one process per rule (the lab's
    relays) counts by its program."""
    ssh = [h for h in ssh_holders if h.pid is not None]
    if holder.pid is None:
        return False
    if any(h.pid == holder.pid for h in ssh):
        return True
    if holder.program in VIRTUALBOX_VM_PROCESSES:
        return not ssh
    return any(h.program == holder.program for h in ssh)
