"""machine.create"""

from __future__ import annotations

from .common import run_stage, stage


@stage()
def create(c, machine=None, storage_path=None, port=0, dry_run=False):
    """Create the machine (the VPN must be down for that) or start it; a running one is left alone."""
    from ..stages.machine import STAGE

    run_stage(c, STAGE, machine, storage_path, port, dry_run)
