"""plan_forward: one row per decision branch."""

from __future__ import annotations

from dataclasses import replace

import pytest

from docker_vpn_helper.core.listeners import Listener
from docker_vpn_helper.core.plans.nat import (
    PORT_SEARCH,
    ForwardPath,
    PathTaken,
    PortTaken,
    needs_holders,
    plan_forward,
)

from .helpers import WANTED, edits, lines, vm

ADD = "VBoxManage controlvm default natpf1 docker,tcp,127.0.0.1,2376,,2376"
VBOX = Listener(812, "VBoxHeadless")
THIEF = Listener(999, "nc")
STALE = replace(WANTED, host_port=2380)
OTHER = replace(WANTED, name="web", host_port=2376, guest_port=80)


@pytest.mark.parametrize(
    "case, info, source, claims, listening, path, expect",
    [
        ("present, healthy", vm("running", WANTED), "config", {}, (), None,
         dict(present=True, port=2376, commands=[])),
        ("present, path unknown to VirtualBox: added again", vm("running", WANTED), "config", {},
         (), ForwardPath(()), dict(present=False, revive=True, commands=[
             "VBoxManage controlvm default natpf1 delete docker", ADD])),
        ("present, VirtualBox holds the port", vm("running", WANTED), "config", {}, (),
         ForwardPath((VBOX,), (VBOX,)), dict(present=True, commands=[])),
        ("missing, port free", vm("running"), "config", {}, (), None,
         dict(present=False, port=2376, commands=[ADD])),
        ("our name on the same port, different spec", vm("running", replace(WANTED, guest_port=2377)),
         "config", {}, (), None, dict(present=False, commands=[
             "VBoxManage controlvm default natpf1 delete docker", ADD])),
        ("our name on another port, flag asks for 2376", vm("running", STALE), "flag", {}, (),
         None, dict(present=False, port=2376, commands=[
             "VBoxManage controlvm default natpf1 delete docker", ADD])),
        ("configured port claimed by another machine: moved", vm("running"), "config",
         {2376: "machine 'dev'"}, (), None, dict(present=False, port=2377, moved_from=2376,
         taken_by="machine 'dev'", commands=[
             "VBoxManage controlvm default natpf1 docker,tcp,127.0.0.1,2377,,2376"])),
        ("configured port listened on: moved past it", vm("running"), "config", {}, (2376, 2377),
         None, dict(port=2378, moved_from=2376)),
        ("configured port held by this VM's own other rule: moved", vm("running", OTHER),
         "config", {}, (), None, dict(port=2377, taken_by="this VM's NAT rule 'web'")),
        ("stopped VM: modifyvm", vm("poweroff"), "config", {}, (), None,
         dict(running=False, commands=[
             "VBoxManage modifyvm default --natpf1 docker,tcp,127.0.0.1,2376,,2376"])),
    ],
)  # fmt: skip
def test_plan_forward(case, info, source, claims, listening, path, expect):
    plan = plan_forward(
        info, WANTED, source, edits(info.running), claims, frozenset(listening), path
    )
    for key, value in expect.items():
        got = lines(plan.commands) if key == "commands" else getattr(plan, key)
        assert got == value, f"{case}: {key}"


@pytest.mark.parametrize(
    "case, info, source, claims, listening, path, error",
    [
        ("asked-for port taken", vm("running"), "flag", {2376: "machine 'dev'"}, (), None,
         "127.0.0.1:2376 is already taken by machine 'dev': pick another port with --port 2377"),
        ("no free port in the search", vm("running"), "config", {}, range(2376, 2376 + PORT_SEARCH),
         None, "no free port in 127.0.0.1:2376-2475: pick one with --port"),
        ("present, another program took the port", vm("running", WANTED), "config", {}, (),
         ForwardPath((THIEF,), (VBOX,)), "nc (pid 999)"),
    ],
)  # fmt: skip
def test_plan_forward_refuses(case, info, source, claims, listening, path, error):
    kind = PathTaken if path else PortTaken
    with pytest.raises(kind) as raised:
        plan_forward(info, WANTED, source, edits(), claims, frozenset(listening), path)
    assert str(raised.value) == error, case


@pytest.mark.parametrize(
    "rules, source, needed",
    [((WANTED,), "config", False), ((), "config", True), ((STALE,), "flag", True),
     ((replace(WANTED, guest_port=1),), "config", False)],
)  # fmt: skip
def test_holders_are_asked_only_for_a_rule_to_add_on_a_new_port(rules, source, needed):
    assert needs_holders(rules, WANTED, source) is needed


def test_a_plan_says_why_before_its_commands_and_remembers_its_port():
    plan = plan_forward(vm("running"), WANTED, "config", edits(), {2376: "machine 'dev'"})
    assert plan.actions() == [
        "use 127.0.0.1:2377: 2376 is taken by machine 'dev'",
        "run: VBoxManage controlvm default natpf1 docker,tcp,127.0.0.1,2377,,2376",
    ]
    assert plan.remembering(2377).chores == ()
    assert plan.remembering(None).chores == ("remember port 2377 in the machine folder",)
