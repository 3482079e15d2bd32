"""plan_restart and RestartPlan: one row per decision branch."""

from __future__ import annotations

import shlex

import pytest

from docker_vpn_helper.core.guestscripts import restart_command, restart_job
from docker_vpn_helper.core.plans.daemon import RestartPlan, plan_restart

RESTART = restart_command(60)


@pytest.mark.parametrize(
    "case, deployed, served_ok, serves_it, restart, why",
    [
        ("a new certificate was deployed", True, True, True, True,
         "a new certificate was deployed"),
        ("it serves the store's certificate", False, True, True, False, "Docker 20.10"),
        ("it answers with another certificate", False, True, False, True,
         "it still presents the previous certificate"),
        ("it does not answer", False, False, False, True, "Docker 20.10"),
    ],
)  # fmt: skip
def test_plan_restart(case, deployed, served_ok, serves_it, restart, why):
    plan = plan_restart(deployed, served_ok, serves_it, "Docker 20.10", 2376, RESTART)
    assert (plan.restart, plan.why) == (restart, why), case
    assert plan.commands == ((RESTART,) if restart else ())
    assert plan.changes == (("daemon",) if restart else ())


def test_the_restart_printed_is_the_detached_job_the_guest_runs():
    plan = plan_restart(True, False, False, "", 2376, RESTART)
    [line] = plan.actions()
    assert line.startswith("run in the VM: sudo setsid sh -c 'echo $$ > ")
    assert "/etc/init.d/docker restart > /var/lib/boot2docker/docker-vpn-helper/restart.log" in line
    # what it shows is the job the script really starts detached (`exec $detach sh -c JOB`)
    script = RESTART.argv[3]
    assert RESTART.argv[:3] == ("sudo", "sh", "-c") and RESTART.where == "guest"
    assert f"exec $detach sh -c {shlex.quote(restart_job())}" in script
    assert RESTART.shown == f"sudo setsid sh -c {shlex.quote(restart_job())}"


def test_an_uncertain_restart_says_so():
    plan = RestartPlan(True, "it cannot be asked before the VM runs", 2376, certain=False,
                       command=RESTART)  # fmt: skip
    assert plan.actions()[0].endswith("  # unless it serves this certificate once the VM runs")
    assert plan.problem == ""


def test_containers_a_restart_stops_are_noted():
    plan = plan_restart(True, False, False, "", 2376, RESTART).with_containers(
        {"web": "no", "db": "always", "job": ""}
    )
    assert plan.stops == ("job", "web") and plan.comes_back == ("db",)
    assert plan.notes[0].startswith("restarting the daemon stops 2 running containers")
