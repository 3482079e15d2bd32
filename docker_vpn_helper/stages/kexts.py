"""kexts.restart: reload VirtualBox's kernel extensions (macOS) or modules (Linux) before a create.

A VPN client can leave VirtualBox's host-only driver unable to add its routes; a restart of the
drivers, with every VirtualBox process stopped, is the cure docker-machine users were told.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..adapters import host, preflight
from ..adapters.sudo import sudo
from ..core import procs
from ..errors import HelperError
from ..report import say
from ..session import Session
from ..settings import LINUX_KEXT_COMMAND, MACOS_KEXT_COMMAND
from . import Stage


@dataclass(frozen=True)
class KextPlan:
    command: str | None  # None: nothing to restart (VirtualBox 7 on macOS)

    @property
    def changes(self) -> tuple[str, ...]:
        return ("kexts",) if self.command else ()

    def seen(self) -> str:
        return "VirtualBox 7 on macOS has no kernel extensions to restart: skipped"

    def actions(self) -> list[str]:
        return [f"run: sudo {self.command}"] if self.command else []


def refuse_if_virtualbox_runs(s: Session, action: str) -> None:
    running = preflight.virtualbox_processes(s.c)
    if running:
        raise HelperError(
            f"VirtualBox is running ({procs.describe(running)}): stop the VMs and quit VirtualBox "
            f"before {action}, then re-run: {s.rerun_hint()}"
        )


def kext_command(s: Session) -> str | None:
    """The restart command for this host, or None when there is nothing to restart."""
    if s.settings.kext_command:
        return s.settings.kext_command
    if host.platform() == "macos":
        major = s.vbox.version()[0]
        if major >= 7:
            return None
        return MACOS_KEXT_COMMAND
    return LINUX_KEXT_COMMAND


def plan(s: Session) -> KextPlan:
    refuse_if_virtualbox_runs(s, "restarting its kernel extensions")
    return KextPlan(kext_command(s))


def apply(s: Session, plan: KextPlan) -> None:
    assert plan.command is not None
    result = sudo(s.c, plan.command)
    if not result.ok:
        raise HelperError(f"restarting VirtualBox's drivers failed: {result.last_line()}")
    say(f"restarted VirtualBox's drivers ({plan.command})")


STAGE = Stage("kexts.restart", "Restarting VirtualBox's kernel extensions", plan, apply)
