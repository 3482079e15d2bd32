"""routes.restore"""

from __future__ import annotations

from .common import run_stage, stage


@stage()
def restore(c, machine=None, storage_path=None, port=0, dry_run=False):
    """Route the host-only network to VirtualBox again when a gone VPN left it on its dead tunnel."""
    from ..stages.routes import STAGE

    run_stage(c, STAGE, machine, storage_path, port, dry_run)
