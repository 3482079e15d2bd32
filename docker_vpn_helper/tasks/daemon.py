"""daemon.restart"""

from __future__ import annotations

from ..report import banner
from ..session import session_for
from . import cert, nat
from .common import stage


@stage(nat.forward, cert.deploy)
def restart(c, machine=None, storage_path=None, port=0, dry_run=False):
    """Restart dockerd if it does not serve the current certificate, then prove it answers over TLS."""
    from ..stages.daemon import restart_daemon

    s = session_for(c, machine, storage_path, port, dry_run)
    banner(s.name, "Restarting the Docker daemon")
    restart_daemon(s)
