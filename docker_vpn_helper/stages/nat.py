"""nat.forward: a VirtualBox NAT rule 127.0.0.1:<port> -> guest:2376, which no VPN can re-route.

docker-machine deletes and re-adds only the rule named `ssh` on every start, so a rule with
another name (`docker`) survives restarts. Each machine keeps its own host port (2376, 2377,
...): chosen free on its first forward and remembered in the machine folder.
"""

from __future__ import annotations

import dataclasses

from ..adapters.host import port_listener
from ..core import store
from ..core.vbox import NatRule, VMInfo
from ..errors import HelperError
from ..report import say
from ..session import Session

LOOPBACK = "127.0.0.1"
PORT_SEARCH = 100  # how far past the configured port a new machine's forward may go


def wanted_rule(s: Session) -> NatRule:
    return NatRule(
        s.settings.nat_rule, "tcp", LOOPBACK, s.settings.host_port, "", s.settings.daemon_port
    )


def forwards_daemon(rule: NatRule, wanted: NatRule) -> bool:
    """A loopback TCP rule to the daemon port (on any host port: compare that separately)."""
    return rule.proto == "tcp" and rule.host_ip == LOOPBACK and rule.guest_port == wanted.guest_port


def claimed_ports(s: Session, info: VMInfo, wanted: NatRule) -> dict[int, str]:
    """{host port: who holds it}: this VM's other rules, other VMs' rules, other machines' ports."""
    claims = {
        port: f"machine {name!r} (its remembered port)"
        for port, name in store.remembered_ports(s.settings.storage_path, s.name).items()
    }
    for name in s.vbox.list_vms():
        other = s.vbox.showvminfo(name) if name != s.name else None
        for rules in other.forwarding.values() if other else ():
            for rule in rules:
                if rule.holds_loopback_port():
                    claims[rule.host_port] = f"VM {name!r} (NAT rule {rule.name!r}, {other.state})"
    for rule in info.forwarding.get(info.nat_nic or 1, ()):
        if rule.name != wanted.name and rule.holds_loopback_port():
            claims[rule.host_port] = f"this VM's NAT rule {rule.name!r}"
    return claims


def owner_of(port: int, claims: dict[int, str]) -> str | None:
    if port in claims:
        return claims[port]
    if port_listener(port):
        return f"another program (see `lsof -nP -iTCP:{port} -sTCP:LISTEN`)"
    return None


def free_rule(s: Session, info: VMInfo, wanted: NatRule) -> NatRule:
    """`wanted`, or (for a port that is only the configured default) the next free port."""
    claims = claimed_ports(s, info, wanted)
    owner = owner_of(wanted.host_port, claims)
    if owner is None:
        return wanted
    if s.settings.port_source != "config":
        raise HelperError(
            f"127.0.0.1:{wanted.host_port} is already taken by {owner}: pick another port with "
            f"--port {wanted.host_port + 1}"
        )
    for port in range(wanted.host_port + 1, wanted.host_port + PORT_SEARCH):
        if owner_of(port, claims) is None:
            say(f"127.0.0.1:{wanted.host_port} is taken by {owner}: using {port}")
            return dataclasses.replace(wanted, host_port=port)
    raise HelperError(f"no free port in 127.0.0.1:{wanted.host_port}-{port}: pick one with --port")


def use_port(s: Session, port: int) -> None:
    """From now on this run, and every later one, uses `port` for this machine."""
    s.settings = dataclasses.replace(s.settings, host_port=port)
    if not s.dry_run and s.settings.port_source != "remembered":
        store.remember_port(s.machine, port)


def current_forward(s: Session, info: VMInfo) -> NatRule | None:
    """The rule that already forwards this machine's port to the daemon (shared with doctor)."""
    wanted = wanted_rule(s)
    daemon_rules = [
        r for r in info.forwarding.get(info.nat_nic or 1, ()) if forwards_daemon(r, wanted)
    ]
    present = next((r for r in daemon_rules if r.host_port == wanted.host_port), None)
    if present is None and s.settings.port_source == "config":
        # Forwarded before its port was remembered (or by hand): keep that port.
        present = next((r for r in daemon_rules if r.name == wanted.name), None)
    return present


def ensure_forward(s: Session) -> None:
    info = s.vm()
    if info is None:
        raise HelperError(f"VirtualBox has no VM named {s.name!r}")
    if info.nat_nic is None:
        raise HelperError(f"the VM {s.name!r} has no NAT network adapter to forward through")
    wanted = wanted_rule(s)
    rules = info.forwarding.get(info.nat_nic, ())
    present = current_forward(s, info)
    if present is not None:
        use_port(s, present.host_port)
        say(
            f"NAT rule {present.name!r} already forwards 127.0.0.1:{present.host_port} to the daemon"
        )
        return
    stale = next((r for r in rules if r.name == wanted.name), None)
    if stale is None or stale.host_port != wanted.host_port:
        wanted = free_rule(s, info, wanted)
    how = "controlvm" if info.running else "modifyvm"
    if s.dry_run:
        replacing = f" replacing stale {stale.spec()!r}" if stale else ""
        say(f"would add NAT rule {wanted.spec()!r} with {how}{replacing}")
    else:
        if stale is not None:
            s.vbox.delete_rule(s.name, stale.name, info.nat_nic, info.running)
        s.vbox.add_rule(s.name, wanted, info.nat_nic, info.running)
        s.record(nat={"added": wanted.spec(), "replaced": stale.spec() if stale else None})
        s.added_rule(info.nat_nic, wanted)
        say(f"added NAT rule {wanted.spec()!r} ({how})")
    use_port(s, wanted.host_port)
    s.changed.add("nat")
