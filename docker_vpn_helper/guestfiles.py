"""The VM's files this tool replaces, and the journal's account of them: shared by cert.deploy
(install), daemon.restart (its rollback) and restore (put back), so that none of those stages
imports another.

Write-ahead: the journal notes what will be replaced before the VM is touched
(`Journal.intend_guest`), and what was backed up once it is (`guest_installed`); a run stopped
at any point can be undone or completed.
"""

from __future__ import annotations

import posixpath
import time
from collections.abc import Sequence

from .adapters import daemon, signals
from .core import guestscripts
from .core.commands import Command
from .session import Session


def flavour(s: Session) -> guestscripts.Flavour:
    """The run's guest: minikube's VM (systemd's docker.service) or boot2docker's."""
    return guestscripts.MINIKUBE if s.settings.minikube else guestscripts.BOOT2DOCKER


def restart_command(s: Session) -> Command:
    """The daemon's restart in this run's guest, as its plans show it and apply runs it."""
    return guestscripts.restart_command(s.settings.daemon_wait, flavour(s))


def restart(s: Session, command: Command) -> None:
    """Run `command` (restart_command's) in the VM, waiting for its outcome there."""
    s.guest().restart_daemon(command, flavour=flavour(s))


def backup_dir(s: Session) -> str:
    """Where this run keeps, in the VM, the files it replaces."""
    return flavour(s).backup_dir(s.journal.stamp)


def _intend(s: Session, targets: Sequence[str], fingerprint: str | None) -> str:
    folder = backup_dir(s)
    s.journal.intend_guest(
        [(f"{folder}/{posixpath.basename(path)}", path) for path in targets], fingerprint
    )
    return folder


def install(s: Session, files: Sequence[tuple[str, bytes, int]], fingerprint: str | None) -> str:
    """Replace the VM's files (path, content, mode) as a unit, backed up first; returns the
    folder of the backups. `fingerprint`: the certificate the daemon will serve with them
    (None: they do not change it, e.g. corp.sync's roots and profile)."""
    targets = [path for path, _, _ in files]
    folder = _intend(s, targets, fingerprint)
    backups = s.guest().install_files(files, folder)
    s.journal.guest_installed(list(zip(backups, targets)))
    return folder


def probe_args(s: Session) -> tuple:
    auth = s.machine.auth
    return (s.port, auth.ca_cert, auth.client_cert, auth.client_key)


def put_back(
    s: Session,
    pairs: list[tuple[str, str]],
    folder: str | None = None,
    *,
    skip_missing: bool = False,
) -> tuple[list[str], daemon.Probe]:
    """Put earlier files back in the VM, restart the daemon, wait until it answers again.

    Any certificate of the store's CA counts (the previous one may not name localhost). With
    `folder`, what is replaced is kept there; returns those backups and the last probe.
    `skip_missing`: the pairs come from a run stopped before it made every backup.
    """
    guest = s.guest()
    with signals.deferred():  # a signal ends the run once the daemon runs again
        replaced = guest.restore_files(pairs, backup_dir=folder, skip_missing=skip_missing)
        restart(s, restart_command(s))
        deadline = time.monotonic() + s.settings.daemon_wait
        return replaced, daemon.wait_for(
            *probe_args(s), expected_cert=None, server_name=None, deadline=deadline
        )


def restore(s: Session, pairs: list[tuple[str, str]], partial: bool) -> daemon.Probe:
    """Put an earlier run's files back in the VM, keeping what they replace (a restore can be
    undone too); the daemon's answer after its restart."""
    targets = [target for _, target in pairs]
    folder = _intend(s, targets, "")
    replaced, back = put_back(s, pairs, folder, skip_missing=partial)
    s.journal.guest_installed(list(zip(replaced, targets)))
    if back.ok:
        s.journal.settle_guest([], "served")
    return back
