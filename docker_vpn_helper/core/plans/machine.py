"""machine.create: create the machine, start its VM, or leave it as it is."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..commands import Command
from ..store import StoreFacts, missing_machine
from ..vbox import NatRule, VMInfo
from .base import Plan
from .nat import ForwardPlan


class MachineAction(str, enum.Enum):
    NONE = "none"
    CREATE = "create"
    START = "start"


@dataclass(frozen=True)
class MachinePlan(Plan):
    name: str
    action: MachineAction
    state: str  # the VM's state, or "missing" (not in the store)
    commands: tuple[Command, ...] = ()  # in order: what apply runs
    forward: ForwardPlan | None = None  # added to a stopped VM before it starts
    drop: tuple[NatRule, ...] = ()  # container-port rules of ours, deleted before a start
    resolver: bool = False  # the host DNS resolver config.json asks for, switched before a start
    loopback: bool = False  # 10.0.2.2 let reach the host's loopback before a start (our mapping)
    vm_after: VMInfo | None = None  # the VM as the next stage would see it

    @property
    def changes(self) -> tuple[str, ...]:
        if self.action is MachineAction.NONE:
            return ()
        return ("machine", *(self.forward.changes if self.forward else ()))

    @property
    def problem(self) -> str:
        if self.action is MachineAction.CREATE:
            return f"the store has no machine {self.name!r}"
        return f"the VM is {self.state}" if self.action is MachineAction.START else ""

    def seen(self) -> str:
        return f"the VM is {self.state}"

    def actions(self) -> list[str]:
        forward = self.forward.actions() if self.forward else []
        own = list(self.commands[len(self.forward.commands) if self.forward else 0 :])
        drop, own = own[: len(self.drop)], own[len(self.drop) :]
        why = "before the start: ports.sync adds it again once a container publishes it"
        lines = [command.describe(why) for command in drop]
        if self.resolver:
            lines.append(own.pop(0).describe("config.json asks for the host DNS resolver"))
        if self.loopback:
            why = "host.docker.internal is mapped to 10.0.2.2, the Mac's loopback"
            lines.append(own.pop(0).describe(why))
        return forward + lines + [command.describe() for command in own]


def creation_refusal(
    name: str, facts: StoreFacts, *, asked: bool, default_location: bool, create: str
) -> str:
    """Why machine `name`, which the store lacks, may not be created ("": it may).

    The 2015 helper's first run created the machine; that convenience stays where the user
    plainly means it: the store's first machine (docker-machine's default store may not even
    exist yet), or `asked` (--create). A missing machine beside others is more likely a typo, and
    a path that is not a docker-machine store a wrong --storage-path: both are errors naming what
    is there and `create`, the command that creates the machine.
    """
    if asked:
        return ""
    if not facts.is_store:
        if default_location and not facts.exists:
            return ""
        why = "it does not exist" if not facts.exists else "it has no machines/ folder"
        return (
            f"{facts.path} is not a docker-machine store ({why}): check --storage-path and "
            f"MACHINE_STORAGE_PATH; to start a new store there: {create}"
        )
    if not facts.machines:
        return ""
    return missing_machine(name, facts, create)


def plan_create(name: str, commands: Sequence[Command]) -> MachinePlan:
    """A machine the store lacks (the stage checked first that it may create one: no VPN, no
    VirtualBox running): `commands` restart the drivers and create it."""
    fresh = VMInfo(name, "running", {1: "nat", 2: "hostonly"}, {}, {1: ()})
    return MachinePlan(name, MachineAction.CREATE, "missing", tuple(commands), vm_after=fresh)


def plan_machine(
    vm: VMInfo,
    start: Command,
    forward: ForwardPlan | None = None,
    drop: Sequence[tuple[NatRule, Command]] = (),
    resolver: Command | None = None,
    loopback: Command | None = None,
) -> MachinePlan:
    """A running VM is left as it is. A stopped one gets `forward` before it starts, so the
    forward is in place when it boots, and loses the container-port rules in `drop` (each with
    its delete command): a rule whose host port is taken can stop a VM from starting
    (VirtualBox 7.1), and the containers' ports are synced again once they run. `resolver`:
    the command that switches on the host DNS resolver config.json asks for, None when the VM
    has it or config.json does not ask. `loopback`: the command that lets 10.0.2.2 reach the
    host's loopback (VirtualBox 7), None unless the VM has our host.docker.internal mapping
    without it (dns.host-names could not switch it while the VM ran)."""
    if vm.running:
        return MachinePlan(vm.name, MachineAction.NONE, vm.state, vm_after=vm)
    dropped = tuple(rule for rule, _ in drop)
    rules = tuple(r for r in vm.rules() if r not in dropped)
    adding = forward is not None and not forward.present
    if forward is not None and adding:
        rules = (*(r for r in rules if r.name != forward.rule.name), forward.rule)
    nic = vm.nat_nic or 1
    started = replace(vm, state="running", forwarding={**vm.forwarding, nic: rules})
    commands = (
        *(forward.commands if forward is not None and adding else ()),
        *(command for _, command in drop),
        *((resolver,) if resolver is not None else ()),
        *((loopback,) if loopback is not None else ()),
        start,
    )
    return MachinePlan(
        vm.name,
        MachineAction.START,
        vm.state,
        commands,
        forward=forward,
        drop=dropped,
        resolver=resolver is not None,
        loopback=loopback is not None,
        vm_after=started,
    )
