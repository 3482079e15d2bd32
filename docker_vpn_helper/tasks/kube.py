"""kube.apiserver"""

from __future__ import annotations

from . import nat
from .common import run_stage, session, stage


@stage(nat.forward)
def apiserver(c, machine=None, storage_path=None, port=0, dry_run=False):
    """minikube's VMs: forward 127.0.0.1 to the API server (8443) and write kubectl's kubeconfig."""
    from ..stages.apiserver import STAGE

    if session(c, machine, storage_path, port, dry_run, lock=not dry_run).settings.minikube:
        run_stage(c, STAGE, machine, storage_path, port, dry_run)
