"""kexts.restart"""

from __future__ import annotations

from .common import begin, stage


@stage()
def restart(c, machine=None, storage_path=None, port=0, dry_run=False):
    """Restart VirtualBox's kernel extensions (sudo; refuses while VirtualBox runs)."""
    from ..stages.kexts import restart_kexts

    s = begin(c, "Restarting VirtualBox's kernel extensions", machine, storage_path, port, dry_run)
    restart_kexts(s)
