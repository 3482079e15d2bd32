"""What every stage task shares: its flags, their help, and the banner it prints."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from invoke import task

from ..executor import PLANNED
from ..report import banner

if TYPE_CHECKING:
    from ..session import Session

SHARED_HELP = {
    "machine": "docker-machine name (default: vpnhelper.machine, else 'default')",
    "storage-path": "docker-machine store (default: $MACHINE_STORAGE_PATH, else ~/.docker/machine)",
    "port": "host port forwarded to the daemon on 127.0.0.1 (default: the machine's remembered "
    "port, else vpnhelper.host_port (2376) or the next free one)",
    "dry-run": "plan only: say what would change, change nothing",
}


def stage(*pre: Any, **help: str) -> Callable[[Callable[..., Any]], Any]:
    """An invoke task taking the shared flags, run after its prerequisite stages `pre`.

    The MachineExecutor hands the shared flags down to `pre`, so a stage and its
    prerequisites always act on the same machine.
    """
    return task(pre=list(pre), help={**SHARED_HELP, **help}, auto_shortflags=False)


def planned(c, task: Any) -> bool:
    """Whether this command runs `task`, itself or as a prerequisite (per the MachineExecutor)."""
    return task in c.config.get(PLANNED, ())


def begin(c, title: str, machine, storage_path, port, dry_run) -> Session:
    """The run's Session for these flags, after the stage's banner (`{port}` in `title` is the
    machine's host port).

    Imported here, not at the top: `--list` and `env.print` never load the stages' machinery.
    """
    from ..session import session_for

    s = session_for(c, machine, storage_path, port, dry_run)
    banner(s.name, title.format(port=s.settings.host_port))
    return s
