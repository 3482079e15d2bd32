"""routes.restore"""

from __future__ import annotations

from .common import begin, stage


@stage()
def restore(c, machine=None, storage_path=None, port=0, dry_run=False):
    """Route the host-only network to VirtualBox again when a gone VPN left it on its dead tunnel."""
    from ..stages.routes import restore_route

    title = "Restoring the host-only network's route"
    restore_route(begin(c, title, machine, storage_path, port, dry_run))
