"""kexts.restart: reload VirtualBox's kernel extensions (macOS) or modules (Linux) before a create.

A VPN client can leave VirtualBox's host-only driver unable to add its routes; a restart of the
drivers, with every VirtualBox process stopped, is the cure docker-machine users were told.
"""

from __future__ import annotations

from invoke.exceptions import AuthFailure

from ..adapters import host, preflight
from ..core import procs
from ..errors import HelperError
from ..report import say
from ..session import Session
from ..settings import LINUX_KEXT_COMMAND, MACOS_KEXT_COMMAND


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


def sudo(s: Session, command: str) -> host.Output:
    """Run `command` (a shell line) as root: passwordless sudo, a configured password, or a
    terminal prompt. A refusal to authenticate is an error; the command's own failure is
    returned for the caller to judge."""
    c = s.c
    passwordless = c.run("sudo -n true", hide=True, warn=True, in_stream=False)
    if passwordless.ok:
        result = c.run(f"sudo -n {command}", hide=True, warn=True, in_stream=False)
    else:
        if not c.config.sudo.password and not host.interactive():
            raise HelperError(
                "sudo needs a password and there is no terminal to ask for it: run this from a "
                "terminal, or provide it as INVOKE_SUDO_PASSWORD / sudo.password in invoke.yaml"
            )
        try:
            result = c.sudo(command, hide=True, warn=True)
        except AuthFailure:
            raise HelperError("sudo did not accept the password") from None
    return host.Output(result.stdout, result.stderr, result.exited)


def restart_kexts(s: Session) -> None:
    refuse_if_virtualbox_runs(s, "restarting its kernel extensions")
    command = kext_command(s)
    if command is None:
        say("VirtualBox 7 on macOS has no kernel extensions to restart: skipped")
        return
    if s.dry_run:
        say(f"would run: sudo {command}")
        return
    result = sudo(s, command)
    if not result.ok:
        raise HelperError(f"restarting VirtualBox's drivers failed: {result.last_line()}")
    say(f"restarted VirtualBox's drivers ({command})")
