"""The plans of the stages with one thing to do or nothing: env.context, env.ssh-config,
routes.restore and restore (their stages' tests cover the observing; these, the decision)."""

from __future__ import annotations

from pathlib import Path

import pytest

from docker_vpn_helper.core import history
from docker_vpn_helper.core.commands import Command
from docker_vpn_helper.core.dockerctx import Endpoint
from docker_vpn_helper.core.hostonly import HostOnlyNetwork
from docker_vpn_helper.core.plans.base import Plan
from docker_vpn_helper.core.plans.context import ContextPlan
from docker_vpn_helper.core.plans.restore import RestorePlan
from docker_vpn_helper.core.plans.routes import RoutePlan
from docker_vpn_helper.core.plans.sshconfig import SshConfigPlan

from .helpers import WANTED

ENDPOINT = Endpoint("tcp://localhost:2376", Path("/s/machines/default"), "docker-machine default")
CREATE = Command(("docker", "context", "create", "docker-machine-default", "--docker", "host=x"))
ADD = Command(("ip", "route", "replace", "192.168.99.0/24", "dev", "vboxnet0"), "sudo")
DELETE = Command(("route", "-n", "delete", "-net", "192.168.99.0/24"), "sudo")
NET = HostOnlyNetwork.from_cidr("192.168.99.1/24")


@pytest.mark.parametrize(
    "plan, changes, actions",
    [
        (ContextPlan("docker-machine-default", ENDPOINT), (), []),
        (ContextPlan("docker-machine-default", ENDPOINT, "it does not exist", CREATE), ("context",),
         ["run: docker context create docker-machine-default --docker host=x  # it does not exist"]),
        (SshConfigPlan(Path("/h/.ssh/config"), "docker-machine-default", 50157, "docker"), (), []),
        (SshConfigPlan(Path("/h/.ssh/config"), "docker-machine-default", 50157, "docker", "Host x\n"),
         ("ssh-config",), ["write Host docker-machine-default (127.0.0.1:50157, user docker) into "
                           "/h/.ssh/config"]),
        (RoutePlan("192.168.99.100 goes through vboxnet0"), (), []),
        (RoutePlan("192.168.99.100 goes through utun0", NET, "vboxnet0", "192.168.99.100", ADD,
                   DELETE), ("route",),
         ["run: sudo ip route replace 192.168.99.0/24 dev vboxnet0"]),
        (RestorePlan("20260101T000000Z", {}, ()), (), []),
        (RestorePlan("20260101T000000Z", {}, (), (WANTED,)), ("restore",),
         ["delete NAT rule 'docker,tcp,127.0.0.1,2376,,2376'"]),
        (RestorePlan(history.ORIGINAL, {Path("/s/server.pem"): Path("/b/server.pem")}, ()),
         ("restore",), ["put back /s/server.pem"]),
    ],
)  # fmt: skip
def test_one_thing_or_nothing(plan: Plan, changes, actions):
    assert plan.changes == changes
    assert plan.actions() == actions
    assert plan.notes == () or isinstance(plan, RestorePlan)
    assert isinstance(plan.seen(), str) and plan.seen()


def test_a_route_plan_runs_its_add_and_keeps_the_delete_for_macos_file_exists():
    plan = RoutePlan("hijacked", NET, "vboxnet0", "192.168.99.100", ADD, DELETE)
    assert plan.commands == (ADD,) and plan.problem == "hijacked"
