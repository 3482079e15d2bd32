"""machine.create: make sure the machine exists and runs.

An existing machine is repaired whatever the VPN does: that is the point of the tool. Only a
NEW machine needs the VPN down, because docker-machine create must reach the VM over the
host-only network to provision it.
"""

from __future__ import annotations

import ipaddress

from ..adapters import preflight
from ..adapters.docker_machine import DockerMachine, create_args
from ..core import ports, store
from ..core.plans import MachinePlan, creation_refusal, plan_machine
from ..core.vbox import current_forward
from ..errors import HelperError
from ..report import say
from ..session import Session
from . import Stage, kexts, nat


def first_vm_address(cidr: str) -> str:
    """VirtualBox's DHCP server hands docker-machine VMs addresses from .100 of the network."""
    return str(ipaddress.ip_network(cidr, strict=False)[100])


def docker_machine(s: Session) -> DockerMachine:
    return DockerMachine(s.c, s.settings.docker_machine, s.settings.storage_path)


def refuse_if_vpn_up(s: Session) -> None:
    address = first_vm_address(store.DEFAULT_HOST_ONLY_CIDR)
    verdict = preflight.judge_route(s.c, address, None)
    if verdict.hijacked or preflight.anyconnect_connected(s.c):
        detail = verdict.detail if verdict.hijacked else "Cisco AnyConnect is connected"
        raise HelperError(
            f"cannot create {s.name!r} while a VPN is up ({detail}): disconnect from the VPN "
            f"and re-run: {s.rerun_hint()}"
        )


def create_command(s: Session) -> str:
    """The command that creates this machine: fix with --create (and the store, when named)."""
    named = s.settings.storage_source != "default"
    return store.create_command(s.name, s.settings.storage_path if named else None)


def plan(s: Session, create: bool = False) -> MachinePlan:
    """`create`: the user asked for a missing machine to be created (--create)."""
    if not s.view.exists():
        refusal = creation_refusal(
            s.name,
            store.survey(s.settings.storage_path),
            asked=create,
            default_location=s.settings.storage_source == "default",
            create=create_command(s),
        )
        if refusal:
            raise HelperError(refusal)
        s.vbox.require()  # before the VPN, the drivers and sudo: without it nothing can work
        refuse_if_vpn_up(s)
        kext = kexts.plan(s)
        create = ["docker-machine", *create_args(s.name, store.LOOPBACK_NAMES)]
        return plan_machine(s.name, None, create_command=create, kext_command=kext.command)
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
    start = ["docker-machine", "start", s.name]
    forward = None if info.running else nat.plan_for(s, info)
    drop = [r for r in ports.ours(info.rules()) if r.name != s.settings.nat_rule]
    dns = s.view.nat_dns() if not info.running else None
    resolver = (
        dns is not None
        and not dns.host_resolver
        and store.with_host_dns_resolver(s.machine) is None  # config.json asks for it
    )
    chosen = plan_machine(
        s.name, info, start_command=start, forward=forward, drop=drop, resolver=resolver
    )
    if info.running and not s.dry_run and not proven_healthy(s):
        s.link.open(s.view.ssh_port(), s.machine)  # see open_guest_early in docs/DESIGN.md
    return chosen


def proven_healthy(s: Session) -> bool:
    """Our forward is there and the daemon serves the store's certificate through it."""
    info = s.view.vm()
    rule = (
        current_forward(info.rules(), nat.wanted_rule(s), s.settings.port_source) if info else None
    )
    return rule is not None and s.view.serves_store_certificate(rule.host_port)


def apply(s: Session, plan: MachinePlan) -> None:
    if plan.action == "create":
        if plan.kext_command:
            kexts.apply(s, kexts.KextPlan(plan.kext_command))
        docker_machine(s).create(s.name, store.LOOPBACK_NAMES)
        s.view.refresh()
        s.lock()
        say(f"created {s.name!r}")
        return
    if plan.forward is not None and not plan.forward.present:
        nat.apply(s, plan.forward)  # while it is stopped, so it is in place when it boots
    info = s.view.vm()
    assert info is not None
    for rule in plan.drop:
        s.vbox.delete_rule(s.name, rule.name, info.nat_nic or 1, running=False)
    if plan.resolver:
        s.vbox.set_host_resolver(s.name, True)
    docker_machine(s).start(s.name)
    s.view.refresh()  # docker-machine start may have moved the SSH port and the IP
    say(f"started the VM (it was {plan.state})")
    s.link.open(s.view.ssh_port(), s.machine)


STAGE = Stage("machine.create", "Checking the VM", plan, apply)
