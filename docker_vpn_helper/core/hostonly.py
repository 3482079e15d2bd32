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


#: VirtualBox 6.1.28 and later (Linux, macOS and Solaris hosts) give host-only adapters only
#: addresses in these ranges, unless `/etc/vbox/networks.conf` exists and lists others.
HOSTONLY_RANGES_FROM = (6, 1, 28)
DEFAULT_ALLOWED = ipaddress.IPv4Network("192.168.56.0/21")
NETWORKS_CONF = "/etc/vbox/networks.conf"
#: docker-machine's own way around the limit: a host-only network inside the default range.
ALLOWED_CIDR = "192.168.56.1/24"


@dataclass(frozen=True)
class AllowedRanges:
    """What VirtualBox lets host-only adapters have: `networks.conf`'s `* <cidr> [<cidr>...]`
    lines when the file exists (even an empty one), else 192.168.56.0/21 only. Lines starting
    with `#` are comments; any other line is ignored by VirtualBox, and kept here as malformed."""

    networks: tuple[ipaddress.IPv4Network, ...]
    malformed: tuple[str, ...] = ()
    from_file: bool = False

    def allows(self, network: ipaddress.IPv4Network) -> bool:
        return any(network.subnet_of(allowed) for allowed in self.networks)


def parse_networks_conf(text: str | None) -> AllowedRanges:
    """`/etc/vbox/networks.conf` (None: there is no such file). IPv6 ranges are skipped."""
    if text is None:
        return AllowedRanges((DEFAULT_ALLOWED,))
    networks: list[ipaddress.IPv4Network] = []
    malformed: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        words = line.split()
        if words[0] != "*" or len(words) < 2:
            malformed.append(line)
            continue
        for word in words[1:]:
            try:
                network = ipaddress.ip_network(word, strict=False)
            except ValueError:
                malformed.append(line)
                break
            if isinstance(network, ipaddress.IPv4Network):
                networks.append(network)
    return AllowedRanges(tuple(networks), tuple(malformed), from_file=True)


CREATE_FAILS = "so docker-machine create would fail halfway"


def hostonly_refusal(
    cidr: str,
    version: tuple[int, int, int],
    conf: str | None,
    path: str = NETWORKS_CONF,
    consequence: str = CREATE_FAILS,
) -> str | None:
    """The one line that stops `docker-machine create` with host-only network `cidr` before it
    fails late (`E_ACCESSDENIED` on `hostonlyif ipconfig`, after the ISO's download and the VM's
    creation); None when VirtualBox `version` allows the network. `conf`: the file's text."""
    if version < HOSTONLY_RANGES_FROM:
        return None
    network = HostOnlyNetwork.from_cidr(cidr).network
    allowed = parse_networks_conf(conf)
    if allowed.allows(network):
        return None
    ranges = ", ".join(str(n) for n in allowed.networks) or "no range"
    if not allowed.from_file:
        why = f"{path} does not exist"
    elif allowed.malformed:
        why = f"{path}'s line {allowed.malformed[0]!r} is malformed: VirtualBox reads only '* <range>' lines"
    else:
        why = f"{path} lists no range holding it"
    shown = ".".join(str(n) for n in version)
    folder = path.rpartition("/")[0] or "/"
    return (
        f"VirtualBox {shown} refuses host-only network {network} ({why}; allowed: {ranges}), "
        f"{consequence}: add the line with `sudo mkdir -p {folder} "
        f"&& echo '* {network}' | sudo tee -a {path}`, or create the machine yourself with "
        f"`docker-machine create -d virtualbox --virtualbox-hostonly-cidr {ALLOWED_CIDR} NAME`"
    )
