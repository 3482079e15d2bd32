"""nat.forward: the rule that forwards 127.0.0.1:<port> to the daemon."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..commands import Command, RuleEdits
from ..listeners import Listener, forwards_for_the_vm, unnamed_holder
from ..vbox import NatRule, VMInfo, current_forward
from .base import Plan

PORT_SEARCH = 100  # how far past the configured port a new machine's forward may go


@dataclass(frozen=True)
class ForwardPlan(Plan):
    rule: NatRule  # the rule in place after this stage
    present: bool  # it is there already
    stale: NatRule | None = None  # our rule's name on another port: replaced
    moved_from: int = 0  # the configured port was taken: `rule` uses the next free one
    taken_by: str = ""  # who holds the configured port, when moved
    running: bool = True
    remember: bool = False  # the machine folder does not record this port yet
    revive: bool = False  # `rule` is there, yet VirtualBox does not listen on its port
    commands: tuple[Command, ...] = ()  # delete the stale rule, add `rule` (none when present)

    def remembering(self, remembered: int | None) -> ForwardPlan:
        """This plan, noting whether the machine folder must be told its port."""
        return replace(self, remember=remembered != self.port)

    @property
    def port(self) -> int:
        return self.rule.host_port

    @property
    def changes(self) -> tuple[str, ...]:
        return () if self.present else ("nat",)

    @property
    def chores(self) -> tuple[str, ...]:
        """Bookkeeping done even when nothing changes: the machine folder learns its port."""
        return (f"remember port {self.port} in the machine folder",) if self.remember else ()

    @property
    def problem(self) -> str:
        if self.revive:
            return f"VirtualBox does not listen on 127.0.0.1:{self.port} for NAT rule {self.rule.name!r}"
        return "" if self.present else f"no NAT rule forwards 127.0.0.1:{self.port} to the daemon"

    def seen(self) -> str:
        return f"NAT rule {self.rule.name!r} already forwards 127.0.0.1:{self.port} to the daemon"

    def actions(self) -> list[str]:
        if self.present:
            return []
        why = []
        if self.moved_from:
            why.append(f"use 127.0.0.1:{self.port}: {self.moved_from} is taken by {self.taken_by}")
        if self.revive:
            why.append(
                f"add the rule again: {self.problem} (its port was taken when it was applied)"
            )
        return why + super().actions()


def needs_holders(rules: Sequence[NatRule], wanted: NatRule, port_source: str) -> bool:
    """Whether planning the forward must know who holds which host port: only for a rule to
    add on a port our stale rule does not hold already."""
    if current_forward(rules, wanted, port_source) is not None:
        return False
    stale = next((r for r in rules if r.name == wanted.name), None)
    return stale is None or stale.host_port != wanted.host_port


class PortTaken(Exception):
    """The wanted port is held and may not move (it was asked for, or no port is free):
    `holder` names who holds it ("" when every port searched is held)."""

    def __init__(self, message: str, holder: str = "") -> None:
        super().__init__(message)
        self.holder = holder


class PathTaken(PortTaken):
    """Our rule is there, but another program listens on its host port (it took the port
    before VirtualBox could): `holder` names it."""

    def __init__(self, holder: str) -> None:
        super().__init__(holder, holder)


@dataclass(frozen=True)
class ForwardPath:
    """Who listens on the host port of a rule that is there, seen when the daemon does not
    answer through it, and who listens on the VM's SSH forward (VirtualBox's own process)."""

    holders: tuple[Listener, ...]
    ssh_holders: tuple[Listener, ...] = ()
    not_tls: bool = False  # something answered through the port, but not with TLS

    def taker(self, port: int) -> str:
        """Who took the port from the VM's forward ("": nobody, as far as can be seen). When
        the answer was not TLS, dockerd is not what answers: the holder that is not the VM's
        forward (another one may hold the port beside it), else one nobody can name."""
        others = [h for h in self.holders if not forwards_for_the_vm(h, self.ssh_holders)]
        if others and (self.not_tls or len(others) == len(self.holders)):
            return others[0].describe()
        return unnamed_holder(port) if self.not_tls and not self.holders else ""


class NotTLS(Exception):
    """The VM's own forward holds the port, yet what answers through it does not speak TLS:
    dockerd is not what listens in the VM, and no certificate or restart changes that."""


def _adding(
    rule: NatRule,
    stale: NatRule | None,
    edits: RuleEdits,
    running: bool,
    moved_from: int = 0,
    taken_by: str = "",
    revive: bool = False,
) -> ForwardPlan:
    """The plan that adds `rule`, deleting `stale` (our rule's name, elsewhere) first."""
    commands = ((edits.delete(stale),) if stale is not None else ()) + (edits.add(rule),)
    return ForwardPlan(
        rule, False, stale, moved_from, taken_by, running, revive=revive, commands=commands
    )


def plan_forward(
    vm: VMInfo,
    wanted: NatRule,
    port_source: str,
    edits: RuleEdits,
    claims: dict[int, str] | None = None,
    listening: frozenset[int] = frozenset(),
    path: ForwardPath | None = None,
) -> ForwardPlan:
    """Keep a rule that forwards the port, else add `wanted` (or on the next free port, for a
    port that is only the configured default), with `edits`' commands. `claims` ({port:
    holder}: other VMs' and machines' ports) and `listening` (ports something on the host
    listens on) are needed only when a rule must be added. `path`, for a rule that is there
    while the daemon does not answer through it: nothing listening means VirtualBox could not
    bind the port when the rule was applied (add it again); a listener that is not the VM's
    forward took the port (PathTaken: nothing behind the forward is to blame, nor to restart),
    and so did one answering without TLS beside the VM's forward, or where nobody can be seen
    listening; the VM's own forward answering without TLS is NotTLS (no restart either)."""
    rules = vm.rules()
    present = current_forward(rules, wanted, port_source)
    if present is not None:
        taker = path.taker(present.host_port) if path is not None else ""
        if taker:
            raise PathTaken(taker)
        if path is not None and path.not_tls:
            raise NotTLS()
        if path is not None and not path.holders:
            return _adding(present, present, edits, vm.running, revive=True)
        return ForwardPlan(present, True, running=vm.running)
    stale = next((r for r in rules if r.name == wanted.name), None)
    if stale is not None and stale.host_port == wanted.host_port:
        return _adding(wanted, stale, edits, vm.running)
    held = dict(claims or {})
    for rule in rules:
        if rule.name != wanted.name and rule.holds_loopback_port():
            held[rule.host_port] = f"this VM's NAT rule {rule.name!r}"

    def holder(port: int) -> str | None:
        if port in held:
            return held[port]
        return unnamed_holder(port) if port in listening else None

    owner = holder(wanted.host_port)
    if owner is None:
        return _adding(wanted, stale, edits, vm.running)
    if port_source != "config":
        raise PortTaken(
            f"127.0.0.1:{wanted.host_port} is already taken by {owner}: pick another port with "
            f"--port {wanted.host_port + 1}",
            owner,
        )
    last = wanted.host_port + PORT_SEARCH - 1
    for port in range(wanted.host_port + 1, last + 1):
        if holder(port) is None:
            moved = replace(wanted, host_port=port)
            return _adding(
                moved, stale, edits, vm.running, moved_from=wanted.host_port, taken_by=owner
            )
    raise PortTaken(f"no free port in 127.0.0.1:{wanted.host_port}-{last}: pick one with --port")
