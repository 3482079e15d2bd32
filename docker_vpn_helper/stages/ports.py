"""ports.sync: the ports containers publish, reachable on 127.0.0.1 through VirtualBox NAT.

`docker run -p 8080:80` publishes on the VM's addresses, which the VPN took; a NAT rule
`dvh-tcp-8080,tcp,127.0.0.1,8080,,8080` per published port and protocol brings it to the host's
127.0.0.1, as Docker Desktop and Lima do by themselves. Rules of ours that no container publishes
any more are deleted; `ssh`, the daemon's rule and rules that are not ours are never touched,
and a host port someone else holds is skipped with a warning, never taken.
"""

from __future__ import annotations

import time
from typing import Any

from ..adapters.host import port_taken
from ..core import ports
from ..core.listeners import unnamed_holder
from ..core.plans.ports import PortsPlan
from ..core.plans.ports import plan as plan_ports
from ..core.vbox import NatRule
from ..errors import HelperError
from ..report import say
from ..session import Session
from . import Stage

POLL = 0.05  # seconds between looks while a rule's listener or a container comes up
LISTEN_WAIT = 2.0  # how long a rule VirtualBox accepted may take to listen


def containers(s: Session) -> list[dict[str, Any]]:
    """The running containers as the daemon lists them through tcp://localhost:<port>."""
    from ..adapters.engine import Engine  # the Docker SDK loads only here

    auth = s.machine.auth
    with Engine(s.port, auth.ca_cert, auth.client_cert, auth.client_key) as engine:
        return engine.containers()


def after_restart(s: Session) -> list[dict[str, Any]]:
    """The running containers, once those a restart of this run brings back run again (their
    ports are then forwarded by this very sync, without racing their start)."""
    restart = s.restart_plan()
    expected = set(restart.comes_back) if restart is not None and not s.dry_run else set()
    deadline = time.monotonic() + s.settings.daemon_wait
    while True:
        running = containers(s)
        missing = expected - {ports.container_name(c) for c in running}
        if not missing or time.monotonic() >= deadline:
            if missing:
                say(
                    f"not running again yet (their ports follow at the next sync): {', '.join(sorted(missing))}"
                )
            return running
        time.sleep(POLL)


def daemon_reachable_now(s: Session) -> bool:
    """In a dry run: whether the earlier stages leave the path to the daemon as it is (their
    plans not carried out, a forward still to add or a restart still to come means the daemon
    cannot be asked yet)."""
    forward, restart = s.forward_plan(), s.restart_plan()
    adding = forward is not None and not forward.present
    return not adding and not (restart is not None and restart.restart)


def holders(s: Session, keys: list[ports.Key]) -> dict[ports.Key, str]:
    """Who holds each of these host ports: another VM's rule, another machine, a program."""
    if not keys:
        return {}
    claims = s.view.claimed_ports()
    held = {}
    for proto, port in keys:
        if (proto, port) in claims:
            held[proto, port] = claims[proto, port]
        elif port_taken(proto, port):
            held[proto, port] = unnamed_holder(port, proto)
    return held


def plan(
    s: Session,
    rules: tuple[NatRule, ...] | None = None,
    running: list[dict[str, Any]] | None = None,
) -> PortsPlan:
    """`rules`: the VM's NAT rules as the caller knows them (ports.watch keeps them between
    syncs); by default as VirtualBox shows them. `running`: the containers as the caller listed
    them (ports.watch, on the connection it keeps open); by default listed here."""
    if s.projected or (s.dry_run and not daemon_reachable_now(s)):
        return PortsPlan(
            waiting="the published ports are synced once the daemon answers through the forward"
        )
    info = s.vm()
    if info is None:
        raise HelperError(f"VirtualBox has no VM named {s.name!r}")
    current = info.rules() if rules is None else rules
    running = after_restart(s) if running is None else running
    wanted = ports.published_ports(running)
    ours = {(r.proto, r.host_port) for r in ports.ours(current)}
    candidates = [key for key in wanted if key not in ours]
    protected = ("ssh", s.settings.nat_rule)
    return plan_ports(
        wanted,
        current,
        holders(s, candidates),
        unreachable=ports.unreachable_ports(running),
        protected=protected,
        edits=s.rule_edits(info),
    )


def apply(s: Session, plan: PortsPlan) -> None:
    forward(s, plan)


def forward(s: Session, plan: PortsPlan) -> tuple[NatRule, ...]:
    """Deletions first (a wrong rule of ours is re-added under its name), then additions, each
    checked: VirtualBox accepts a rule it cannot bind and only logs it. Returns the additions
    taken back for that reason (deleted again: the one command apply adds to the plan's): the
    VM's rules are `plan.rules_after(...)` without them."""
    info = s.vm()
    assert info is not None
    edits = s.rule_edits(info)
    taken_back = []
    for deletion in plan.delete:
        assert deletion.command is not None  # the stage's planner gave it its command
        s.execute(deletion.command)
        say(f"deleted NAT rule {deletion.rule.name} ({deletion.reason})")
    for addition in plan.add:
        rule = addition.rule
        assert addition.command is not None
        s.execute(addition.command)
        if info.running and not listening(rule):
            s.execute(edits.delete(rule))
            say(
                f"skipping {ports.port_text(rule.proto, rule.host_port)} of "
                f"{', '.join(addition.containers)}: VirtualBox could not listen on "
                f"127.0.0.1:{rule.host_port} (held by another program?); the rule was removed"
            )
            taken_back.append(rule)
            continue
        say(f"added NAT rule {rule.spec()!r} for {', '.join(addition.containers)}")
    return tuple(taken_back)


def listening(rule: NatRule) -> bool:
    deadline = time.monotonic() + LISTEN_WAIT
    while not port_taken(rule.proto, rule.host_port):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL)
    return True


STAGE = Stage("ports.sync", "Forwarding the containers' published ports", plan, apply)
