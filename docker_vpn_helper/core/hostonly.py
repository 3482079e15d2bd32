"""The host-only network's route and the links it depends on. Pure: no processes.

A VPN client that disconnects badly can leave 192.168.99.0/24 routed into its dead tunnel; the
route is put back on VirtualBox's adapter with the commands built here. Whether a tunnel is dead
or still owned by a connected client, and whether VirtualBox's adapter is usable, is read from:

* Linux `ip -o link show dev NAME`: `5: utun0: <NO-CARRIER,POINTOPOINT,UP> ... state DOWN ...`;
  a tun device has carrier (`LOWER_UP`) only while a process (the VPN client) holds it open.
  Missing: `Device "NAME" does not exist.`
* macOS `ifconfig NAME`: `utun0: flags=8051<UP,POINTOPOINT,RUNNING,MULTICAST> mtu 1380`.
  Missing: `ifconfig: interface NAME does not exist`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

_FLAGS = re.compile(r"^(?:\d+:\s*)?(?P<name>[^\s:@]+)(?:@\S+)?:\s*(?:flags=\w+)?<(?P<flags>[^>]*)>")

# What `route`/`ip route` say when VirtualBox's adapter cannot carry a route (driver trouble).
ADAPTER_BROKEN_MARKERS = (
    "network is unreachable",
    "no such device",
    "cannot find device",
    "network is down",
    "nexthop device is not up",
)
#: macOS `route add` when a route to the same network is already in the table.
ROUTE_EXISTS_MARKER = "file exists"


@dataclass(frozen=True)
class HostOnlyNetwork:
    """docker-machine's Driver.HostOnlyCIDR ("192.168.99.1/24"): the network and the host's address."""

    network: ipaddress.IPv4Network
    host_ip: ipaddress.IPv4Address

    @classmethod
    def from_cidr(cls, cidr: str) -> HostOnlyNetwork:
        """Raise ValueError for anything but an IPv4 address with a prefix length."""
        interface = ipaddress.IPv4Interface(cidr)
        if interface.network.prefixlen >= 31 or interface.ip == interface.network.network_address:
            raise ValueError(f"{cidr!r} is not a host address with a network prefix")
        return cls(interface.network, interface.ip)

    def probe_address(self, vm_ip: str | None) -> str:
        """An address to ask the kernel about: the VM's, else the first one that is not the host's."""
        if vm_ip:
            try:
                if ipaddress.IPv4Address(vm_ip) in self.network and vm_ip != str(self.host_ip):
                    return vm_ip
            except ValueError:
                pass
        return str(next(ip for ip in self.network.hosts() if ip != self.host_ip))


@dataclass(frozen=True)
class Link:
    """An interface as `ip link` / `ifconfig` show it."""

    name: str
    exists: bool
    up: bool = False  # administratively up
    carrier: bool = False  # Linux LOWER_UP, macOS RUNNING: something is attached to it

    @property
    def alive(self) -> bool:
        return self.exists and self.up and self.carrier


def parse_link(text: str, name: str) -> Link:
    """Parse `ip -o link show dev NAME` (Linux) or `ifconfig NAME` (macOS), stdout and stderr.

    A "does not exist" answer gives Link(exists=False); raise ValueError on anything else without
    a flags line for `name`.
    """
    if "does not exist" in text:
        return Link(name, exists=False)
    for line in text.splitlines():
        match = _FLAGS.match(line.strip())
        if match and match.group("name") == name:
            flags = set(match.group("flags").split(","))
            return Link(
                name, exists=True, up="UP" in flags, carrier=bool({"LOWER_UP", "RUNNING"} & flags)
            )
    raise ValueError(f"no flags for {name} in {text.strip()[:200]!r}")


def route_add_argv(platform: str, net: HostOnlyNetwork, adapter: str) -> list[str]:
    """The command (run as root) that routes the network to `adapter` as VirtualBox does.

    Linux's `replace` also takes over a stale route; macOS's `add` answers "File exists" then
    (see `route_delete_argv`).
    """
    if platform == "macos":
        return ["route", "-n", "add", "-net", str(net.network), "-interface", adapter]
    return [
        "ip", "route", "replace", str(net.network), "dev", adapter,
        "proto", "kernel", "scope", "link", "src", str(net.host_ip),
    ]  # fmt: skip


def route_delete_argv(net: HostOnlyNetwork) -> list[str]:
    """macOS: remove the stale route to the network so that `route add` can put ours in."""
    return ["route", "-n", "delete", "-net", str(net.network)]


def adapter_broken(output: str) -> bool:
    """True when a route command failed because the adapter cannot carry routes."""
    lowered = output.lower()
    return any(marker in lowered for marker in ADAPTER_BROKEN_MARKERS)
