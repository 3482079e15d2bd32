"""plan_machine, plan_create and creation_refusal: one row per decision branch."""

from __future__ import annotations

from pathlib import Path

import pytest

from docker_vpn_helper.core.commands import Command
from docker_vpn_helper.core.plans.machine import (
    MachineAction,
    creation_refusal,
    plan_create,
    plan_machine,
)
from docker_vpn_helper.core.plans.nat import plan_forward
from docker_vpn_helper.core.store import StoreFacts
from docker_vpn_helper.core.vbox import NatRule

from .helpers import SSH, WANTED, edits, lines, vm

START = Command(("docker-machine", "--storage-path", "/s", "start", "default"))
RESOLVER = Command(("VBoxManage", "modifyvm", "default", "--natdnshostresolver1", "on"))
OURS = NatRule("dvh-tcp-8080", "tcp", "127.0.0.1", 8080, "", 8080)
DROP = (OURS, edits(False).delete(OURS))


def test_a_running_vm_is_left_as_it_is():
    plan = plan_machine(vm("running"), START)
    assert plan.action is MachineAction.NONE and plan.commands == () and plan.changes == ()
    assert plan.vm_after == vm("running")


@pytest.mark.parametrize(
    "case, forward, drop, resolver, expect",
    [
        ("plain start", None, (), None, [START.line()]),
        ("forward added first", True, (), None,
         ["VBoxManage modifyvm default --natpf1 docker,tcp,127.0.0.1,2376,,2376", START.line()]),
        ("our container rule dropped first", None, (DROP,), None,
         ["VBoxManage modifyvm default --natpf1 delete dvh-tcp-8080", START.line()]),
        ("the host resolver switched first", None, (), RESOLVER, [RESOLVER.line(), START.line()]),
        ("all of it, in that order", True, (DROP,), RESOLVER,
         ["VBoxManage modifyvm default --natpf1 docker,tcp,127.0.0.1,2376,,2376",
          "VBoxManage modifyvm default --natpf1 delete dvh-tcp-8080", RESOLVER.line(),
          START.line()]),
    ],
)  # fmt: skip
def test_a_stopped_vm_is_started_after_what_must_be_in_place_at_boot(
    case, forward, drop, resolver, expect
):
    stopped = vm("poweroff", OURS)
    fwd = plan_forward(stopped, WANTED, "config", edits(False)) if forward else None
    plan = plan_machine(stopped, START, fwd, drop, resolver)
    assert plan.action is MachineAction.START and lines(plan.commands) == expect, case
    assert len(plan.actions()) == len(expect)  # one action line per command
    after = plan.vm_after
    assert after is not None and after.running
    assert (WANTED in after.rules()) is bool(forward) and (OURS in after.rules()) is not drop
    assert plan.changes == (("machine", "nat") if forward else ("machine",))


def test_a_present_forward_adds_nothing_to_a_start():
    stopped = vm("poweroff", WANTED)
    present = plan_forward(stopped, WANTED, "config", edits(False))
    plan = plan_machine(stopped, START, present)
    assert lines(plan.commands) == [START.line()] and plan.changes == ("machine",)


def test_a_create_runs_its_commands_and_projects_a_running_vm():
    kext = Command(("systemctl", "restart", "vboxdrv"), "sudo")
    create = Command(("docker-machine", "--storage-path", "/s", "create", "new"))
    plan = plan_create("new", (kext, create))
    assert plan.action is MachineAction.CREATE and plan.state == "missing"
    assert plan.actions() == [
        "run: sudo systemctl restart vboxdrv",
        "run: docker-machine --storage-path /s create new",
    ]
    assert plan.vm_after is not None and plan.vm_after.running
    assert plan.problem == "the store has no machine 'new'"


CREATE = "docker-vpn-helper fix --machine new --create"


def facts(exists=True, is_store=True, machines=("default",)) -> StoreFacts:
    return StoreFacts(Path("/s"), exists, is_store, tuple(machines))


@pytest.mark.parametrize(
    "case, store, asked, default_location, refused",
    [
        ("asked with --create", facts(machines=("default", "dev")), True, False, ""),
        ("the store's first machine", facts(machines=()), False, False, ""),
        ("docker-machine's default store, not made yet", facts(False, False, ()), False, True, ""),
        ("a named store that does not exist", facts(False, False, ()), False, False,
         "/s is not a docker-machine store (it does not exist)"),
        ("a folder without machines/", facts(True, False, ()), False, False,
         "/s is not a docker-machine store (it has no machines/ folder)"),
        ("beside other machines: a typo?", facts(machines=("default",)), False, False,
         "no machine 'new' in the store /s (it has: default)"),
    ],
)  # fmt: skip
def test_creation_refusal(case, store, asked, default_location, refused):
    why = creation_refusal("new", store, asked=asked, default_location=default_location,
                           create=CREATE)  # fmt: skip
    assert why.startswith(refused) if refused else why == "", case
    if refused:
        assert why.endswith(CREATE), case


def test_ssh_rule_survives_every_start():
    plan = plan_machine(vm("poweroff"), START)
    assert plan.vm_after is not None and SSH in plan.vm_after.rules()
