"""VirtualBox's kernel extensions (macOS) or modules (Linux): the command that restarts them,
and the check that VirtualBox is not running while they restart (kexts.restart, machine.create).
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from ..core import procs
from ..core.commands import Command
from ..errors import HelperError
from ..settings import LINUX_KEXT_COMMAND, MACOS_KEXT_COMMAND, Settings
from . import host, preflight
from .sudo import as_root

if TYPE_CHECKING:
    from invoke import Context

    from .vboxmanage import VBoxManage


def kext_command(settings: Settings, vbox: VBoxManage) -> Command | None:
    """The restart for this host, as root (vpnhelper.kext_command is split like a shell's
    words), or None when there is nothing to restart (VirtualBox 7 on macOS)."""
    line = settings.kext_command or LINUX_KEXT_COMMAND
    if not settings.kext_command and host.platform() == "macos":
        if vbox.version()[0] >= 7:
            return None
        line = MACOS_KEXT_COMMAND
    remedy = (
        "to restart them another way, set vpnhelper.kext_command (or INVOKE_VPNHELPER_KEXT_COMMAND) "
        f"to that command, in place of `{line}`"
    )
    return as_root(shlex.split(line), "restarting VirtualBox's drivers", remedy=remedy)


def restarted(command: Command) -> str:
    """What a run says once the drivers' restart `command` succeeded."""
    return f"restarted VirtualBox's drivers ({command.line()})"


def refuse_if_virtualbox_runs(c: Context, action: str, rerun: str) -> None:
    running = preflight.virtualbox_processes(c)
    if running:
        raise HelperError(
            f"VirtualBox is running ({procs.describe(running)}): stop the VMs and quit VirtualBox "
            f"before {action}, then re-run: {rerun}"
        )
