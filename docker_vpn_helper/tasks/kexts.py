"""kexts.restart"""

from __future__ import annotations

from ..report import banner
from ..session import session_for
from ..stages.kexts import restart_kexts
from .common import stage


@stage()
def restart(c, machine=None, storage_path=None, port=0, dry_run=False):
    """Restart VirtualBox's kernel extensions (sudo; refuses while VirtualBox runs)."""
    s = session_for(c, machine, storage_path, port, dry_run)
    banner(s.name, "Restarting VirtualBox's kernel extensions")
    restart_kexts(s)
