"""dns.host-names: containers reach the Mac's 127.0.0.1 as `host.docker.internal`.

VirtualBox's NAT answers `host.docker.internal` and `gateway.docker.internal` with 10.0.2.2
(host-resolver mappings in the VM's extradata, read at its start; they need the host resolver
that dns.host-resolver switches on), and from VirtualBox 7.0 lets 10.0.2.2 reach the host's
loopback only with localhost-reachable on, which only a stopped VM takes: a running VM gets the
mapping now and both at its next start (machine.create switches the loopback on before it
starts a VM that has our mapping), unless --restart stops it now.
"""

from __future__ import annotations

from ..core import vbox
from ..core.plans.hostnames import HostNamesPlan, plan_host_names
from ..errors import HelperError
from ..report import say
from ..session import Session
from . import Stage


def resolver_on(s: Session) -> bool:
    """The host resolver is on, or dns.host-resolver switches it on in this run."""
    planned = s.resolver_plan()
    if planned is not None:
        return planned.vm_on or planned.switch_now
    dns = s.view.nat_dns()
    return dns is not None and dns.host_resolver


def plan(s: Session, restart: bool = False) -> HostNamesPlan:
    info = s.vm()
    if info is None:
        raise HelperError(f"VirtualBox has no VM named {s.name!r}")
    nic = info.nat_nic or 1
    settings = None if s.creates() else s.view.vm_settings()  # a new VM: none to read yet
    names = vbox.host_names(settings, nic) if settings is not None else None
    # The version only says whether the mappings can be made (5.0+): a VM that has them and
    # reaches the loopback needs nothing, and VirtualBox is not asked again (a process).
    done = names is not None and names.mapped and names.localhost_reachable
    version = None if done else s.vbox.require()
    ip_key, pattern_key = vbox.mapping_keys(names.device if names else vbox.NIC_DEVICES["82540EM"])
    mapping = (
        s.vbox.extradata_command(s.name, ip_key, vbox.NAT_HOST_IP),
        s.vbox.extradata_command(s.name, pattern_key, vbox.HOST_NAMES),
    )
    switch = (s.vbox.localhost_reachable_command(s.name, True, nic),)
    if info.running:
        dm = s.docker_machine
        switch = (dm.stop_command(s.name), *switch, dm.start_command(s.name))
    return plan_host_names(
        s.name, version, names, info.running, resolver_on(s), restart, mapping, switch
    )


def apply(s: Session, plan: HostNamesPlan) -> None:
    # Ahead of the change: restore --original takes the mapping (ours by its id) out, and
    # switches the loopback off again where a run of ours switched it on.
    s.journal.record(host_names={"mapped": True, "localhost_switched": plan.switch_now})
    for command in plan.commands:
        s.execute(command)
    s.view.refresh()
    when = "" if not plan.running or plan.switch_now else " from the VM's next start"
    say(f"containers reach the Mac's 127.0.0.1 as host.docker.internal{when}")


STAGE = Stage("dns.host-names", "Naming the Mac host.docker.internal in containers", plan, apply)
