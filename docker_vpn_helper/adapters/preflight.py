"""Host-side checks before touching VirtualBox: is a VPN up, is VirtualBox running."""

from __future__ import annotations

from invoke import Context

from ..core import hostonly, procs, routes
from ..errors import HelperError
from . import host

ANYCONNECT_KEY = "State:/Network/Service/com.cisco.anyconnect/DNS"
LOOKUP_TIMEOUT = 10.0


def route_to(c: Context, address: str) -> routes.Route:
    """The host's route to `address` (no packet is sent, so a silent-drop VPN cannot hang it)."""
    if host.platform() == "macos":
        output = host.run(c, ["route", "-n", "get", address], timeout=LOOKUP_TIMEOUT, what="route")
        try:
            return routes.parse_route_get(output.stdout + output.stderr)
        except ValueError:  # an answer we cannot read: the routing table tells the same story
            return _netstat_route(c, address)
    output = host.run(c, ["ip", "route", "get", address], timeout=LOOKUP_TIMEOUT, what="ip route")
    return routes.parse_ip_route_get(output.stdout + output.stderr)


def _netstat_route(c: Context, address: str) -> routes.Route:
    argv = ["netstat", "-rn", "-f", "inet"]
    output = host.run(c, argv, timeout=LOOKUP_TIMEOUT, what="netstat")
    route = routes.select_route(routes.parse_netstat_routes(output.stdout), address)
    if route is None:
        raise HelperError(f"no route to {address} in `netstat -rn -f inet`")
    return route


def judge_route(c: Context, address: str, expected_interface: str | None) -> routes.RouteVerdict:
    return routes.judge_route(route_to(c, address), address, expected_interface)


def link(c: Context, name: str) -> hostonly.Link:
    """Whether interface `name` exists, is up and has something attached (a VPN client, a VM)."""
    if host.platform() == "macos":
        output = host.run(c, ["ifconfig", name], timeout=LOOKUP_TIMEOUT, what="ifconfig")
    else:
        argv = ["ip", "-o", "link", "show", "dev", name]
        output = host.run(c, argv, timeout=LOOKUP_TIMEOUT, what="ip link")
    return hostonly.parse_link(output.stdout + output.stderr, name)


def anyconnect_connected(c: Context) -> bool:
    """Cisco AnyConnect / Secure Client state on macOS; elsewhere the route check is all we have."""
    if host.platform() != "macos":
        return False
    output = host.run(
        c,
        ["sh", "-c", f"echo 'show {ANYCONNECT_KEY}' | scutil"],
        timeout=LOOKUP_TIMEOUT,
        what="scutil",
    )
    return routes.anyconnect_connected(output.stdout)


def virtualbox_processes(c: Context) -> list[procs.Process]:
    output = host.run(c, ["ps", "-axo", "pid=,comm="], timeout=LOOKUP_TIMEOUT, what="ps")
    return procs.virtualbox_processes(procs.parse_ps(output.stdout))
