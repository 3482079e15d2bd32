"""machine.create: make sure the machine exists and runs.

An existing machine is repaired whatever the VPN does: that is the point of the tool. Only a
NEW machine needs the VPN down, because docker-machine create must reach the VM over the
host-only network to provision it.
"""

from __future__ import annotations

import ipaddress
import time

from .. import forwarding
from ..adapters import daemon, drivers, preflight
from ..core import ports, store, vbox
from ..core.commands import Command
from ..core.fsutil import read_optional
from ..core.hostonly import CREATE_FAILS, hostonly_refusal
from ..core.plans.machine import (
    MachineAction,
    MachinePlan,
    creation_refusal,
    plan_create,
    plan_machine,
)
from ..errors import HelperError
from ..report import say
from ..session import Session
from . import Stage


def first_vm_address(cidr: str) -> str:
    """VirtualBox's DHCP server hands docker-machine VMs addresses from .100 of the network."""
    return str(ipaddress.ip_network(cidr, strict=False)[100])


def refuse_if_vpn_up(s: Session) -> None:
    address = first_vm_address(store.DEFAULT_HOST_ONLY_CIDR)
    verdict = preflight.judge_route(s.c, address, None)
    if verdict.hijacked or preflight.anyconnect_connected(s.c):
        detail = verdict.detail if verdict.hijacked else "Cisco AnyConnect is connected"
        raise HelperError(
            f"cannot create {s.name!r} while a VPN is up ({detail}): disconnect from the VPN "
            f"and re-run: {s.rerun_hint()}"
        )


def range_refusal(s: Session, version: tuple[int, int, int], consequence: str) -> str | None:
    """Why VirtualBox `version` would not give docker-machine's host-only network its address
    (6.1.28+: networks.conf), None when it would."""
    conf = s.settings.vbox_networks_conf
    text = read_optional(conf, "VirtualBox's host-only ranges")
    cidr = s.machine.host_only_cidr if s.view.exists() else store.DEFAULT_HOST_ONLY_CIDR
    decoded = text.decode(errors="replace") if text is not None else None
    return hostonly_refusal(cidr, version, decoded, conf, consequence)


def refuse_if_range_refused(s: Session, version: tuple[int, int, int]) -> None:
    """Before `docker-machine create`, which otherwise fails late (`E_ACCESSDENIED` after the
    ISO's download and the VM's creation) and leaves a half-made machine."""
    refusal = range_refusal(s, version, CREATE_FAILS)
    if refusal:
        raise HelperError(refusal)


def create_command(s: Session) -> str:
    """The command that creates this machine: fix with --create (and the store, when named)."""
    named = s.settings.storage_source != "default"
    return store.create_command(s.name, s.settings.storage_path if named else None)


def plan_new(s: Session, create: bool) -> MachinePlan:
    """A machine the store lacks: created where the user plainly means it (creation_refusal),
    with no VPN up and VirtualBox's drivers restarted first where they can be."""
    refusal = creation_refusal(
        s.name,
        store.survey(s.settings.storage_path),
        asked=create,
        default_location=s.settings.storage_source == "default",
        create=create_command(s),
    )
    if refusal:
        raise HelperError(refusal)
    version = s.vbox.require()  # before the VPN, the drivers, sudo: without it nothing works
    refuse_if_range_refused(s, version)
    refuse_if_vpn_up(s)
    drivers.refuse_if_virtualbox_runs(s.c, "restarting its kernel extensions", s.rerun_hint())
    kext = drivers.kext_command(s.settings, s.vbox)
    creating = s.docker_machine.create_command(s.name, store.LOOPBACK_NAMES)
    return plan_create(s.name, (*([kext] if kext else []), creating))


def plan(s: Session, create: bool = False) -> MachinePlan:
    """`create`: the user asked for a missing machine to be created (--create)."""
    if not s.view.exists():
        return plan_new(s, create)
    if not s.machine.on_virtualbox:
        raise HelperError(
            f"machine {s.name!r} uses docker-machine's {s.machine.driver_name!r} driver: this "
            "tool repairs VirtualBox machines only"
        )
    info = s.view.vm()
    if info is None:
        raise HelperError(
            f"VirtualBox has no VM named {s.name!r} although the store has it: remove it with "
            f"`docker-machine rm {s.name}` and create it again"
        )
    if info.state == "paused":
        raise HelperError(f"the VM {s.name!r} is paused: resume it in VirtualBox and re-run")
    if info.running:
        if not s.dry_run and not forwarding.proven_healthy(s):
            s.link.open(s.view.ssh_port(), s.machine)  # see open_guest_early in docs/DESIGN.md
        return plan_machine(info, start_command(s))
    edits = s.rule_edits(info)
    drop = [
        (rule, edits.delete(rule))
        for rule in ports.ours(info.rules())
        if rule.name != s.settings.nat_rule
    ]
    dns = s.view.nat_dns()
    wants_resolver = store.with_host_dns_resolver(s.machine) is None  # config.json asks for it
    resolver = (
        s.vbox.host_resolver_command(s.name, True)
        if dns is not None and not dns.host_resolver and wants_resolver
        else None
    )
    forward = forwarding.plan_for(s, info)
    start = start_command(s)
    return plan_machine(info, start, forward, drop, resolver, loopback_command(s, info))


def start_command(s: Session) -> Command:
    """docker-machine start; minikube's VM boots with VirtualBox's own start (README says why)."""
    if s.settings.minikube:
        return s.vbox.start_command(s.name)
    return s.docker_machine.start_command(s.name)


def wait_for_daemon(s: Session) -> None:
    """minikube's VM: VBoxManage returns once the VM powers on, not once it has booted; wait
    (up to daemon_wait) until its daemon answers through the forward, so the later stages judge
    the daemon, not a VM still booting. Learnt only by running: no command of the plan."""
    auth = s.machine.auth
    probe = daemon.wait_for(
        s.port,
        auth.ca_cert,
        auth.client_cert,
        auth.client_key,
        expected_cert=None,
        server_name=None,  # any certificate of the store's CA: cert.issue judges its names
        deadline=time.monotonic() + s.settings.daemon_wait,
    )
    if not probe.ok:
        say(f"the daemon does not answer through 127.0.0.1:{s.port} yet ({probe.detail})")


def loopback_command(s: Session, info: vbox.VMInfo) -> Command | None:
    """What lets 10.0.2.2 reach the host's loopback before the VM starts, where it has our
    host.docker.internal mapping without it (set by dns.host-names while it ran)."""
    settings = s.view.vm_settings()
    names = vbox.host_names(settings, info.nat_nic or 1) if settings is not None else None
    if names is None or not names.mapped or names.localhost_reachable:
        return None
    return s.vbox.localhost_reachable_command(s.name, True, info.nat_nic or 1)


def apply(s: Session, plan: MachinePlan) -> None:
    if plan.action is MachineAction.CREATE:
        for command in plan.commands:
            s.execute(command)
            if command.where == "sudo":  # the drivers' restart, before docker-machine create
                say(drivers.restarted(command))
        s.view.refresh()
        s.lock()
        say(f"created {s.name!r}")
        return
    forward = plan.forward
    if forward is not None and not forward.present:
        forwarding.apply(s, forward)  # while it is stopped, so it is in place when it boots
    if plan.loopback:  # ahead of the change, for restore --original (as dns.host-names does)
        s.journal.record(host_names={"localhost_switched": True})
    for command in plan.commands[len(forward.commands) if forward else 0 :]:
        s.execute(command)
    s.view.refresh()  # docker-machine start may have moved the SSH port and the IP
    say(f"started the VM (it was {plan.state})")
    if s.settings.minikube:
        wait_for_daemon(s)
    s.link.open(s.view.ssh_port(), s.machine)


STAGE = Stage("machine.create", "Checking the VM", plan, apply)
