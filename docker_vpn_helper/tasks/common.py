"""What every stage task shares: its flags, their help, and how it runs its stage."""

from __future__ import annotations

from typing import Any, Callable

from invoke import task

SHARED_HELP = {
    "machine": "docker-machine name (default: vpnhelper.machine, else 'default')",
    "storage-path": "docker-machine store (default: $MACHINE_STORAGE_PATH, else ~/.docker/machine)",
    "port": "host port forwarded to the daemon on 127.0.0.1 (default: the machine's remembered "
    "port, else vpnhelper.host_port (2376) or the next free one)",
    "dry-run": "plan only: say what would change, change nothing",
}
MINIKUBE_HELP = {
    "minikube": "the VM of a minikube profile (VirtualBox driver): the store is minikube's home "
    "($MINIKUBE_HOME or ~/.minikube), the machine the profile",
    "profile": "with --minikube: the minikube profile (default: minikube)",
}


def stage(*pre: Any, **help: str) -> Callable[[Callable[..., Any]], Any]:
    """An invoke task taking the shared flags, run after its prerequisite stages `pre`.

    The MachineExecutor hands the shared flags down to `pre`, so a stage and its
    prerequisites always act on the same machine.
    """
    return task(pre=list(pre), help={**SHARED_HELP, **help}, auto_shortflags=False)


def run_stage(c, stage_to_run, machine, storage_path, port, dry_run, **options: Any) -> Any:
    """Run one stage for the machine the flags name; its plan, as applied.

    The stages' machinery is imported here, not at the top: `--list` and `env.print` never
    load it.
    """
    from ..session import session_for
    from ..stages import step

    s = session_for(c, machine, storage_path, port, dry_run)
    return step(s, stage_to_run, **options)
