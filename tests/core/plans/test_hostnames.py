"""plan_host_names: one row per decision branch."""

from __future__ import annotations

import pytest

from docker_vpn_helper.core.commands import Command
from docker_vpn_helper.core.plans.hostnames import plan_host_names
from docker_vpn_helper.core.vbox import HostNames

MAP = (Command(("VBoxManage", "setextradata", "default", "k1", "10.0.2.2")),
       Command(("VBoxManage", "setextradata", "default", "k2", "host.docker.internal")))  # fmt: skip
ON = Command(("VBoxManage", "modifyvm", "default", "--nat-localhostreachable1", "on"))
STOP = Command(("docker-machine", "stop", "default"))
START = Command(("docker-machine", "start", "default"))
V7, V6, V4 = (7, 0, 14), (6, 1, 50), (4, 3, 8)


def names(mapped: bool, reachable: bool) -> HostNames:
    return HostNames("e1000", mapped, True, reachable)


@pytest.mark.parametrize(
    "version, seen, running, restart, expected, changes, noted",
    [
        (V7, names(False, False), False, False, [*MAP, ON], True, False),  # stopped: all now
        (V7, names(False, False), True, False, list(MAP), True, True),  # running: map, wait
        (V7, names(True, False), True, False, [], False, True),  # mapped, loopback at start
        (V7, names(True, False), True, True, [STOP, ON, START], True, False),  # --restart
        (V6, names(False, True), True, False, list(MAP), True, True),  # before 7: no switch
        (V7, names(True, True), True, False, [], False, False),  # done
        (None, names(True, True), True, False, [], False, False),  # done: version not asked
        (V7, None, False, False, [], False, False),  # no settings file to read
        (V4, names(False, True), False, False, [], False, True),  # too old: one line, nothing
    ],
)
def test_plan_host_names(version, seen, running, restart, expected, changes, noted):
    switch = (STOP, ON, START) if running else (ON,)
    plan = plan_host_names("default", version, seen, running, True, restart, MAP, switch)
    assert list(plan.commands) == expected
    assert bool(plan.changes) is changes
    assert bool(plan.notes) is noted
    assert bool(plan.problem) is (expected != [] or noted or seen is None)


def test_without_the_host_resolver_the_mapping_is_a_problem():
    plan = plan_host_names("default", V7, names(True, True), False, False, False, MAP, (ON,))
    assert plan.commands == () and "host resolver" in plan.problem
