"""dns.host-resolver"""

from __future__ import annotations

from .common import run_stage, stage


@stage(restart="stop and start a running VM now, so the change takes effect at once")
def host_resolver(c, machine=None, storage_path=None, port=0, dry_run=False, restart=False):
    """Let the VM resolve names with the host's resolver, which follows the VPN's DNS."""
    from ..stages.dns import STAGE

    run_stage(c, STAGE, machine, storage_path, port, dry_run, restart=restart)
