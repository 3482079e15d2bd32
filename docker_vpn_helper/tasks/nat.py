"""nat.forward"""

from __future__ import annotations

from ..report import banner
from ..session import session_for
from ..stages.nat import ensure_forward
from . import machine
from .common import stage


@stage(machine.create)
def forward(c, machine=None, storage_path=None, port=0, dry_run=False):
    """Forward 127.0.0.1:<port> to the daemon through VirtualBox NAT, which the VPN cannot re-route."""
    s = session_for(c, machine, storage_path, port, dry_run)
    banner(s.name, f"Forwarding 127.0.0.1:{s.settings.host_port} to the daemon")
    ensure_forward(s)
