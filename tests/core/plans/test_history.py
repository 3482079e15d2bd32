"""plan_deploy and plan_guest_history: the VM's files, and earlier runs' unfinished changes."""

from __future__ import annotations

from docker_vpn_helper.core.plans.cert import plan_deploy
from docker_vpn_helper.core.plans.daemon import GuestHistory, plan_guest_history


def run(state: str | None, cert: str = "", pairs=(("/b/server.pem", "/v/server.pem"),)) -> dict:
    data: dict = {"guest": [list(p) for p in pairs]}
    if state is not None:
        data["guest_state"] = state
    if cert:
        data["guest_cert"] = cert
    return data


def test_a_wrong_key_alone_is_a_reason_to_upload_both_files():
    plan = plan_deploy(False, False, True, "/v/server.pem", "/v/server-key.pem", key_matches=False)
    assert plan.upload and plan.why == "the VM's server key is not the store's (/v/server-key.pem)"
    assert not plan_deploy(False, False, True, "/v/server.pem", "/v/server-key.pem").upload


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
