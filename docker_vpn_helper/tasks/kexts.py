"""kexts.restart"""

from __future__ import annotations

from .common import run_stage, stage


@stage()
def restart(c, machine=None, storage_path=None, port=0, dry_run=False):
    """Restart VirtualBox's kernel extensions (sudo; refuses while VirtualBox runs)."""
    from ..stages.kexts import STAGE

    run_stage(c, STAGE, machine, storage_path, port, dry_run)
