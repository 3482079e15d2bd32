"""nat.forward"""

from __future__ import annotations

from . import machine
from .common import run_stage, stage


@stage(machine.create)
def forward(c, machine=None, storage_path=None, port=0, dry_run=False):
    """Forward 127.0.0.1:<port> to the daemon through VirtualBox NAT, which the VPN cannot re-route."""
    from ..stages.nat import STAGE

    run_stage(c, STAGE, machine, storage_path, port, dry_run)
