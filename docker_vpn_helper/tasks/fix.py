"""fix: every stage in order for each machine, ending with the environment to export."""

from __future__ import annotations

from invoke import task

from ..report import banner
from . import cert, daemon, dns, nat, ports
from . import machine as machine_tasks
from .common import SHARED_HELP

FIX_HELP = {
    **SHARED_HELP,
    "machine": "docker-machine name; repeat it to fix several (default: vpnhelper.machine)",
    "all": "fix every machine of the store (each keeps its own host port)",
    "shell": "format of the environment printed at the end (default: from $SHELL)",
}


@task(
    pre=[
        machine_tasks.create,
        nat.forward,
        cert.issue,
        cert.deploy,
        daemon.restart,
        ports.sync,
        dns.host_resolver,
    ],
    help=FIX_HELP,
    iterable=["machine"],
    auto_shortflags=False,
)
def fix(c, machine=None, storage_path=None, port=0, dry_run=False, shell=None, all_=False):
    """Repair a machine behind the VPN: create/start, forward, certificate, deploy, restart, the
    containers' published ports, the VM's DNS, then the environment.

    Given several machines (or --all), it runs for each in turn.
    """
    from dataclasses import replace

    from ..session import session_for
    from ..stages.env import render

    s = session_for(c, machine, storage_path, port, dry_run)
    changes = ", ".join(s.changes())
    if s.dry_run:
        summary = f"dry run: would change {changes}" if changes else "dry run: nothing to change"
    else:
        summary = f"changed {changes}" if changes else "already fixed: nothing changed"
    banner(s.name, f"Done ({summary}); the environment to export follows on stdout")
    print(render(replace(s.settings, host_port=s.port), shell, False, storage_path), end="")
