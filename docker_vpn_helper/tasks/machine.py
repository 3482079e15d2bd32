"""machine.create"""

from __future__ import annotations

from ..report import banner
from ..session import session_for
from ..stages.machine import ensure_machine
from .common import stage


@stage()
def create(c, machine=None, storage_path=None, port=0, dry_run=False):
    """Create the machine (the VPN must be down for that) or start it; a running one is left alone."""
    s = session_for(c, machine, storage_path, port, dry_run)
    banner(s.name, "Checking the VM")
    ensure_machine(s)
