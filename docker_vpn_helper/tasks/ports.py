"""ports.sync, ports.watch"""

from __future__ import annotations

from . import daemon
from .common import run_stage, stage


@stage(daemon.restart)
def sync(c, machine=None, storage_path=None, port=0, dry_run=False):
    """Forward every port the containers publish to 127.0.0.1 (and drop what none publishes)."""
    from ..stages.ports import STAGE

    run_stage(c, STAGE, machine, storage_path, port, dry_run)


@stage(
    wait_for_machine="when the machine or its store is missing, wait for it (looking again "
    "less and less often) instead of stopping; the login agent runs with it"
)
def watch(c, machine=None, storage_path=None, port=0, dry_run=False, wait_for_machine=False):
    """Keep the published ports forwarded as containers start and stop, until Ctrl-C.

    A full sync, then one at every container start and stop; it reconnects after a daemon
    restart or a VM stop. Ctrl-C or SIGTERM ends it (status 0) and leaves the rules in place.
    It assumes the machine was fixed.
    """
    from ..stages.watch import watch as follow

    c.sessions.close()  # the tasks before it on the command line (`fix ports.watch`) let go
    follow(c, machine, storage_path, port, dry_run, wait_for_machine)
