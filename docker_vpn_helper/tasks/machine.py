"""machine.create"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .common import begin, planned, stage

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

    from ..session import Session


@stage()
def create(c, machine=None, storage_path=None, port=0, dry_run=False):
    """Create the machine (the VPN must be down for that) or start it; a running one is left alone."""
    from ..stages.machine import ensure_machine
    from .cert import issue  # here: tasks.cert imports this module

    s = begin(c, "Checking the VM", machine, storage_path, port, dry_run)
    if planned(c, issue):
        s.prepare_server_key(_key_ahead)
    ensure_machine(s)


def _key_ahead(s: Session) -> RSAPrivateKey | None:
    from ..stages.cert import key_ahead  # in the key's thread: cryptography loads there

    return key_ahead(s)
