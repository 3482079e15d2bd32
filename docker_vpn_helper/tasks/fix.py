"""fix: every stage in order for each machine, ending with the environment to export."""

from __future__ import annotations

from invoke import task

from ..report import banner, say
from . import cert, corp, daemon, dns, kube, nat, ports
from . import machine as machine_tasks
from .common import MINIKUBE_HELP, SHARED_HELP, session

FIX_HELP = {
    **SHARED_HELP,
    "machine": "docker-machine name; repeat it to fix several, of which the first one's "
    "environment is printed (default: vpnhelper.machine)",
    "all": "fix every machine of the store (each keeps its own host port); prints the first "
    "one's environment",
    "shell": "format of the environment printed at the end (default: from $SHELL)",
    "create": "create the machine if the store lacks it (without this, only a store's first "
    "machine is created)",
    **MINIKUBE_HELP,
}


@task(
    pre=[
        machine_tasks.create,
        nat.forward,
        cert.issue,
        cert.deploy,
        daemon.restart,
        corp.sync,
        ports.sync,
        dns.host_resolver,
        dns.host_names,
        kube.apiserver,
    ],
    help=FIX_HELP,
    iterable=["machine"],
    auto_shortflags=False,
)
def fix(
    c,
    machine=None,
    storage_path=None,
    port=0,
    dry_run=False,
    shell=None,
    all_=False,
    create=False,
    minikube=False,
    profile="",
):
    """Repair a machine behind the VPN, then print its environment for eval.

    The stages in order: create/start, forward, certificate, deploy, restart, the host's trusted
    roots and proxy, the containers' published ports, the VM's DNS, host.docker.internal; then
    the environment.

    Given several machines (or --all), it runs for each in turn and prints the environment of
    the first: one eval sets one machine's variables.
    """
    from dataclasses import replace

    from ..environment import render, rerun_command

    s = session(c, machine, storage_path, port, dry_run, lock=not dry_run)
    changes = ", ".join(s.changes())
    if s.dry_run:
        summary = f"dry run: would change {changes}" if changes else "dry run: nothing to change"
    else:
        summary = f"changed {changes}" if changes else "already fixed: nothing changed"
    printing = c.printing  # the executor says whether this machine's environment is printed
    if not printing.prints:
        command = rerun_command(s.settings, shell, storage_path)
        banner(s.name, f"Done ({summary}); its environment, not printed: {command}")
        return
    banner(s.name, f"Done ({summary}); the environment to export follows on stdout")
    if printing.others:
        others = [
            rerun_command(
                replace(s.settings, machine=name, port_source="config"), shell, storage_path
            )
            for name in printing.others
        ]
        say(
            f"prints the environment of {s.name!r} only (one eval sets one machine's "
            f"variables); for the others: {'; '.join(others)}"
        )
    print(render(replace(s.settings, host_port=s.port), shell, False, storage_path), end="")
