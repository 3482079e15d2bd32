"""machine.create"""

from __future__ import annotations

from .common import run_stage, stage


@stage(
    create="create the machine if the store lacks it (the default when this task is called by "
    "name; as another task's prerequisite it creates only the store's first machine, or with "
    "that task's --create)"
)
def create(c, machine=None, storage_path=None, port=0, dry_run=False, create=True):
    """Create the machine (the VPN must be down for that) or start it; a running one is left alone."""
    from ..stages.machine import STAGE

    run_stage(c, STAGE, machine, storage_path, port, dry_run, create=create)
