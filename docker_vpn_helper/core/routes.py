"""Decide from route-lookup output whether a VPN hijacks the route to the VM. Pure: no processes.

Inputs understood:

* macOS `route -n get ADDRESS`: `key: value` lines (`route to`, `destination`, `mask`, `gateway`,
  `interface`, `flags: <UP,GATEWAY,...>`) then a `recvpipe sendpipe ...` metrics table.
  `destination: default` with a `mask` other than `default` is a real network: AnyConnect-style
  full tunnels install `0.0.0.0/1` and `128.0.0.0/1`, which `route get` shows as
  `destination: default` / `mask: 128.0.0.0`.
  No route: `route: writing to routing socket: not in table`.
* macOS `netstat -rn -f inet`: columns found by header name (`Destination Gateway Flags Refs Use
  Netif Expire` until macOS 11.x, `Destination Gateway Flags Netif Expire` after). Destinations use
  BSD shorthand: `192.168.99` = 192.168.99.0/24, `127` = /8, `10.9/24` = 10.9.0.0/24,
  `0/1` = 0.0.0.0/1, `128.0/1`, a full dotted quad without mask is a host route (/32).
  Gateways `link#11` (directly connected) become None. Old netstat truncates `Netif` to a few
  characters (`vboxnet` for vboxnet0); `judge_route` allows that.
  Flag `I` marks an interface-scoped route, which the kernel ignores for ordinary (unscoped)
  lookups, so `select_route` ignores it too; `R`/`B` mark reject/blackhole routes.
* Linux `ip route get ADDRESS` (stdout and stderr together, since it exits 2 on failure):
  `192.168.99.100 dev vboxnet0 src 192.168.99.1 uid 1000` then `    cache`; also `via GW`,
  a leading route type (`local`, `broadcast`, `unreachable`, `blackhole`, `prohibit`), and the
  kernel's refusals `RTNETLINK answers: No route to host` (unreachable route),
  `... Invalid argument` (blackhole), `... Permission denied` (prohibit),
  `... Network is unreachable` (no route at all). `ip -o` one-line output (`\\` joins) works too.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

#: Route kinds after which nothing reaches the address.
BROKEN_KINDS = ("unreachable", "blackhole", "prohibit", "throw")

# Interface names VPN clients create. macOS: every modern VPN (Cisco AnyConnect / Secure Client,
# GlobalProtect 5+, WireGuard, Tunnelblick/OpenVPN 2.5+, IKEv2/L2TP, Zscaler, Cloudflare WARP,
# openconnect) uses utunN; older GlobalProtect uses gpdN, PPTP/L2TP and older FortiClient pppN,
# Cisco/builtin IPsec ipsecN, tuntaposx tunN/tapN. Linux: AnyConnect cscotunN, openconnect /
# OpenVPN / Pulse tunN (tapN in bridged mode), WireGuard wgN, GlobalProtect gpdN, Check Point SNX
# tunsnx, Zscaler zcctunN, PPP-based clients pppN, route-based IPsec vtiN / ipsecN.
_TUNNEL_PATTERNS = (
    r"utun\d+",
    r"tun\d+",
    r"tap\d+",
    r"ppp\d+",
    r"ipsec\d+",
    r"gpd\d+",
    r"cscotun\d+",
    r"wg\d+",
    r"tunsnx",
    r"zcctun\d+",
    r"vti\d+",
    r"tailscale\d+",
)
_TUNNEL = re.compile(r"^(?:" + "|".join(_TUNNEL_PATTERNS) + r")$")
_LOOPBACK = re.compile(r"^lo\d*$")

_RTNETLINK = re.compile(r"RTNETLINK answers:\s*(?P<reason>.+)$", re.IGNORECASE)
_RTNETLINK_KIND = {
    "no route to host": "unreachable",
    "network is unreachable": "unreachable",
    "invalid argument": "blackhole",
    "permission denied": "prohibit",
}
_IP_ROUTE_TYPES = (
    "unicast",
    "local",
    "broadcast",
    "multicast",
    "anycast",
    "unreachable",
    "blackhole",
    "prohibit",
    "throw",
    "nat",
)


@dataclass(frozen=True)
class Route:
    """One route as understood: destination `default`, `A.B.C.D/N`, or an address (`ip route get`).

    `kind` is `unicast` unless the tool said otherwise (`local`, `unreachable`, `blackhole`,
    `prohibit`, ...); `flags` are the BSD flag letters (netstat) or names (`route get`) as printed.
    """

    destination: str
    interface: str
    gateway: str | None
    kind: str = "unicast"
    flags: str = ""

    @property
    def scoped(self) -> bool:
        """macOS interface-scoped route (netstat flag `I`, route-get flag `IFSCOPE`)."""
        if "IFSCOPE" in self.flags:
            return True
        return "," not in self.flags and "I" in self.flags

    def network(self) -> ipaddress.IPv4Network | None:
        """The destination as a network, or None when it is not an IPv4 destination."""
        if self.destination == "default":
            return ipaddress.IPv4Network("0.0.0.0/0")
        try:
            return ipaddress.IPv4Network(self.destination, strict=False)
        except ValueError:
            return None


@dataclass(frozen=True)
class RouteVerdict:
    """Whether traffic to the VM is diverted, and a one-line explanation."""

    hijacked: bool
    interface: str
    detail: str


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def _mask_to_prefix(mask: str) -> int | None:
    try:
        return ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen
    except ValueError:
        return None


def _gateway(value: str | None) -> str | None:
    if not value or value.startswith("link#"):
        return None
    return value


def _bsd_destination(text: str, flags: str = "") -> str | None:
    """Expand netstat's shorthand destination into `default` or `A.B.C.D/N`; None if not IPv4."""
    if text == "default":
        return "default"
    base, _, bits = text.partition("/")
    octets = base.split(".")
    if not 1 <= len(octets) <= 4 or not all(o.isdigit() and int(o) <= 255 for o in octets):
        return None
    if bits:
        if not bits.isdigit() or int(bits) > 32:
            return None
        prefix = int(bits)
    elif len(octets) == 4 or "H" in flags:
        prefix = 32
    else:
        prefix = 8 * len(octets)
    address = ".".join(octets + ["0"] * (4 - len(octets)))
    network = ipaddress.IPv4Network(f"{address}/{prefix}", strict=False)
    return "default" if network.prefixlen == 0 else str(network)


def _kind_from_flags(flags: str) -> str:
    upper = flags.upper()
    if "REJECT" in upper or ("," not in flags and "R" in flags):
        return "unreachable"
    if "BLACKHOLE" in upper or ("," not in flags and "B" in flags):
        return "blackhole"
    return "unicast"


def parse_route_get(text: str) -> Route:
    """Parse macOS `route -n get ADDRESS` (stdout and stderr).

    `route: writing to routing socket: not in table` gives an `unreachable` Route with no
    interface; text without an `interface:` line otherwise raises ValueError.
    """
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        if key in ("route to", "destination", "mask", "gateway", "interface", "flags"):
            fields.setdefault(key, value.strip())
    if "interface" not in fields:
        if "not in table" in text or "network is unreachable" in text.lower():
            target = fields.get("route to") or fields.get("destination") or ""
            return Route(destination=target, interface="", gateway=None, kind="unreachable")
        raise ValueError(f"no `interface:` in route get output: {text.strip()[:200]!r}")
    flags = fields.get("flags", "").strip("<>")
    dest = fields.get("destination") or fields.get("route to", "")
    mask = fields.get("mask", "")
    if dest == "default":
        dest = "0.0.0.0"
    if _is_ipv4(dest):
        if mask and mask != "default":
            prefix = _mask_to_prefix(mask)
            if prefix is None:
                raise ValueError(f"bad mask {mask!r} in route get output")
        elif mask == "default":
            prefix = 0
        else:
            prefix = 0 if dest == "0.0.0.0" and "HOST" not in flags else 32
        network = ipaddress.IPv4Network(f"{dest}/{prefix}", strict=False)
        destination = "default" if network.prefixlen == 0 else str(network)
    else:
        destination = dest
    return Route(
        destination=destination,
        interface=fields["interface"],
        gateway=_gateway(fields.get("gateway")),
        kind=_kind_from_flags(flags),
        flags=flags,
    )


def parse_netstat_routes(text: str) -> list[Route]:
    """Parse the IPv4 part of macOS `netstat -rn [-f inet]`, finding columns by header name.

    Rows before a `Destination ...` header, the `Routing tables` / `Internet:` titles, IPv6
    sections and rows that do not make sense are skipped. Raise ValueError without a header.
    """
    routes: list[Route] = []
    columns: dict[str, int] | None = None
    seen_header = False
    in_inet6 = False
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        lowered = stripped.lower()
        if lowered.startswith("internet6"):
            in_inet6, columns = True, None
            continue
        if lowered.startswith("internet"):
            in_inet6, columns = False, None
            continue
        tokens = stripped.split()
        names = [t.lower() for t in tokens]
        if {"destination", "gateway", "netif"} <= set(names):
            columns = {name: i for i, name in enumerate(names)}
            seen_header = True
            continue
        if columns is None or in_inet6:
            continue
        needed = max(columns["destination"], columns["gateway"], columns["netif"])
        if len(tokens) <= needed:
            continue
        flags = tokens[columns["flags"]] if "flags" in columns else ""
        destination = _bsd_destination(tokens[columns["destination"]], flags)
        if destination is None:
            continue
        routes.append(
            Route(
                destination=destination,
                interface=tokens[columns["netif"]],
                gateway=_gateway(tokens[columns["gateway"]]),
                kind=_kind_from_flags(flags),
                flags=flags,
            )
        )
    if not seen_header:
        raise ValueError("no `Destination ... Netif` header in netstat output")
    return routes


def select_route(routes: Iterable[Route], address: str) -> Route | None:
    """The route the kernel would pick for `address`: longest prefix, first listed on a tie.

    Interface-scoped routes (macOS flag `I`) are ignored, as they are for unscoped lookups.
    """
    target = ipaddress.IPv4Address(address)
    best: Route | None = None
    best_len = -1
    for route in routes:
        if route.scoped:
            continue
        network = route.network()
        if network is None or target not in network:
            continue
        if network.prefixlen > best_len:
            best, best_len = route, network.prefixlen
    return best


def parse_ip_route_get(text: str) -> Route:
    """Parse Linux `ip route get ADDRESS` output (stderr and stdout in any order).

    A kernel refusal (`RTNETLINK answers: ...`) gives a Route with an empty interface and kind
    `unreachable`, `blackhole` or `prohibit`. Raise ValueError when nothing is recognised.
    """
    joined = text.replace("\\\n", " ").replace("\\", " ")
    for line in joined.splitlines():
        match = _RTNETLINK.search(line)
        if match:
            reason = match.group("reason").strip().rstrip(".").lower()
            kind = _RTNETLINK_KIND.get(reason)
            if kind is None:
                raise ValueError(f"ip route get failed: {line.strip()}")
            return Route(destination="", interface="", gateway=None, kind=kind, flags=reason)
    for line in joined.splitlines():
        if not line.strip() or line[:1].isspace():
            continue  # blank, or the indented `cache ...` line
        tokens = line.split()
        if tokens[0] in ("cache", "Error:") or tokens[0].endswith(":"):
            continue
        kind = "unicast"
        if tokens[0] in _IP_ROUTE_TYPES:
            kind = tokens.pop(0)
        if not tokens:
            continue
        destination = tokens[0]
        pairs = tokens[1:]
        interface = ""
        gateway = None
        i = 0
        while i < len(pairs):
            word = pairs[i]
            if word == "dev" and i + 1 < len(pairs):
                interface = pairs[i + 1]
                i += 2
                continue
            if word == "via" and i + 1 < len(pairs):
                value = pairs[i + 1]
                if value in ("inet", "inet6") and i + 2 < len(pairs):
                    value = pairs[i + 2]
                    i += 1
                gateway = value
                i += 2
                continue
            i += 1
        if not interface and kind not in BROKEN_KINDS:
            continue
        return Route(destination=destination, interface=interface, gateway=gateway, kind=kind)
    raise ValueError(f"no route in `ip route get` output: {text.strip()[:200]!r}")


def is_tunnel_interface(name: str) -> bool:
    """True for interface names VPN clients create (utunN, tunN, cscotunN, gpdN, wgN, ...).

    VirtualBox host-only adapters (vboxnetN, and hostonly-style names), bridges, Ethernet and
    Wi-Fi are not tunnels.
    """
    return bool(_TUNNEL.match(name.strip()))


def is_loopback_interface(name: str) -> bool:
    return bool(_LOOPBACK.match(name.strip()))


def anyconnect_connected(scutil_output: str) -> bool:
    """Read `scutil` answering `show State:/Network/Service/com.cisco.anyconnect/DNS`.

    `No such key` means not connected; a `<dictionary> {` means connected. Anything else
    (empty output, an error) is not taken as proof of a connection.
    """
    if "no such key" in scutil_output.lower():
        return False
    return "<dictionary>" in scutil_output


def _same_interface(seen: str, expected: str) -> bool:
    """Equal, or `seen` is netstat's truncated form of `expected` (old macOS: `vboxnet`)."""
    if seen == expected:
        return True
    return len(seen) >= 5 and expected.startswith(seen) and expected[len(seen) :].isdigit()


def judge_route(route: Route, address: str, expected_interface: str | None = None) -> RouteVerdict:
    """Is traffic to `address` (the VM) diverted by `route`?

    Hijacked when the route goes into a VPN tunnel, when it is a reject/blackhole/prohibit route
    or has no interface, or (when `expected_interface`, the VM's host-only adapter, is known) when
    it leaves by any other interface than that one or loopback.
    """
    iface = route.interface
    if route.kind in BROKEN_KINDS:
        return RouteVerdict(
            True, iface, f"{address} has no usable route (the kernel says {route.kind})"
        )
    if not iface:
        return RouteVerdict(True, iface, f"{address} has no route through any interface")
    if is_loopback_interface(iface):
        return RouteVerdict(False, iface, f"{address} is local to this host ({iface})")
    expected = f", not {expected_interface}" if expected_interface else ""
    if is_tunnel_interface(iface):
        return RouteVerdict(
            True, iface, f"{address} is routed into {iface} (a VPN tunnel){expected}"
        )
    if expected_interface and not _same_interface(iface, expected_interface):
        return RouteVerdict(True, iface, f"{address} is routed via {iface}{expected}")
    return RouteVerdict(False, iface, f"{address} is routed via {iface} (the VM's network)")
