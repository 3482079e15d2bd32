"""restore: what undoing one run (or every run) of this tool puts back."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import history
from ..commands import Command
from ..vbox import NatRule, VMInfo
from .base import Plan


@dataclass(frozen=True)
class RestorePlan(Plan):
    """What undoing one run (or every run: `undid` = ORIGINAL) puts back."""

    run: str  # what is undone: a backup folder's name, or history.ORIGINAL
    local: dict[Path, Path]  # {target: saved copy}
    guest: tuple[tuple[str, str], ...]  # (saved, target) in the VM
    rules: tuple[NatRule, ...] = ()  # NAT rules to delete
    vm: VMInfo | None = None  # where those rules are
    readd: NatRule | None = None  # a rule of the daemon rule's name that was there before ours
    remove: tuple[Path, ...] = ()  # files of ours docker-machine never had
    notes: tuple[str, ...] = ()
    config: dict[str, Any] | None = None  # config.json with our fields as they were at first
    partial: bool = False  # that run was stopped before it made every VM backup
    vbox_changes: tuple[Command, ...] = ()  # our host.docker.internal mapping and loopback, undone

    @property
    def changes(self) -> tuple[str, ...]:
        work = self.local or self.guest or self.rules or self.readd or self.remove or self.config
        work = work or self.vbox_changes
        return ("restore",) if work else ()

    def seen(self) -> str:
        if self.run == history.ORIGINAL:
            return "the machine is as docker-machine left it"
        return f"the run of {self.run} left nothing to put back"

    def actions(self) -> list[str]:
        done = []
        if self.local:
            done.append(f"put back {', '.join(str(p) for p in self.local)}")
        if self.config is not None:
            done.append(
                "put ServerCertSANs and HostDNSResolver back in config.json as docker-machine "
                "wrote them"
            )
        if self.remove:
            done.append(f"remove {', '.join(str(p) for p in self.remove)}")
        if self.guest:
            done.append(f"put back in the VM {vm_files(self.guest)} and restart the daemon")
        for rule in self.rules:
            done.append(f"delete NAT rule {rule.spec()!r}")
        if self.readd:
            done.append(f"add NAT rule {self.readd.spec()!r} back")
        return done + [command.describe() for command in self.vbox_changes]

    @property
    def commands(self) -> tuple[Command, ...]:
        return self.vbox_changes


def vm_files(pairs: Sequence[tuple[str, str]]) -> str:
    """What putting `pairs` back does, in words: the files it restores, those it removes (a
    file the run added, such as a root of corp.sync)."""
    back = [posixpath.basename(t) for saved, t in pairs if saved]
    gone = [posixpath.basename(t) for saved, t in pairs if not saved]
    words = [f"the previous {', '.join(back)}"] if back else []
    words += [f"without {', '.join(gone)} (added by that run)"] if gone else []
    return " and ".join(words) or "nothing"
