"""corp.sync"""

from __future__ import annotations

from . import daemon
from .common import run_stage, stage


@stage(daemon.restart)
def sync(c, machine=None, storage_path=None, port=0, dry_run=False):
    """Give the VM's daemon the host's extra trusted roots and its HTTP proxy.

    For TLS-inspecting networks; vpnhelper.corp_roots / vpnhelper.corp_proxy set to false turn
    it off."""
    from ..stages.corp import STAGE

    run_stage(c, STAGE, machine, storage_path, port, dry_run)
