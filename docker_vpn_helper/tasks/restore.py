"""restore"""

from __future__ import annotations

from .common import run_stage, stage


@stage(
    backup="which run to undo: a folder name under machines/NAME/backups (default: the latest)",
    forward="also delete the NAT rule that run added",
)
def restore(c, machine=None, storage_path=None, port=0, dry_run=False, backup="", forward=False):
    """Undo a run: put the previous certificate back in the store and the VM, restart the daemon."""
    from ..stages.restore import STAGE

    run_stage(c, STAGE, machine, storage_path, port, dry_run, backup=backup, forward=forward)
