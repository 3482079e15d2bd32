"""Published container ports -> VirtualBox NAT rules on 127.0.0.1: what to forward, what to change.

Pure: the caller asks the engine API (`GET /containers/json`), VBoxManage and the host; this module
only decides. Facts it rests on (the Docker engine API reference, the VirtualBox manual on NAT
port forwarding):

* Each running container's `Ports` lists one entry per published host port and address family:
  `{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}`, then the same with
  `"IP": "::"`; a range `-p 8000-8002:8000-8002` is one entry per port; a port only exposed has no
  `PublicPort`; `-p 127.0.0.1:8080:80` shows `"IP": "127.0.0.1"`.
* VirtualBox NAT delivers a forwarded connection to the guest's NAT address over IPv4 (eth0,
  10.0.2.15 on a docker-machine VM). So a port published on every IPv4 address (`0.0.0.0`, or
  empty) or on that address is reachable; one published only on the VM's 127.0.0.1, ::1, its
  host-only address (192.168.99.100, the one the VPN took) or only on `::` is not: that is a
  note for the user, not a rule. `::` alone: since Docker 20.10 `-p 8080:80` lists a `0.0.0.0`
  and a `::` entry, each with its own docker-proxy, and `-p '[::]:8080:80'` only the `::` one,
  whose proxy listens on IPv6 only (seen in the lab, dockerd 20.10.24: 10.0.2.15:8080 refused
  while [::1]:8080 answered); a rule for it gave an empty reply. Older daemons list one entry
  per `-p`; a `::`-only entry is not forwarded on any version.
* Our rules are `dvh-<proto>-<port>,<proto>,127.0.0.1,<port>,,<port>`: the name says they are ours
  (nothing else is ever touched: `ssh`, the daemon rule, the user's own rules), and one rule per
  protocol and host port keeps the names unique.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass

from .vbox import VALID_PROTOCOLS, NatRule

PREFIX = "dvh-"
LOOPBACK = "127.0.0.1"
#: The guest's address on a VirtualBox NAT adapter (the first DHCP lease of 10.0.2.0/24).
NAT_GUEST_IP = "10.0.2.15"
#: Host IPs the engine API shows for a port published on every IPv4 address of the VM.
IPV4_WILDCARDS = frozenset({"", "0.0.0.0"})
#: Rules never planned for deletion, whatever their name (docker-machine's and the daemon's).
PROTECTED = ("ssh", "docker")
#: Container events after which the published ports may differ (stop, kill and crash all `die`).
EVENT_ACTIONS = ("start", "die")

_OUR_NAME = re.compile(rf"^{re.escape(PREFIX)}(tcp|udp)-([1-9][0-9]{{0,4}})$")

#: (protocol, host port): the key of a published port, of a rule of ours and of a held port.
Key = tuple[str, int]


def port_text(proto: str, port: int) -> str:
    """`8080` for tcp, `5353/udp` otherwise: how `docker ps` and `-p` write a port."""
    return str(port) if proto == "tcp" else f"{port}/{proto}"


def names_text(containers: Iterable[str]) -> str:
    names = sorted(containers)
    word = "container" if len(names) == 1 else "containers"
    return f"{word} {', '.join(names)}"


# --- what the containers publish -------------------------------------------------------------


@dataclass(frozen=True)
class Binding:
    """One published port of one container, as the engine API lists it."""

    container: str
    proto: str
    port: int
    ip: str


def container_name(container: Mapping[str, object]) -> str:
    """The name `docker ps` shows: the first of `Names` without its `/` (links add `/a/b` names)."""
    raw = container.get("Names")
    names = [str(n).lstrip("/") for n in raw if n] if isinstance(raw, (list, tuple)) else []
    plain = [n for n in names if "/" not in n]
    if plain or names:
        return (plain or names)[0]
    return str(container.get("Id") or "?")[:12]


def bindings(containers: Iterable[Mapping[str, object]]) -> Iterator[Binding]:
    """Every published host port of every container; exposed-only ports are left out."""
    for container in containers:
        name = container_name(container)
        entries = container.get("Ports")
        for entry in entries if isinstance(entries, (list, tuple)) else ():
            if not isinstance(entry, Mapping):
                continue
            public = entry.get("PublicPort")
            if not isinstance(public, int) or not 1 <= public <= 65535:
                continue
            proto = str(entry.get("Type") or "tcp").lower()
            yield Binding(name, proto, public, str(entry.get("IP") or ""))


def reachable_through_nat(ip: str, nat_ip: str = NAT_GUEST_IP) -> bool:
    """Whether a port published on the VM's `ip` answers on the address VirtualBox NAT dials
    (IPv4: a `::` binding's proxy listens on IPv6 only, see the module's docstring)."""
    return ip in IPV4_WILDCARDS or ip == nat_ip


def published_ports(
    containers: Iterable[Mapping[str, object]], nat_ip: str = NAT_GUEST_IP
) -> dict[Key, tuple[str, ...]]:
    """{(proto, host port): sorted container names} of the tcp/udp ports NAT can reach.

    IPv4 and IPv6 entries of one port collapse into one key; keys come sorted.
    """
    wanted: dict[Key, set[str]] = {}
    for b in bindings(containers):
        if b.proto in VALID_PROTOCOLS and reachable_through_nat(b.ip, nat_ip):
            wanted.setdefault((b.proto, b.port), set()).add(b.container)
    return {key: tuple(sorted(names)) for key, names in sorted(wanted.items())}


@dataclass(frozen=True, order=True)
class Unreachable:
    """A published port no NAT rule can bring to the host: said once, never forwarded."""

    container: str
    proto: str
    port: int
    ips: tuple[str, ...]  # the VM addresses it is bound to; empty for a protocol NAT lacks

    def line(self) -> str:
        what = f"container {self.container} publishes {port_text(self.proto, self.port)}"
        if self.proto not in VALID_PROTOCOLS:
            return f"{what}: VirtualBox NAT forwards only tcp and udp"
        line = f"{what} only on the VM's {' and '.join(self.ips)}: NAT cannot reach it"
        if self.ips == ("::",):
            line += f" (it listens on IPv6 only; -p {self.port}:<port> publishes on IPv4 too)"
        return line


def unreachable_ports(
    containers: Iterable[Mapping[str, object]], nat_ip: str = NAT_GUEST_IP
) -> tuple[Unreachable, ...]:
    """Published ports NAT cannot reach: bound to a VM address other than `nat_ip` (127.0.0.1,
    ::1, the host-only 192.168.99.100, ...), or of a protocol other than tcp/udp (sctp)."""
    found: dict[tuple[str, str, int], set[str]] = {}
    reached = set()  # a container's port with one binding NAT reaches (`0.0.0.0` beside `::`)
    for b in bindings(containers):
        if b.proto not in VALID_PROTOCOLS:
            found.setdefault((b.container, b.proto, b.port), set())
        elif reachable_through_nat(b.ip, nat_ip):
            reached.add((b.container, b.proto, b.port))
        else:
            found.setdefault((b.container, b.proto, b.port), set()).add(b.ip)
    for key in reached:
        found.pop(key, None)
    return tuple(
        sorted(
            Unreachable(name, proto, port, tuple(sorted(ips)))
            for (name, proto, port), ips in found.items()
        )
    )


def stopped(events: Iterable[Mapping[str, object]], before: Collection[str] = ()) -> frozenset[str]:
    """The IDs of the containers whose last event, in `events` or before (`before`), is `die`.

    dockerd logs `die` before it updates the container list (after the network's clean-up,
    ~0.1 s in the lab), and `start` after: a list asked for right after a `die` still shows the
    container running with its ports, so the caller leaves these IDs out of it until the list
    itself no longer has them.
    """
    dead = set(before)
    for event in events:
        actor = event.get("Actor")
        ident = actor.get("ID") if isinstance(actor, Mapping) else event.get("id")
        action = event.get("Action") or event.get("status")
        if action == "die":
            dead.add(str(ident))
        elif action == "start":
            dead.discard(str(ident))
    return frozenset(dead)


# --- our rules ---------------------------------------------------------------------------------


def rule_name(proto: str, port: int) -> str:
    return f"{PREFIX}{proto}-{port}"


def rule_for(proto: str, port: int) -> NatRule:
    """The rule that forwards 127.0.0.1:<port> to the VM's <port> (the guest IP left to NAT)."""
    return NatRule(rule_name(proto, port), proto, LOOPBACK, port, "", port)


def is_ours(rule: NatRule) -> bool:
    """Named `dvh-tcp-<port>`/`dvh-udp-<port>`: made by this tool, so it may delete it."""
    return _OUR_NAME.match(rule.name) is not None


def ours(rules: Iterable[NatRule]) -> tuple[NatRule, ...]:
    """Our rules among `rules`, by name (the host ports a listener check should not count)."""
    return tuple(sorted((r for r in rules if is_ours(r)), key=lambda r: r.name))


def key_of(rule: NatRule) -> Key:
    match = _OUR_NAME.match(rule.name)
    assert match is not None
    return match.group(1), int(match.group(2))
