"""cert.issue, cert.deploy"""

from __future__ import annotations

from ..report import banner
from ..session import session_for
from . import machine
from .common import stage


@stage(machine.create, force="issue a new certificate even if the current one is fine")
def issue(c, machine=None, storage_path=None, port=0, dry_run=False, force=False):
    """Issue a daemon certificate for localhost, 127.0.0.1 and the VM, signed by the machine's CA."""
    from ..stages.cert import issue_certificate  # cryptography loads only when needed

    s = session_for(c, machine, storage_path, port, dry_run)
    banner(s.name, "Issuing the daemon certificate")
    issue_certificate(s, force=force)


@stage(issue)
def deploy(c, machine=None, storage_path=None, port=0, dry_run=False):
    """Upload the certificate into the VM over SSH (backed up, checksummed, atomic)."""
    from ..stages.cert import deploy_certificate

    s = session_for(c, machine, storage_path, port, dry_run)
    banner(s.name, "Deploying the certificate to the VM")
    deploy_certificate(s)
