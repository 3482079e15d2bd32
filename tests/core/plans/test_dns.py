"""ResolverPlan (dns.host-resolver): one row per decision branch."""

from __future__ import annotations

import pytest

from docker_vpn_helper.core.commands import Command
from docker_vpn_helper.core.plans.dns import ResolverPlan

from .helpers import lines

STOP = Command(("docker-machine", "--storage-path", "/s", "stop", "default"))
SWITCH = Command(("VBoxManage", "modifyvm", "default", "--natdnshostresolver1", "on"))
START = Command(("docker-machine", "--storage-path", "/s", "start", "default"))
RUNNING = (STOP, SWITCH, START)


@pytest.mark.parametrize(
    "case, vm_on, recorded, running, restart, known, switch, changes, commands, problem",
    [
        ("on and recorded", True, True, True, False, True, RUNNING, (), [], False),
        ("on, not recorded", True, False, True, False, True, RUNNING, ("dns",), [], False),
        ("off, running: recorded for the next start", False, True, True, False, True, RUNNING,
         (), [], True),
        ("off, running, --restart: stop, switch, start", False, True, True, True, True, RUNNING,
         ("dns",), lines(RUNNING), True),
        ("off, stopped: switched now", False, False, False, False, True, (SWITCH,), ("dns",),
         [SWITCH.line()], True),
        ("settings unreadable: nothing decided", False, False, True, True, False, RUNNING, (),
         [], True),
    ],
)  # fmt: skip
def test_resolver_plan(case, vm_on, recorded, running, restart, known, switch, changes, commands,
                       problem):  # fmt: skip
    plan = ResolverPlan("default", vm_on, recorded, running, restart, known, switch)
    assert plan.changes == changes, case
    assert lines(plan.commands) == commands, case
    assert bool(plan.problem) is problem, case
    recording = [] if recorded else ["record HostDNSResolver in config.json"]
    assert plan.actions() == recording + [c.describe() for c in plan.commands], case


def test_a_running_vm_is_told_once_when_the_switch_takes_effect():
    first = ResolverPlan("default", False, False, True, switch=RUNNING)
    assert first.notes[0].startswith(
        "the VM runs: the host resolver takes effect at its next start"
    )
    assert ResolverPlan("default", False, True, True, switch=RUNNING).notes == ()  # recorded


def test_a_switch_machine_create_makes_before_the_start_is_its_change():
    plan = ResolverPlan("default", False, True, False, switch=(SWITCH,), before_start="switched")
    assert plan.changes == () and plan.commands == () and plan.seen() == "switched"
