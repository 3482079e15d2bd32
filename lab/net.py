"""The lab's networks, built only inside its own namespaces (the root namespace is never touched).

dvhlab-host plays the Mac: bridge vboxnet0 (192.168.99.1/24) is VirtualBox's host-only network, and
each guest namespace dvhlab-vm-<machine> gets eth1 on that bridge and eth0 for its "NAT" side. The
fake VPN is a tun device utun0 that steals the route to 192.168.99.0/24, as Cisco AnyConnect does.
"""

from __future__ import annotations

import os

from . import proc
from .paths import (
    CORP_NS,
    HOST_NS,
    HOSTONLY_BRIDGE,
    HOSTONLY_HOST_IP,
    HOSTONLY_NET,
    NAT_GUEST_IP,
    NETNS_DIR,
    VM_NS_PREFIX,
    VPN_DEV,
    netns_path,
    vm_ns,
)

VPN_MODES = ("drop", "unreachable", "blackhole", "prohibit")
HEALTHY_ROUTE = (
    f"{HOSTONLY_NET} dev {HOSTONLY_BRIDGE} proto kernel scope link src {HOSTONLY_HOST_IP}"
)


def ip(*args: str, ns: str | None = None, check: bool = True) -> str:
    argv = ["ip"] + (["-n", ns] if ns else []) + list(args)
    return proc.run(argv, check=check, timeout=10).stdout


def exists(ns: str) -> bool:
    return os.path.exists(netns_path(ns))


def lab_namespaces() -> list[str]:
    try:
        names = os.listdir(NETNS_DIR)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if n in (HOST_NS, CORP_NS) or n.startswith(VM_NS_PREFIX))


def ensure_host() -> None:
    """The "Mac": loopback and the host-only bridge."""
    if not exists(HOST_NS):
        ip("netns", "add", HOST_NS)
    ip("link", "set", "lo", "up", ns=HOST_NS)
    if HOSTONLY_BRIDGE not in ip("-o", "link", "show", ns=HOST_NS):
        ip("link", "add", HOSTONLY_BRIDGE, "type", "bridge", ns=HOST_NS)
        ip("addr", "add", f"{HOSTONLY_HOST_IP}/24", "dev", HOSTONLY_BRIDGE, ns=HOST_NS)
    ip("link", "set", HOSTONLY_BRIDGE, "up", ns=HOST_NS)


def ensure_guest(machine: str, index: int, address: str, mac1: str, mac2: str) -> None:
    """The VM's two NICs: eth0 (NAT side, 10.0.2.15) and eth1 on vboxnet0, left down until the VM starts."""
    ns = vm_ns(machine)
    if not exists(ns):
        ip("netns", "add", ns)
    ip("link", "set", "lo", "up", ns=ns)
    links = ip("-o", "link", "show", ns=ns)
    if "eth1" not in links:
        ip(
            "link",
            "add",
            f"vho{index}",
            "type",
            "veth",
            "peer",
            "name",
            "eth1",
            "netns",
            ns,
            ns=HOST_NS,
        )
        ip("link", "set", f"vho{index}", "master", HOSTONLY_BRIDGE, "up", ns=HOST_NS)
        ip("link", "set", "eth1", "address", _colons(mac2), ns=ns)
        ip("addr", "add", f"{address}/24", "dev", "eth1", ns=ns)
        # A removed machine may have had this address with another MAC: the Mac's ARP entry
        # would send to it for seconds (a real guest's DHCP renewal refreshes it).
        ip("neigh", "flush", "to", address, ns=HOST_NS, check=False)
    if "eth0" not in links:
        # The NAT peer stays unaddressed in dvhlab-host: NAT forwards dial from inside the guest.
        ip(
            "link",
            "add",
            f"vnat{index}",
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            ns,
            ns=HOST_NS,
        )
        ip("link", "set", f"vnat{index}", "up", ns=HOST_NS)
        ip("link", "set", "eth0", "address", _colons(mac1), ns=ns)
        ip("addr", "add", f"{NAT_GUEST_IP}/24", "dev", "eth0", ns=ns)


def set_guest_links(machine: str, up: bool) -> None:
    """Power: a stopped VM's NICs are down, so its host-only address stops answering."""
    ns = vm_ns(machine)
    for dev in ("eth0", "eth1"):
        ip("link", "set", dev, "up" if up else "down", ns=ns)
    if up:
        ip("route", "replace", "default", "via", "10.0.2.2", "dev", "eth0", ns=ns, check=False)


def _colons(mac: str) -> str:
    return ":".join(mac[i : i + 2] for i in range(0, 12, 2)).lower()


def delete(ns: str) -> None:
    proc.run(["ip", "netns", "delete", ns], check=False, timeout=10)


def vpn_on(mode: str = "drop") -> None:
    """Hijack 192.168.99.0/24: `drop` hangs like AnyConnect; the other modes fail fast."""
    if mode not in VPN_MODES:
        raise ValueError(f"unknown VPN mode {mode!r} (one of {', '.join(VPN_MODES)})")
    if VPN_DEV not in ip("-o", "link", "show", ns=HOST_NS):
        ip("tuntap", "add", "dev", VPN_DEV, "mode", "tun", ns=HOST_NS)
    ip("link", "set", VPN_DEV, "up", ns=HOST_NS)
    if mode == "drop":
        ip("route", "replace", HOSTONLY_NET, "dev", VPN_DEV, ns=HOST_NS)
    else:
        ip("route", "replace", mode, HOSTONLY_NET, ns=HOST_NS)


def vpn_off(keep_stale_route: bool = False) -> None:
    """Give the route back to vboxnet0; with keep_stale_route, leave it on a dead utun0 instead.

    A tun device nobody has opened has no carrier, so the kernel keeps the route but nothing answers:
    the state a crashed or half-disconnected VPN client leaves behind.
    """
    if keep_stale_route:
        if VPN_DEV not in ip("-o", "link", "show", ns=HOST_NS):
            ip("tuntap", "add", "dev", VPN_DEV, "mode", "tun", ns=HOST_NS)
            ip("link", "set", VPN_DEV, "up", ns=HOST_NS)
        ip("route", "replace", HOSTONLY_NET, "dev", VPN_DEV, ns=HOST_NS)
        return
    ip("route", "replace", *HEALTHY_ROUTE.split(), ns=HOST_NS)
    if VPN_DEV in ip("-o", "link", "show", ns=HOST_NS):
        ip("link", "delete", VPN_DEV, ns=HOST_NS)


def carrier(dev: str) -> bool:
    """Whether `dev` in the Mac's namespace has a carrier: for a tun device, a process holds it."""
    line = ip("-o", "link", "show", "dev", dev, ns=HOST_NS, check=False)
    return "LOWER_UP" in line  # up with a carrier; a tun nobody holds shows NO-CARRIER


def route_to_hostonly() -> str:
    """The host's current route line for 192.168.99.0/24 (any type), '' if none."""
    out = ip("route", "show", "table", "main", ns=HOST_NS)
    for line in out.splitlines():
        if HOSTONLY_NET in line.split():
            return line.strip()
    return ""
