"""dns.host-resolver: VirtualBox's NAT asks the host's resolver, which follows a VPN's DNS."""

from __future__ import annotations

from dataclasses import dataclass

from ..commands import Command
from .base import Plan


@dataclass(frozen=True)
class ResolverPlan(Plan):
    """dns.host-resolver: VirtualBox's NAT asks the host's resolver (which follows a VPN's
    DNS), recorded in config.json and set on the VM when it may change (stopped)."""

    name: str
    vm_on: bool  # natdnshostresolver1 is on
    recorded: bool  # config.json's Driver.HostDNSResolver is true
    running: bool
    restart: bool = False  # --restart: stop the VM, switch, start it again
    known: bool = True  # False: VirtualBox's settings file could not be read
    switch: tuple[Command, ...] = ()  # stop (when running), modifyvm, start (when running)
    before_start: str = ""  # what switches it before the VM runs (machine.create's plan)

    @property
    def switch_now(self) -> bool:
        return (
            self.known
            and not self.before_start
            and not self.vm_on
            and (not self.running or self.restart)
        )

    @property
    def changes(self) -> tuple[str, ...]:
        if self.before_start:
            return ()  # machine.create's change
        return ("dns",) if self.known and (self.switch_now or not self.recorded) else ()

    @property
    def problem(self) -> str:
        if not self.known or self.before_start:
            return self.seen()
        if self.vm_on:
            return ""
        return "the VM resolves names with the DNS servers it got at boot, not the VPN's"

    @property
    def notes(self) -> tuple[str, ...]:
        """Said when the switch is recorded, not on every run after (doctor says it then)."""
        if not self.known or self.vm_on or self.switch_now or self.recorded or self.before_start:
            return ()
        return (
            "the VM runs: the host resolver takes effect at its next start (`docker-vpn-helper "
            f"fix --machine {self.name}` after a stop), or now with --restart",
        )

    def seen(self) -> str:
        if self.before_start:
            return self.before_start
        if self.vm_on:
            return (
                "VirtualBox's NAT resolves names with the host's resolver (natdnshostresolver1 on)"
            )
        return "natdnshostresolver1 is off, and recorded to be switched on at the next start"

    @property
    def commands(self) -> tuple[Command, ...]:
        return self.switch if self.switch_now else ()

    def actions(self) -> list[str]:
        recording = [] if self.recorded else ["record HostDNSResolver in config.json"]
        return recording + super().actions()
