"""What every stage task shares: its flags, their help, and how it runs its stage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from invoke import task

if TYPE_CHECKING:
    from ..session import Session

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


def session(c, machine, storage_path, port, dry_run, *, lock: bool) -> Session:
    """The run's Session for the machine the flags name, which the executor owns and hands to
    the task through its context; with `lock`, holding the machine's lock."""
    from ..errors import HelperError

    if not hasattr(c, "sessions"):  # a plain invoke Context: not run by the MachineExecutor
        raise HelperError(
            "this task runs with docker-vpn-helper's executor: set tasks.executor_class to "
            "docker_vpn_helper.executor.MachineExecutor in invoke's configuration"
        )
    return c.session(machine, storage_path, port, dry_run, lock=lock)


def run_stage(c, stage_to_run, machine, storage_path, port, dry_run, **options: Any) -> Any:
    """Run one stage for the machine the flags name, holding its lock unless dry; its plan, as
    applied.

    The stages' machinery is imported here, not at the top: `--list` and `env.print` never
    load it.
    """
    from ..stages import step

    s = session(c, machine, storage_path, port, dry_run, lock=not dry_run)
    return step(s, stage_to_run, **options)
