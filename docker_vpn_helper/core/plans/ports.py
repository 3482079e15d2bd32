"""ports.sync: NAT rules for the containers' published ports (core/ports.py finds them)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from ..commands import Command, RuleEdits
from ..ports import (
    NAT_GUEST_IP,
    PROTECTED,
    Key,
    Unreachable,
    is_ours,
    key_of,
    names_text,
    ours,
    port_text,
    rule_for,
)
from ..vbox import NatRule
from .base import Plan


@dataclass(frozen=True)
class Addition:
    rule: NatRule
    containers: tuple[str, ...]
    command: Command | None = None  # what adds it (None: planned without the VM's commands)

    def line(self) -> str:
        r = self.rule
        return (
            f"add NAT rule {r.name}: 127.0.0.1:{port_text(r.proto, r.host_port)} -> the VM's "
            f"{r.guest_port}, for {names_text(self.containers)}"
        )


@dataclass(frozen=True)
class Deletion:
    rule: NatRule
    reason: str
    command: Command | None = None  # what deletes it

    def line(self) -> str:
        return f"delete NAT rule {self.rule.name} ({self.rule.spec()}): {self.reason}"


@dataclass(frozen=True)
class Skip:
    """A wanted port left alone: someone else holds 127.0.0.1:<port> on the host."""

    proto: str
    port: int
    containers: tuple[str, ...]
    holder: str
    forwarded: bool = False  # the holder is a rule of this VM that already forwards the port

    def line(self) -> str:
        port = port_text(self.proto, self.port)
        if self.forwarded:
            return f"{port} of {names_text(self.containers)} is already forwarded by {self.holder}"
        return (
            f"skipping {port} of {names_text(self.containers)}: 127.0.0.1:{self.port} "
            f"is held by {self.holder}"
        )


@dataclass(frozen=True)
class PortsPlan(Plan):
    """What one sync changes. Apply `delete` before `add`: a rule of ours with a wrong spec is
    deleted and re-added under the same name. `keep` are ours, right and still wanted."""

    add: tuple[Addition, ...] = ()
    delete: tuple[Deletion, ...] = ()
    skip: tuple[Skip, ...] = ()
    unreachable: tuple[Unreachable, ...] = ()
    keep: tuple[NatRule, ...] = ()
    waiting: str = ""  # why the ports cannot be known yet (a dry run before the daemon answers)

    @property
    def changes(self) -> tuple[str, ...]:
        """The word for fix's summary (the stage protocol, stages/__init__.py)."""
        return ("ports",) if self.add or self.delete else ()

    def seen(self) -> str:
        if self.waiting:
            return self.waiting
        if not self.keep:
            held = "no other published port can be forwarded" if self.skip else ""
            return held or "no container publishes a port NAT can reach"
        return f"published ports forwarded: {', '.join(port_text(*key_of(r)) for r in self.keep)}"

    @property
    def commands(self) -> tuple[Command, ...]:
        """Deletions first: a rule of ours with a wrong spec is re-added under its name."""
        return tuple(x.command for x in (*self.delete, *self.add) if x.command is not None)

    def actions(self) -> list[str]:
        return [
            x.command.describe(x.line()) if x.command else x.line()
            for x in (*self.delete, *self.add)
        ]

    @property
    def notes(self) -> tuple[str, ...]:
        """The warnings (ports held by someone else) and what NAT cannot reach."""
        return tuple(s.line() for s in self.skip) + tuple(u.line() for u in self.unreachable)

    def lines(self) -> list[str]:
        """One line per action, then the warnings and notes; `nothing to change` when there is
        nothing to add or delete."""
        out = self.actions() + list(self.notes)
        if not self.changes:
            out.append("published ports: nothing to change")
        return out

    def describe(self) -> str:
        return "\n".join(self.lines())

    def rules_after(self, rules: Iterable[NatRule]) -> tuple[NatRule, ...]:
        """`rules` as they are once the plan has been applied (order: kept, then added)."""
        gone = {d.rule.name for d in self.delete}
        return tuple(r for r in rules if r.name not in gone) + tuple(a.rule for a in self.add)


def _foreign_holders(
    rules: Iterable[NatRule], protected: Collection[str]
) -> dict[Key, tuple[str, bool]]:
    """{key: (holder, forwards the same port)} for this VM's rules that are not ours."""
    holders: dict[Key, tuple[str, bool]] = {}
    for rule in sorted(rules, key=lambda r: r.name):
        if is_ours(rule) and rule.name not in protected:
            continue
        if rule.holds_loopback_port(rule.proto):
            key = (rule.proto, rule.host_port)
            # A user's own `web,tcp,127.0.0.1,8080,,8080` does our job; `ssh` and the daemon's
            # rule serve their own ends, even on the same port.
            same = (
                rule.name not in protected
                and rule.guest_port == rule.host_port
                and rule.guest_ip in ("", NAT_GUEST_IP)
            )
            if key not in holders or (same and not holders[key][1]):
                holders[key] = (f"this VM's NAT rule {rule.name!r}", same)
    return holders


def plan(
    wanted: Mapping[Key, Iterable[str]],
    rules: Iterable[NatRule],
    held: Mapping[Key, str] | None = None,
    *,
    unreachable: Iterable[Unreachable] = (),
    protected: Collection[str] = PROTECTED,
    edits: RuleEdits | None = None,
) -> PortsPlan:
    """Plan the rules for `wanted` ({(proto, port): containers}, from `published_ports`).

    `rules` are the VM's current NAT rules (its NAT adapter). `held` maps the host ports someone
    else holds on 127.0.0.1 to a description of the holder (another program, another VM's rule,
    another machine's remembered port), as the caller observed them; it should leave out the
    ports of `ours(rules)`, whose listener is VirtualBox itself. This VM's rules that are not
    ours (`ssh`, the daemon rule, the user's) hold their ports too, without being told.

    `edits`: the VM's rule commands, put in the plan (without: a plan that only says).
    A held port is skipped, never taken; a rule of ours that is right and wanted is kept whatever
    `held` says (the port is already ours). Rules in `protected` or not ours are never deleted.
    """
    held = held or {}
    current = tuple(rules)
    foreign = _foreign_holders(current, protected)
    wanted_keys = {key: tuple(sorted(set(names))) for key, names in wanted.items()}
    deletions: list[Deletion] = []
    correct: dict[Key, NatRule] = {}
    for rule in ours(current):
        if rule.name in protected:
            continue
        key = key_of(rule)
        if rule != rule_for(*key):
            reason = f"not the rule this tool makes ({rule_for(*key).spec()})"
            deletions.append(Deletion(rule, reason, edits.delete(rule) if edits else None))
        elif key not in wanted_keys:
            reason = f"no container publishes {port_text(*key)} any more"
            deletions.append(Deletion(rule, reason, edits.delete(rule) if edits else None))
        else:
            correct[key] = rule
    additions: list[Addition] = []
    skips: list[Skip] = []
    for key, names in sorted(wanted_keys.items()):
        if key in correct:
            continue
        if key in foreign:
            holder, forwarded = foreign[key]
            skips.append(Skip(key[0], key[1], names, holder, forwarded))
        elif key in held:
            skips.append(Skip(key[0], key[1], names, held[key]))
        else:
            rule = rule_for(*key)
            additions.append(Addition(rule, names, edits.add(rule) if edits else None))
    return PortsPlan(
        add=tuple(additions),
        delete=tuple(sorted(deletions, key=lambda d: key_of(d.rule))),
        skip=tuple(skips),
        unreachable=tuple(sorted(unreachable)),
        keep=tuple(correct[key] for key in sorted(correct)),
    )
