"""machine.create"""

from __future__ import annotations

from .common import begin, planned, stage


@stage()
def create(c, machine=None, storage_path=None, port=0, dry_run=False):
    """Create the machine (the VPN must be down for that) or start it; a running one is left alone."""
    from ..stages.machine import ensure_machine
    from .cert import issue  # here: tasks.cert imports this module

    s = begin(c, "Checking the VM", machine, storage_path, port, dry_run)
    ensure_machine(s, certificate_follows=planned(c, issue))
