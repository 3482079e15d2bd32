"""restore"""

from __future__ import annotations

from ..report import banner
from ..session import session_for
from .common import stage


@stage(
    backup="which run to undo: a folder name under machines/NAME/backups (default: the latest)",
    forward="also delete the NAT rule that run added",
)
def restore(c, machine=None, storage_path=None, port=0, dry_run=False, backup="", forward=False):
    """Undo a run: put the previous certificate back in the store and the VM, restart the daemon."""
    from ..stages.restore import restore as undo

    s = session_for(c, machine, storage_path, port, dry_run)
    banner(s.name, "Restoring the previous certificate")
    undo(s, backup, forward)
