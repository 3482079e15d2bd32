"""plan_guest_history: earlier runs' unfinished changes to the VM's files, judged by what is served."""

from __future__ import annotations

from docker_vpn_helper.core.plans.daemon import GuestHistory, plan_guest_history


def run(state: str | None, cert: str = "", pairs=(("/b/server.pem", "/v/server.pem"),)) -> dict:
    data: dict = {"guest": [list(p) for p in pairs]}
    if state is not None:
        data["guest_state"] = state
    if cert:
        data["guest_cert"] = cert
    return data


def test_runs_that_ended_are_never_rolled_back_to():
    runs = [("a", run(None)), ("b", run("served")), ("c", run("rolled back"))]
    assert plan_guest_history(runs, None) == GuestHistory()


def test_the_rollback_goes_back_to_before_the_oldest_run_the_daemon_never_served():
    older = (("/b1/server.pem", "/v/server.pem"),)
    runs = [
        ("a", run("served")),
        ("b", run("installed", "B", older)),
        ("c", run("installing", "C")),
    ]
    history = plan_guest_history(runs, "A")
    assert history.pending == ("b", "c") and history.done == ()
    assert history.rollback == older and not history.partial


def test_a_run_whose_certificate_is_served_ended_and_so_did_the_runs_before_it():
    runs = [
        ("b", run("installed", "B")),
        ("c", run("installed", "C")),
        ("d", run("installing", "D")),
    ]
    history = plan_guest_history(runs, "C")
    assert history.done == ("b", "c") and history.pending == ("d",) and history.partial
    assert plan_guest_history(runs, "D").unsettled == ("b", "c", "d")
