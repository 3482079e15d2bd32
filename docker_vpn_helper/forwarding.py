"""The daemon's forward, observed, planned and applied: shared by nat.forward and by
machine.create (which adds it to a stopped VM before the start), so neither stage imports the
other.

docker-machine deletes and re-adds only the rule named `ssh` on every start, so a rule with
another name (`docker`) survives restarts. Each machine keeps its own host port (2376, 2377,
...): chosen free on its first forward and remembered in the machine folder.
"""

from __future__ import annotations

from . import errors
from .adapters.host import port_holders, port_listener, program_name
from .core import store
from .core.plans.nat import (
    PORT_SEARCH,
    ForwardPath,
    ForwardPlan,
    NotTLS,
    PathTaken,
    PortTaken,
    needs_holders,
    plan_forward,
)
from .core.vbox import LOOPBACK, NatRule, VMInfo, current_forward
from .errors import HelperError
from .report import say
from .session import Session


def wanted_rule(s: Session) -> NatRule:
    return NatRule(
        s.settings.nat_rule, "tcp", LOOPBACK, s.settings.host_port, "", s.settings.daemon_port
    )


def plan_for(s: Session, info: VMInfo) -> ForwardPlan:
    """The forward `info`'s VM needs; who holds which port is asked only for a rule to add."""
    if info.nat_nic is None:
        raise HelperError(f"the VM {s.name!r} has no NAT network adapter to forward through")
    wanted = wanted_rule(s)
    source = s.settings.port_source
    claims: dict[int, str] = {}
    listening: frozenset[int] = frozenset()
    if needs_holders(info.rules(), wanted, source):
        claims = {
            port: who for (proto, port), who in s.view.claimed_ports().items() if proto == "tcp"
        }
        search = range(wanted.host_port, wanted.host_port + PORT_SEARCH)
        listening = frozenset(port for port in search if port_listener(port))
    edits = s.rule_edits(info)
    try:
        chosen = plan_forward(info, wanted, source, edits, claims, listening, observe_path(s, info))
    except PathTaken as taken:
        line = path_taken(s, wanted.host_port, taken.holder)
        raise errors.PortTaken(line, wanted.host_port, taken.holder) from None
    except NotTLS:
        raise HelperError(
            f"127.0.0.1:{wanted.host_port} answers without TLS, yet only the VM's forward "
            f"listens there: what answers is not dockerd (another program on port "
            f"{wanted.guest_port} in the VM {s.name!r}, or a redirect on this host); nothing "
            "was restarted"
        ) from None
    except PortTaken as taken:
        raise errors.PortTaken(str(taken), wanted.host_port, taken.holder) from None
    remembered = store.remembered_port(s.settings.storage_path, s.name) if s.view.exists() else None
    return chosen.remembering(remembered)


def observe_path(s: Session, info: VMInfo) -> ForwardPath | None:
    """Who listens on our rule's host port, asked only when the rule is there, the VM runs and
    the daemon does not answer through it (before anything blames the daemon's certificate),
    and whether what answered there spoke TLS at all."""
    rule = current_forward(info.rules(), wanted_rule(s), s.settings.port_source)
    if rule is None or not info.running or s.projected:
        return None
    answer = s.view.served(rule.host_port)
    if answer.ok:
        return None
    holders = port_holders(s.c, rule.host_port)
    ssh = port_holders(s.c, s.view.ssh_port()) if holders else []
    return ForwardPath(tuple(holders), tuple(ssh), answer.not_tls)


def path_taken(s: Session, port: int, holder: str) -> str:
    """The one line for a forward whose port another program holds: who, and what to run."""
    taken = set(store.remembered_ports(s.settings.storage_path, s.name))
    free = next(
        (p for p in range(port + 1, port + PORT_SEARCH) if p not in taken and not port_listener(p)),
        port + 1,
    )
    move = " ".join([program_name(), "fix", *s.settings.selector(), "--port", str(free)])
    return (
        f"port {port} on 127.0.0.1 is held by {holder}, not by VirtualBox's forward to the VM "
        f"{s.name!r}: stop that program and run `{s.rerun_hint()}` again, or move the forward "
        f"to a free port with `{move}`"
    )


def proven_healthy(s: Session) -> bool:
    """Our forward is there and the daemon serves the store's certificate through it (minikube:
    a certificate of the store's CA for localhost)."""
    info = s.view.vm()
    wanted = wanted_rule(s)
    rule = current_forward(info.rules(), wanted, s.settings.port_source) if info else None
    if rule is None:
        return False
    if s.settings.minikube:  # its server.pem may be another profile's: docker's own check
        return s.view.served(rule.host_port).ok
    return s.view.serves_store_certificate(rule.host_port)


def apply(s: Session, plan: ForwardPlan) -> None:
    """Run the plan's commands (replacing our stale rule), then remember its port for every
    later run."""
    if not plan.present:
        if plan.moved_from:
            say(f"127.0.0.1:{plan.moved_from} is taken by {plan.taken_by}: using {plan.port}")
        if plan.revive:
            say(f"{plan.problem} (its port was taken when the rule was applied): adding it again")
        s.journal.record(  # ahead of the change: a run stopped halfway can be undone too
            nat={"added": plan.rule.spec(), "replaced": plan.stale.spec() if plan.stale else None}
        )
        for command in plan.commands:
            s.execute(command)
        s.view.forget_answers()  # a probe through the port before the rule no longer holds
        how = "controlvm" if plan.running else "modifyvm"
        say(f"added NAT rule {plan.rule.spec()!r} ({how})")
    if plan.remember:
        store.remember_port(s.machine, plan.port)
