"""Commands as values: what a plan will run, exactly, before anything runs.

The adapters that run a command build it (adapters/vboxmanage.py, docker_machine.py, sudo.py,
drivers.py; the guest's scripts in core/guestscripts.py); a plan holds it; apply runs exactly
that value; `--dry-run` prints it with `line()`, which a user can copy and run.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Literal

if TYPE_CHECKING:
    from .vbox import NatRule

Where = Literal["host", "sudo", "guest"]


@dataclass(frozen=True)
class Command:
    """One command: its argv and where it runs (`host`: as the user; `sudo`: as root on the
    host, `sudo` then argv; `guest`: in the VM over the run's SSH connection, its shell form
    being the remote command line). `what` says it for messages; `timeout` in seconds.
    `shown`: for a guest script of many lines, the one shell line of it that does the work
    (e.g. the detached `/etc/init.d/docker restart`), which a dry run prints instead.
    `remedy`: what the user can do when it fails, said after the failure (`failure`)."""

    argv: tuple[str, ...]
    where: Where = "host"
    what: str = ""
    timeout: float = 60.0
    shown: str = ""
    remedy: str = ""

    def failure(self, detail: str) -> str:
        """The one line saying this command failed: what it did, `detail` (its last output
        line) and the remedy when it has one."""
        if not self.remedy:
            return f"{self.what} failed: {detail}"
        return f"{self.what} failed: {detail.rstrip('.')}; {self.remedy}"

    def shell(self) -> str:
        """The argv as one shell line (what the host's runner and the guest's sshd run)."""
        return shlex.join(self.argv)

    def line(self) -> str:
        """What a dry run prints: a line that runs this command where it would run."""
        if self.shown:
            return self.shown
        if self.where == "sudo":
            return f"sudo {self.shell()}"
        return self.shell()

    def describe(self, why: str = "") -> str:
        """The plan's action line for this command ("would " comes before it); `why` follows
        as a shell comment, so the line after "run: " still runs as it is."""
        where = "run in the VM" if self.where == "guest" else "run"
        return f"{where}: {self.line()}" + (f"  # {why}" if why else "")


@dataclass(frozen=True)
class RuleEdits:
    """How one VM's NAT rules change, as commands (VBoxManage.rule_edits builds them for the
    VM's NAT adapter and state): planners call these to put the exact commands in a plan."""

    add: Callable[[NatRule], Command]
    delete: Callable[[NatRule], Command]
