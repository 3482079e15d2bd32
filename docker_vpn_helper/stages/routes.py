"""routes.restore: give the host-only network back to VirtualBox after the VPN disconnected.

VPN clients often leave 192.168.99.0/24 routed into their dead tunnel, so the VM stays
unreachable at its own address although the VPN is gone. The 2015 helper re-added the route by
hand ("partial solution"); this stage does it only when it is safe: never while the tunnel is
still alive (the VPN client would fight back), and never onto an adapter that VirtualBox's
driver has lost (only a restart of its kernel extensions cures that).
"""

from __future__ import annotations

from ..adapters import host, preflight
from ..adapters.sudo import as_root, sudo
from ..core import routes
from ..core.commands import Command
from ..core.hostonly import (
    ROUTE_EXISTS_MARKER,
    HostOnlyNetwork,
    adapter_broken,
    route_add_argv,
    route_delete_argv,
)
from ..core.plans.routes import RoutePlan
from ..errors import HelperError
from ..report import say
from ..session import Session
from . import Stage


def host_only_adapter(s: Session) -> str:
    """VirtualBox's host-only adapter of the VM (docker-machine's NIC2, e.g. vboxnet0)."""
    info = s.view.vm()
    if info is None:
        raise HelperError(f"VirtualBox has no VM named {s.name!r}: nothing to route to")
    if not info.hostonly_adapters:
        raise HelperError(f"VM {s.name!r} has no host-only network adapter")
    return info.hostonly_adapters[min(info.hostonly_adapters)]


def network(s: Session) -> HostOnlyNetwork:
    try:
        return HostOnlyNetwork.from_cidr(s.machine.host_only_cidr)
    except ValueError as exc:
        raise HelperError(f"{s.machine.config_path}: Driver.HostOnlyCIDR: {exc}") from None


def kext_restart_needed(why: str) -> HelperError:
    return HelperError(
        f"{why}: VirtualBox cannot add its routes; the only cure is restarting its kernel "
        "extensions: stop every VM, quit VirtualBox, then run: docker-vpn-helper kexts.restart"
    )


def refuse_if_tunnel_alive(s: Session, route: routes.Route, verdict: routes.RouteVerdict) -> None:
    """A tunnel that is up with its client attached means the VPN is still connected."""
    if not routes.is_tunnel_interface(route.interface):
        return
    if preflight.link(s.c, route.interface).alive:
        raise HelperError(
            f"{verdict.detail}, and {route.interface} is up with its client attached: the VPN "
            f"is still connected and would take the route back; disconnect it (or use `docker-vpn-helper fix`, which works on the VPN), "
            f"then re-run: {s.rerun_hint()}"
        )


def run_as_root(s: Session, command: Command) -> host.Output:
    result = sudo(s.c, command)
    if not result.ok and adapter_broken(result.stdout + result.stderr):
        raise kext_restart_needed(f"{command.line()} failed ({result.last_line()})")
    return result


def plan(s: Session) -> RoutePlan:
    """Put the route back only when a tunnel nobody holds keeps it, onto a live adapter."""
    net = network(s)
    adapter = host_only_adapter(s)
    address = net.probe_address(s.machine.ip)
    route = preflight.route_to(s.c, address)
    verdict = routes.judge_route(route, address, adapter)
    if not verdict.hijacked:
        return RoutePlan(verdict.detail)
    refuse_if_tunnel_alive(s, route, verdict)
    vboxnet = preflight.link(s.c, adapter)
    if not (vboxnet.exists and vboxnet.up):
        state = "is down" if vboxnet.exists else "does not exist"
        raise kext_restart_needed(f"{verdict.detail}, and {adapter} {state}")
    add = as_root(route_add_argv(host.platform(), net, adapter), "route add")
    delete = as_root(route_delete_argv(net), "route delete")
    return RoutePlan(verdict.detail, net, adapter, address, add, delete)


def apply(s: Session, plan: RoutePlan) -> None:
    """Linux replaces in one go; macOS answers "File exists" while the stale route is there:
    then the plan's delete runs, and its add again."""
    net, adapter, address = plan.network, plan.adapter, plan.address
    assert net is not None and plan.add is not None and plan.delete is not None
    say(f"{plan.verdict}, with no live VPN behind it")
    result = run_as_root(s, plan.add)
    if not result.ok and ROUTE_EXISTS_MARKER in result.last_line().lower():
        run_as_root(s, plan.delete)
        result = run_as_root(s, plan.add)
    if not result.ok:
        raise HelperError(f"{plan.add.shell()} failed: {result.last_line()}")
    after = routes.judge_route(preflight.route_to(s.c, address), address, adapter)
    if after.hijacked:
        raise HelperError(
            f"routed {net.network} to {adapter}, yet {after.detail}: a more specific route "
            "(the VPN's) still wins; look at `netstat -rn` / `ip route`"
        )
    say(f"routed {net.network} to {adapter} again")


STAGE = Stage("routes.restore", "Restoring the host-only network's route", plan, apply)
