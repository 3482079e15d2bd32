"""cert.issue, cert.deploy"""

from __future__ import annotations

from . import machine
from .common import run_stage, stage


@stage(machine.create, force="issue a new certificate even if the current one is fine")
def issue(c, machine=None, storage_path=None, port=0, dry_run=False, force=False):
    """Issue a daemon certificate for localhost, 127.0.0.1 and the VM, signed by the machine's CA."""
    from ..stages.cert import ISSUE  # cryptography loads only when needed

    run_stage(c, ISSUE, machine, storage_path, port, dry_run, force=force)


@stage(issue)
def deploy(c, machine=None, storage_path=None, port=0, dry_run=False):
    """Upload the certificate into the VM over SSH (backed up, checksummed, atomic)."""
    from ..stages.cert import DEPLOY

    run_stage(c, DEPLOY, machine, storage_path, port, dry_run)
