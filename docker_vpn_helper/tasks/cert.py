"""cert.issue, cert.deploy"""

from __future__ import annotations

from . import machine
from .common import begin, stage


@stage(machine.create, force="issue a new certificate even if the current one is fine")
def issue(c, machine=None, storage_path=None, port=0, dry_run=False, force=False):
    """Issue a daemon certificate for localhost, 127.0.0.1 and the VM, signed by the machine's CA."""
    from ..stages.cert import issue_certificate  # cryptography loads only when needed

    s = begin(c, "Issuing the daemon certificate", machine, storage_path, port, dry_run)
    issue_certificate(s, force=force)


@stage(issue)
def deploy(c, machine=None, storage_path=None, port=0, dry_run=False):
    """Upload the certificate into the VM over SSH (backed up, checksummed, atomic)."""
    from ..stages.cert import deploy_certificate

    deploy_certificate(
        begin(c, "Deploying the certificate to the VM", machine, storage_path, port, dry_run)
    )
