"""nat.forward: a VirtualBox NAT rule 127.0.0.1:<port> -> guest:2376, which no VPN can re-route.

docker-machine deletes and re-adds only the rule named `ssh` on every start, so a rule with
another name (`docker`) survives restarts.
"""

from __future__ import annotations

from ..adapters.host import port_listener
from ..core.vbox import NatRule, VMInfo, find_rule_on_host_port
from ..errors import HelperError
from ..report import say
from ..session import Session

LOOPBACK = "127.0.0.1"


def wanted_rule(s: Session) -> NatRule:
    return NatRule(
        s.settings.nat_rule, "tcp", LOOPBACK, s.settings.host_port, "", s.settings.daemon_port
    )


def forwards_daemon(rule: NatRule, wanted: NatRule) -> bool:
    return (
        rule.proto == "tcp"
        and rule.host_ip == LOOPBACK
        and rule.host_port == wanted.host_port
        and rule.guest_port == wanted.guest_port
    )


def port_owner(s: Session, port: int) -> str | None:
    """Which other VM's NAT rule claims 127.0.0.1:port (they collide when both run)."""
    for name in s.vbox.list_vms():
        if name == s.name:
            continue
        other = s.vbox.showvminfo(name)
        if other is None:
            continue
        for rules in other.forwarding.values():
            rule = find_rule_on_host_port(rules, port)
            if rule is not None:
                return f"VM {name!r} (NAT rule {rule.name!r}, {other.state})"
    return None


def check_port_free(s: Session, info: VMInfo, wanted: NatRule) -> None:
    port = wanted.host_port
    own = [r for r in info.forwarding.get(info.nat_nic or 1, ()) if r.name != wanted.name]
    clash = find_rule_on_host_port(own, port)
    owner = f"this VM's NAT rule {clash.name!r}" if clash else port_owner(s, port)
    if owner is None and port_listener(port):
        owner = f"another program (see `lsof -nP -iTCP:{port} -sTCP:LISTEN`)"
    if owner:
        raise HelperError(
            f"127.0.0.1:{port} is already taken by {owner}: pick another port with --port "
            f"{port + 1} (or vpnhelper.host_port / INVOKE_VPNHELPER_HOST_PORT)"
        )


def ensure_forward(s: Session) -> None:
    info = s.vm()
    if info is None:
        raise HelperError(f"VirtualBox has no VM named {s.name!r}")
    if info.nat_nic is None:
        raise HelperError(f"the VM {s.name!r} has no NAT network adapter to forward through")
    wanted = wanted_rule(s)
    rules = info.forwarding.get(info.nat_nic, ())
    present = next((r for r in rules if forwards_daemon(r, wanted)), None)
    if present is not None:
        say(
            f"NAT rule {present.name!r} already forwards 127.0.0.1:{wanted.host_port} to the daemon"
        )
        return
    stale = next((r for r in rules if r.name == wanted.name), None)
    if stale is None or stale.host_port != wanted.host_port:
        check_port_free(s, info, wanted)
    how = "controlvm" if info.running else "modifyvm"
    if s.dry_run:
        replacing = f" replacing stale {stale.spec()!r}" if stale else ""
        say(f"would add NAT rule {wanted.spec()!r} with {how}{replacing}")
    else:
        if stale is not None:
            s.vbox.delete_rule(s.name, stale.name, info.nat_nic, info.running)
        s.vbox.add_rule(s.name, wanted, info.nat_nic, info.running)
        s.record(nat={"added": wanted.spec(), "replaced": stale.spec() if stale else None})
        s.forget_vm()
        say(f"added NAT rule {wanted.spec()!r} ({how})")
    s.changed.add("nat")
