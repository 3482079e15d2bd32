"""dns.host-resolver, dns.host-names"""

from __future__ import annotations

from .common import run_stage, stage


@stage(restart="stop and start a running VM now, so the change takes effect at once")
def host_resolver(c, machine=None, storage_path=None, port=0, dry_run=False, restart=False):
    """Let the VM resolve names with the host's resolver, which follows the VPN's DNS."""
    from ..stages.dns import STAGE

    run_stage(c, STAGE, machine, storage_path, port, dry_run, restart=restart)


@stage(host_resolver, restart="stop and start a running VM now, so the change takes effect at once")
def host_names(c, machine=None, storage_path=None, port=0, dry_run=False, restart=False):
    """Let containers reach the Mac's 127.0.0.1 as host.docker.internal (through the NAT)."""
    from ..stages.hostnames import STAGE

    run_stage(c, STAGE, machine, storage_path, port, dry_run, restart=restart)
