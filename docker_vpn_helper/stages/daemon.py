"""daemon.restart: restart dockerd with the deployed certificate and prove the client can use it.

The proof is a real TLS request (GET /version) through tcp://localhost:<port>, verified with the
store's CA and the machine's client certificate. If the daemon does not come back with the new
certificate, the previous files are put back and the daemon restarted again: the user is never
left without a daemon.
"""

from __future__ import annotations

import time

from .. import stats
from ..adapters import daemon
from ..core.certs import fingerprint_der, to_der
from ..errors import HelperError
from ..report import say
from ..session import Session

# How long a daemon may still take to answer after the restart command failed (see
# _restart_and_wait); a genuine failure is rolled back that much later.
FAILED_RESTART_GRACE = 3.0


def _probe_args(s: Session) -> tuple:
    auth = s.machine.auth
    return (s.settings.host_port, auth.ca_cert, auth.client_cert, auth.client_key)


def served(s: Session) -> daemon.Probe:
    """What the daemon answers through tcp://localhost:<port> (shared by daemon.restart and doctor)."""
    return daemon.probe(*_probe_args(s))


def restart_daemon(s: Session) -> None:
    expected = to_der(s.machine.auth.server_cert.read_bytes())
    if "deploy" not in s.changed:
        current = served(s)
        if current.ok and current.served_cert == expected:
            say(
                f"the daemon answers on tcp://localhost:{s.settings.host_port} with this certificate ({current.detail}): nothing to do"
            )
            return
        reason = current.detail if not current.ok else "it still presents the previous certificate"
        say(f"the daemon needs a restart: {reason}")
    if s.dry_run:
        say("would run in the VM: sudo /etc/init.d/docker restart")
        s.changed.add("daemon")
        return
    deadline = time.monotonic() + s.settings.daemon_wait
    failure = _restart_and_wait(s, expected, deadline)
    s.changed.add("daemon")
    if failure is None:
        return
    backups = s.guest_backups or earlier_guest_backups(s)
    if not backups:
        raise HelperError(
            f"the daemon did not come back on tcp://localhost:{s.settings.host_port}: {failure}"
        )
    _, back = put_back(s, backups)
    state = "it answers again" if back.ok else f"it still does not answer: {back.detail}"
    raise HelperError(
        f"the daemon did not come back with the new certificate ({failure}); the previous "
        f"certificate was put back and the daemon restarted ({state})"
    )


def put_back(
    s: Session, pairs: list[tuple[str, str]], backup_dir: str | None = None
) -> tuple[list[str], daemon.Probe]:
    """Put earlier files back in the VM, restart the daemon, wait until it answers again.

    Any certificate of the store's CA counts (the previous one may not name localhost). With
    `backup_dir`, what is replaced is kept there; returns those backups and the last probe.
    """
    guest = s.guest()
    replaced = guest.restore_files(pairs, backup_dir=backup_dir)
    stats.counts["daemon_restarts"] += 1
    guest.restart_daemon(timeout=s.settings.daemon_wait)
    deadline = time.monotonic() + s.settings.daemon_wait
    return replaced, daemon.wait_for(
        *_probe_args(s), expected_cert=None, server_name=None, deadline=deadline
    )


def earlier_guest_backups(s: Session) -> list[tuple[str, str]]:
    """What the latest earlier run replaced in the VM: a run stopped between deploy and restart
    leaves its certificate in the VM, and this run must be able to roll that back too."""
    for _, manifest in reversed(s.earlier_runs()):
        pairs = manifest.get("guest")
        if pairs:
            return [(str(saved), str(target)) for saved, target in pairs]
    return []


def _restart_and_wait(s: Session, expected: bytes, deadline: float) -> str | None:
    """Restart and wait for the new certificate; the reason it failed, or None.

    The daemon answering with the new certificate is what counts, not the init script's exit
    status: after a run interrupted mid-restart, the daemon that run started may still be
    coming up without its pid file; `stop` then misses it and `start` fails beside it.
    """
    stats.counts["daemon_restarts"] += 1
    try:
        s.guest().restart_daemon(timeout=s.settings.daemon_wait)
    except HelperError as exc:
        failed: str | None = exc.reason
        deadline = min(deadline, time.monotonic() + FAILED_RESTART_GRACE)
    else:
        failed = None
    result = daemon.wait_for(*_probe_args(s), expected_cert=expected, deadline=deadline)
    if not result.ok:
        return failed or result.detail
    say(
        f"the daemon is back on tcp://localhost:{s.settings.host_port} ({result.detail}, "
        f"certificate {fingerprint_der(expected)[:16]}...)"
    )
    return None
