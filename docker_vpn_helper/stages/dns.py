"""dns.host-resolver: names that only the VPN's DNS knows resolve inside the VM and its containers.

docker-machine creates VMs with VirtualBox's own NAT DNS proxy: the VM keeps the DNS servers it
saw at boot, so a VPN's internal names (a company registry) fail until the VM restarts.
`natdnshostresolver1 on` makes VirtualBox ask the host's resolver, which follows the VPN (even
its split, scoped resolvers). VirtualBox changes it only on a stopped VM: a running one is
recorded (config.json's Driver.HostDNSResolver, as docker-machine records its own flag) and
switched at its next start through machine.create, unless --restart stops it now.
"""

from __future__ import annotations

from ..core import store
from ..core.plans.dns import ResolverPlan
from ..errors import HelperError
from ..report import say
from ..session import Session
from . import Stage


def plan(s: Session, restart: bool = False) -> ResolverPlan:
    """As the VM is, or (dry run) as machine.create would leave it: created with the host
    resolver, or switched before its start."""
    info = s.vm()
    if info is None:
        raise HelperError(f"VirtualBox has no VM named {s.name!r}")
    machine = s.machine_plan()
    if s.dry_run and machine is not None and s.creates():
        made = "docker-machine create turns it on (--virtualbox-host-dns-resolver)"
        return ResolverPlan(s.name, False, True, True, restart, before_start=made)
    if s.dry_run and machine is not None and machine.resolver:  # seen off, on a stopped VM
        switched = (
            "natdnshostresolver1 is off: fix switches it on before it starts the VM "
            "(config.json asks for the host resolver)"
        )
        return ResolverPlan(s.name, False, True, False, restart, before_start=switched)
    dns = s.view.nat_dns()
    recorded = store.with_host_dns_resolver(s.machine) is None
    if dns is None:
        return ResolverPlan(s.name, False, recorded, info.running, restart, known=False)
    switch = (s.vbox.host_resolver_command(s.name, True),)
    if info.running:
        dm = s.docker_machine
        switch = (dm.stop_command(s.name), *switch, dm.start_command(s.name))
    return ResolverPlan(s.name, dns.host_resolver, recorded, info.running, restart, switch=switch)


def apply(s: Session, plan: ResolverPlan) -> None:
    if not plan.recorded:
        updated = store.with_host_dns_resolver(s.machine)
        assert updated is not None
        s.journal.back_up([s.machine.config_path])
        store.write_config(s.machine, updated)
        s.view.refresh(vm=False)
        say(f"recorded HostDNSResolver in config.json (backup in {s.journal.folder})")
    if plan.commands:
        for command in plan.commands:
            s.execute(command)
        s.view.refresh()
        say("VirtualBox's NAT now resolves names with the host's resolver")


STAGE = Stage("dns.host-resolver", "Resolving names with the host's resolver", plan, apply)
