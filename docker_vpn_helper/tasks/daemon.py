"""daemon.restart"""

from __future__ import annotations

from . import cert, nat
from .common import run_stage, stage


@stage(nat.forward, cert.deploy)
def restart(c, machine=None, storage_path=None, port=0, dry_run=False):
    """Restart dockerd if it does not serve the current certificate, then prove it answers over TLS."""
    from ..stages.daemon import STAGE

    run_stage(c, STAGE, machine, storage_path, port, dry_run)
