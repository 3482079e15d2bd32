"""dns.host-names: `host.docker.internal` (and `gateway.docker.internal`) in every container
resolve to the NAT's gateway 10.0.2.2, which reaches the Mac's 127.0.0.1.

Docker Desktop users expect it; behind a VPN the host-only address 192.168.99.1 is no way to the
Mac, and boot2docker's Docker 19.03 has no `host-gateway`. VirtualBox's NAT answers fixed names
through its host resolver (`HostResolverMappings` extradata, read at the VM's start, only with
`natdnshostresolver1 on`) and lets 10.0.2.2 reach the host's loopback: always before 7.0, from
7.0 only with `--nat-localhostreachable1 on` (VMs created by 7.0+ have it off), which a stopped
VM takes.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..commands import Command
from ..vbox import HOST_NAMES, NAT_HOST_IP, HostNames
from .base import Plan

#: VirtualBox's user manual documents the NAT host resolver's name mappings from 5.0 on (9.11.6);
#: docker-machine 0.16 asks for 5.0 or later too.
MAPPINGS_FROM = (5, 0, 0)


@dataclass(frozen=True)
class HostNamesPlan(Plan):
    name: str
    version: tuple[int, int, int] | None  # None: not asked, the VM has the mappings already
    names: HostNames | None  # None: VirtualBox names no settings file we can read
    running: bool
    resolver: bool  # the host resolver is on, or switched on by dns.host-resolver in this run
    restart: bool = False  # --restart: stop the VM, switch, start it again
    mapping: tuple[Command, ...] = ()  # setextradata HostIP, HostNamePattern
    switch: tuple[Command, ...] = ()  # [stop], modifyvm --nat-localhostreachable1 on, [start]

    @property
    def refusal(self) -> str:
        if self.version is None or self.version >= MAPPINGS_FROM:
            return ""
        shown = ".".join(map(str, self.version))
        return (
            f"host.docker.internal needs VirtualBox {'.'.join(map(str, MAPPINGS_FROM))} or later "
            f"(its NAT's host-name mappings); this is {shown}: not set up"
        )

    @property
    def known(self) -> bool:
        return self.names is not None and not self.refusal

    @property
    def switch_now(self) -> bool:
        """10.0.2.2 must be let reach the loopback, and the VM is stopped or may be restarted."""
        unreachable = self.names is not None and not self.names.localhost_reachable
        return self.known and unreachable and (not self.running or self.restart)

    @property
    def commands(self) -> tuple[Command, ...]:
        if not self.known:
            return ()
        return (() if self.names and self.names.mapped else self.mapping) + (
            self.switch if self.switch_now else ()
        )

    @property
    def changes(self) -> tuple[str, ...]:
        return ("host names",) if self.commands else ()

    @property
    def problem(self) -> str:
        if self.refusal:
            return self.refusal
        if self.names is None:
            return self.seen()
        if not self.names.mapped:
            return "containers cannot resolve host.docker.internal"
        if not self.names.localhost_reachable:
            return "10.0.2.2 does not reach the Mac's 127.0.0.1 (VirtualBox 7: localhost-reachable off)"
        return "" if self.resolver else "the mapping works only with the host resolver on"

    @property
    def notes(self) -> tuple[str, ...]:
        if not self.known:
            return (self.refusal,) if self.refusal else ()
        later = []
        if self.running and self.names is not None and not self.names.mapped:
            later.append("the name")
        if (
            self.running
            and not self.switch_now
            and self.names
            and not self.names.localhost_reachable
        ):
            later.append("the Mac's loopback")
        if not later:
            return ()
        return (
            f"the VM runs: {' and '.join(later)} take effect at its next start (`fix --machine "
            f"{self.name}` after a stop switches what a stopped VM needs), or now with --restart",
        )

    def seen(self) -> str:
        if self.refusal:
            return self.refusal
        if self.names is None:
            return "VirtualBox names no settings file to read the VM's NAT settings from"
        if self.names.mapped and self.names.localhost_reachable:
            return (
                f"{HOST_NAMES.replace('|', ' and ')} resolve to {NAT_HOST_IP}, the Mac's loopback"
            )
        return "host.docker.internal is not mapped yet, or 10.0.2.2 does not reach the loopback"


def plan_host_names(
    name: str,
    version: tuple[int, int, int] | None,
    names: HostNames | None,
    running: bool,
    resolver: bool,
    restart: bool,
    mapping: tuple[Command, ...],
    switch: tuple[Command, ...],
) -> HostNamesPlan:
    """`mapping` (the two setextradata commands, any state) and `switch` (the commands that let
    10.0.2.2 reach the loopback: modifyvm, with a stop and a start around it for a running VM)
    are run as far as VirtualBox takes them now; the rest waits for the VM's next start."""
    return HostNamesPlan(name, version, names, running, resolver, restart, mapping, switch)
