"""restore"""

from __future__ import annotations

from .common import begin, stage


@stage(
    backup="which run to undo: a folder name under machines/NAME/backups (default: the latest)",
    forward="also delete the NAT rule that run added",
)
def restore(c, machine=None, storage_path=None, port=0, dry_run=False, backup="", forward=False):
    """Undo a run: put the previous certificate back in the store and the VM, restart the daemon."""
    from ..stages.restore import restore as undo

    s = begin(c, "Restoring the previous certificate", machine, storage_path, port, dry_run)
    undo(s, backup, forward)
