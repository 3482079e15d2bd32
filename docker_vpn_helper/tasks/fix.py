"""fix: every stage in order for one machine, ending with the environment to export."""

from __future__ import annotations

from invoke import task

from ..report import banner
from ..session import session_for
from ..stages.env import render
from . import cert, daemon, machine, nat
from .common import SHARED_HELP

FIX_HELP = {
    **SHARED_HELP,
    "shell": "format of the environment printed at the end (default: from $SHELL)",
}


@task(
    pre=[machine.create, nat.forward, cert.issue, cert.deploy, daemon.restart],
    help=FIX_HELP,
    auto_shortflags=False,
)
def fix(c, machine=None, storage_path=None, port=0, dry_run=False, shell=None):
    """Repair a machine behind the VPN: create/start, forward, certificate, deploy, restart, env."""
    s = session_for(c, machine, storage_path, port, dry_run)
    if s.dry_run:
        summary = (
            f"dry run: would change {', '.join(sorted(s.changed))}"
            if s.changed
            else "dry run: nothing to change"
        )
    else:
        summary = (
            f"changed {', '.join(sorted(s.changed))}"
            if s.changed
            else "already fixed: nothing changed"
        )
    banner(s.name, f"Done ({summary}); the environment to export follows on stdout")
    print(render(s.settings, shell, False, storage_path), end="")
