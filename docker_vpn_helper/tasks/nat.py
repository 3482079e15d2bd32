"""nat.forward"""

from __future__ import annotations

from . import machine
from .common import begin, stage


@stage(machine.create)
def forward(c, machine=None, storage_path=None, port=0, dry_run=False):
    """Forward 127.0.0.1:<port> to the daemon through VirtualBox NAT, which the VPN cannot re-route."""
    from ..stages.nat import ensure_forward

    title = "Forwarding 127.0.0.1:{port} to the daemon"
    ensure_forward(begin(c, title, machine, storage_path, port, dry_run))
