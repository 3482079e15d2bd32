"""ports.sync"""

from __future__ import annotations

from . import daemon
from .common import run_stage, stage


@stage(daemon.restart)
def sync(c, machine=None, storage_path=None, port=0, dry_run=False):
    """Forward every port the containers publish to 127.0.0.1 (and drop what none publishes)."""
    from ..stages.ports import STAGE

    run_stage(c, STAGE, machine, storage_path, port, dry_run)
