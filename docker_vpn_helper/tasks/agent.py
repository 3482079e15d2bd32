"""agent.install, agent.uninstall, agent.status"""

from __future__ import annotations

from invoke import task
from invoke.exceptions import Exit

from .common import SHARED_HELP, session

AGENT_HELP = {key: SHARED_HELP[key] for key in ("machine", "storage-path", "dry-run")}


def _session(c, machine, storage_path, dry_run):
    """The machine's Session, without its lock: the agent's files are the user's, not the
    machine's, and a watch may be syncing."""
    return session(c, machine, storage_path, 0, dry_run, lock=False)


@task(help=AGENT_HELP, auto_shortflags=False)
def install(c, machine=None, storage_path=None, dry_run=False):
    """Run ports.watch for the machine at every login (launchd on macOS, systemd on Linux)."""
    from ..stages import step
    from ..stages.agent import INSTALL

    step(_session(c, machine, storage_path, dry_run), INSTALL)


@task(help=AGENT_HELP, auto_shortflags=False)
def uninstall(c, machine=None, storage_path=None, dry_run=False):
    """Stop the machine's login agent and remove its file (its log stays)."""
    from ..stages import step
    from ..stages.agent import UNINSTALL

    step(_session(c, machine, storage_path, dry_run), UNINSTALL)


@task(help={key: AGENT_HELP[key] for key in ("machine", "storage-path")}, auto_shortflags=False)
def status(c, machine=None, storage_path=None):
    """Say whether the machine's login agent is installed and running (exit 1 unless both)."""
    from ..stages.agent import status as agent_status

    lines, healthy = agent_status(_session(c, machine, storage_path, True))
    print("\n".join(lines))
    if not healthy:
        raise Exit(code=1)
