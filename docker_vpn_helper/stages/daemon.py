"""daemon.restart: restart dockerd with the deployed certificate and prove the client can use it.

The proof is a real TLS request (GET /version) through tcp://localhost:<port>, verified with the
store's CA and the machine's client certificate. If the daemon does not come back with the new
certificate, the previous files are put back and the daemon restarted again: the user is never
left without a daemon.
"""

from __future__ import annotations

import time
from dataclasses import replace

from ..adapters import daemon, signals
from ..core import minikube
from ..core.certs import fingerprint_der, to_der
from ..core.plans.daemon import (
    PENDING_GUEST_STATES,
    GuestHistory,
    RestartPlan,
    plan_guest_history,
    plan_restart,
)
from ..errors import HelperError
from ..guestfiles import probe_args, put_back, restart, restart_command
from ..report import say
from ..session import Session
from . import Stage

# How long a daemon may still take to answer after the restart command failed (see
# _restart_and_wait); a genuine failure is rolled back that much later.
FAILED_RESTART_GRACE = 3.0


def plan(s: Session, ask_containers: bool = True) -> RestartPlan:
    """`ask_containers`: before a restart, ask the VM which running containers it stops (doctor
    opens no SSH, so it does not)."""
    command = restart_command(s)
    if s.projected:
        if s.creates():
            return RestartPlan(False, "docker-machine create starts it", s.port)
        why = "it cannot be asked before the VM runs"
        return RestartPlan(True, why, s.port, certain=False, command=command)
    deploy = s.deploy_plan()
    if deploy is not None and deploy.upload:
        chosen = plan_restart(True, False, False, "", s.port, command)
    else:
        probe = s.view.served(s.port)
        serves_it = s.view.serves_store_certificate(s.port)
        chosen = plan_restart(False, probe.ok, serves_it, probe.detail, s.port, command)
        if s.settings.minikube and probe.ok:  # another profile's server.pem: docker takes it
            chosen = RestartPlan(False, probe.detail, s.port)
        if chosen.restart and s.settings.minikube and s.forward_pending():
            return RestartPlan(False, minikube.FORWARD_PENDING, s.port, certain=False)
    if chosen.restart and ask_containers:
        chosen = chosen.with_containers(s.guest().restart_policies())
    return replace(chosen, history=guest_history(s))


def guest_history(s: Session) -> GuestHistory:
    """Earlier runs' unfinished changes to the VM's files, judged by what the daemon serves
    now (asked only when there are some: the daemon's answer is cached from earlier stages,
    and nothing in this run has restarted it yet)."""
    runs = s.journal.guest_runs()
    if not any(data.get("guest_state") in PENDING_GUEST_STATES for _, data in runs):
        return GuestHistory()
    probe = s.view.served(s.port)
    served = fingerprint_der(probe.served_cert) if probe.ok and probe.served_cert else None
    return plan_guest_history(runs, served)


def apply(s: Session, plan: RestartPlan) -> None:
    """Restart, then prove the new certificate; else roll back. Ctrl-C, SIGHUP and SIGTERM wait
    until the daemon runs again (restarted, or rolled back), then end the run saying which."""
    if not plan.restart:  # only the journal's chore: earlier runs ended in what is served
        s.journal.settle_guest(list(plan.history.unsettled), "served")
        return
    deploy = s.deploy_plan()
    if deploy is None or "deploy" not in deploy.changes:
        say(f"the daemon needs a restart: {plan.why}")
    expected = to_der(s.machine.auth.server_cert.read_bytes())
    with signals.deferred() as interrupted:
        try:
            deadline = time.monotonic() + s.settings.daemon_wait
            failure = _restart_and_wait(s, plan, expected, deadline)
            if failure is None:
                s.journal.settle_guest(list(plan.history.unsettled), "served")
            else:
                failure = roll_back(s, plan.history, failure)
        except HelperError as error:
            if interrupted.signum is None:
                raise
            raise HelperError(
                f"interrupted by {interrupted.name} during the daemon restart; {error.reason}",
                code=interrupted.code,
            ) from None
        signum = interrupted.take()
        if signum is not None:
            outcome = (
                f"which failed and was rolled back: {failure}"
                if failure
                else f"which was finished first: the daemon answers on tcp://localhost:{s.port} "
                "with the new certificate"
            )
            raise HelperError(
                f"interrupted by {signals.signal_name(signum)} during the daemon restart, "
                f"{outcome}; run `{s.rerun_hint()}` to finish the rest",
                code=128 + signum,
            )
    if failure:
        raise HelperError(failure)


def roll_back(s: Session, history: GuestHistory, failure: str) -> str:
    """Return the VM to what the daemon served when this run found it, restart the daemon;
    what happened, in one line. That is before the oldest earlier run whose files were never
    served (see plan_guest_history), else before this run's own change; never an older run's
    backup."""
    backups = list(history.rollback) or s.journal.guest_backups
    if not backups:
        raise HelperError(f"the daemon did not come back on tcp://localhost:{s.port}: {failure}")
    _, back = put_back(s, backups, skip_missing=bool(history.rollback) and history.partial)
    s.journal.settle_guest(list(history.pending), "rolled back")
    s.journal.settle_guest(list(history.done), "served")
    state = "it answers again" if back.ok else f"it still does not answer: {back.detail}"
    return (
        f"the daemon did not come back with the new certificate ({failure}); the previous "
        f"certificate was put back and the daemon restarted ({state})"
    )


STAGE = Stage("daemon.restart", "Restarting the Docker daemon", plan, apply)


def _restart_and_wait(
    s: Session, plan: RestartPlan, expected: bytes, deadline: float
) -> str | None:
    """Restart and wait for the new certificate; the reason it failed, or None.

    The daemon answering with the new certificate is what counts, not the init script's exit
    status: after a run interrupted mid-restart, the daemon that run started may still be
    coming up without its pid file; `stop` then misses it and `start` fails beside it.
    """
    try:
        assert plan.command is not None
        restart(s, plan.command)  # exactly the plan's command
    except HelperError as exc:
        failed: str | None = exc.reason
        deadline = min(deadline, time.monotonic() + FAILED_RESTART_GRACE)
    else:
        failed = None
    result = daemon.wait_for(*probe_args(s), expected_cert=expected, deadline=deadline)
    if not result.ok:
        return failed or result.detail
    say(
        f"the daemon is back on tcp://localhost:{s.port} ({result.detail}, "
        f"certificate {fingerprint_der(expected)[:16]}...)"
    )
    return None
