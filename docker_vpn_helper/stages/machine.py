"""machine.create: make sure the machine exists and runs.

An existing machine is repaired whatever the VPN does: that is the point of the tool. Only a
NEW machine needs the VPN down, because docker-machine create must reach the VM over the
host-only network to provision it.
"""

from __future__ import annotations

import ipaddress
import shlex

from ..adapters import preflight
from ..adapters.docker_machine import DockerMachine, create_args
from ..core import store
from ..errors import HelperError
from ..report import say
from ..session import Session
from .kexts import restart_kexts
from .nat import ensure_forward


def first_vm_address(cidr: str) -> str:
    """VirtualBox's DHCP server hands docker-machine VMs addresses from .100 of the network."""
    return str(ipaddress.ip_network(cidr, strict=False)[100])


def docker_machine(s: Session) -> DockerMachine:
    return DockerMachine(s.c, s.settings.docker_machine, s.settings.storage_path)


def create_machine(s: Session) -> None:
    address = first_vm_address(store.DEFAULT_HOST_ONLY_CIDR)
    verdict = preflight.judge_route(s.c, address, None)
    if verdict.hijacked or preflight.anyconnect_connected(s.c):
        detail = verdict.detail if verdict.hijacked else "Cisco AnyConnect is connected"
        raise HelperError(
            f"cannot create {s.name!r} while a VPN is up ({detail}): disconnect from the VPN "
            f"and re-run: {s.rerun_hint()}"
        )
    restart_kexts(s)
    if s.dry_run:
        command = shlex.join(create_args(s.name, store.LOOPBACK_NAMES))
        say(f"would run: docker-machine {command}")
    else:
        docker_machine(s).create(s.name, store.LOOPBACK_NAMES)
        s.forget_vm()
        s.lock()
        say(f"created {s.name!r}")
    s.changed.add("machine")


def ensure_machine(s: Session, certificate_follows: bool = False) -> None:
    """`certificate_follows`: cert.issue runs next in this command (see prepare_server_key)."""
    if not s.machine_exists():
        create_machine(s)
        return
    if not s.machine.on_virtualbox:
        raise HelperError(
            f"machine {s.name!r} uses docker-machine's {s.machine.driver_name!r} driver: this "
            "tool repairs VirtualBox machines only"
        )
    s.connect_early()  # while VBoxManage answers
    if certificate_follows and not s.machine.loopback_sans_recorded:
        # Not recorded in ServerCertSANs: a machine we never fixed, whose docker-machine
        # certificate lacks 127.0.0.1, so cert.issue will replace it. (A wrong guess costs a
        # key made for nothing, or made by cert.issue itself.)
        s.prepare_server_key()
    info = s.vm()
    if info is None:
        raise HelperError(
            f"VirtualBox has no VM named {s.name!r} although the store has it: remove it with "
            f"`docker-machine rm {s.name}` and create it again"
        )
    if info.running:
        say(f"the VM is {info.state}: nothing to do")
        s.warm_up()
        return
    if info.state == "paused":
        raise HelperError(f"the VM {s.name!r} is paused: resume it in VirtualBox and re-run")
    ensure_forward(s)  # while it is stopped, so the forward is in place when it boots
    if s.dry_run:
        say(f"would run: docker-machine start {s.name} (the VM is {info.state})")
    else:
        docker_machine(s).start(s.name)
        s.forget_vm()
        s.reload_machine()  # docker-machine start may have moved the SSH port and the IP
        say(f"started the VM (it was {info.state})")
        s.warm_up()
    s.changed.add("machine")
