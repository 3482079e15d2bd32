"""VirtualBox NAT port-forwarding, for real: one relay process (natfwd.py) per rule, TCP or UDP,
listening in the host namespace.

Each connection (TCP) or datagram (UDP) is delivered from INSIDE the guest's network namespace
to the guest's eth0 address, 10.0.2.15, so a forward keeps working when the VPN hijacks the
host's routes, as VirtualBox NAT does, and a service bound only to the guest's 127.0.0.1 is not
reachable through it. Like VirtualBox, a rule whose host port is already taken is kept but
silently forwards nothing.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from . import proc
from .paths import HOST_NS, NAT_GUEST_IP, LabPaths, netns_path, vm_ns

RELAY = Path(__file__).with_name("natfwd.py")


@dataclass
class Rule:
    """`name,proto,hostip,hostport,guestip,guestport`, VBoxManage's --natpf syntax."""

    name: str
    proto: str
    hostip: str
    hostport: int
    guestip: str
    guestport: int

    @classmethod
    def parse(cls, text: str) -> Rule:
        parts = text.split(",")
        if len(parts) != 6 or not parts[0] or parts[1] not in ("tcp", "udp"):
            raise ValueError(text)
        return cls(parts[0], parts[1], parts[2], int(parts[3]), parts[4], int(parts[5]))

    def __str__(self) -> str:
        return f"{self.name},{self.proto},{self.hostip},{self.hostport},{self.guestip},{self.guestport}"

    def to_json(self) -> dict:
        return asdict(self)


def _bound(pid: int, proto: str, port: int) -> bool:
    """Whether the forwarder itself has a TCP listener (or a bound UDP socket) on `port`, read
    through its /proc: its namespace's table, matched to the sockets it holds (another program
    listening on the port must not count)."""
    try:
        held = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
        with open(f"/proc/{pid}/net/{proto}") as f:
            next(f)
            for line in f:
                fields = line.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                listening = proto == "udp" or fields[3] == "0A"
                if local_port == port and listening and f"socket:[{fields[9]}]" in held:
                    return True
    except OSError:
        return False
    return False


def start(paths: LabPaths, machine: str, rule: Rule) -> int | None:
    """Start the forwarder for a rule; None when it cannot bind its host port (taken)."""
    target = rule.guestip or NAT_GUEST_IP
    listen_ip = rule.hostip or "0.0.0.0"
    relay = [sys.executable, "-I", "-S", str(RELAY), listen_ip, str(rule.hostport)]
    relay += [netns_path(vm_ns(machine)), target, str(rule.guestport), rule.proto]
    argv = ["nsenter", f"--net={netns_path(HOST_NS)}", *relay]
    log = re.sub(r"[^A-Za-z0-9._-]", "_", f"natpf-{machine}-{rule.name}.log")
    pid = proc.spawn_daemon(argv, paths.logs / log)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        if not proc.alive(pid):
            proc.wait_dead(pid, 0.1)
            return None
        if _bound(pid, rule.proto, rule.hostport):
            return pid
        time.sleep(0.01)
    return pid


#: Where the guest's connections to the NAT's own addresses are redirected (guest's ports).
GATEWAY_TCP_PORT = 61002
GATEWAY_DNS_PORT = 61053


def start_gateway(
    paths: LabPaths, machine: str, vm_pid: int, reachable: bool, mappings: list[list[str]]
) -> int:
    """The NAT's 10.0.2.2 (the host's loopback, where `reachable`) and 10.0.2.3 (DNS answering
    `mappings`) for a VM that just powered on: iptables REDIRECTs in the guest's namespace,
    which VirtualBox does not need (its NAT engine sees every packet) and the lab does."""
    guest = netns_path(vm_ns(machine))
    redirect = ["-j", "REDIRECT", "--to-ports"]
    rules = [
        ["-d", "10.0.2.2/32", "-p", "tcp", *redirect, str(GATEWAY_TCP_PORT)],
        ["-d", "10.0.2.3/32", "-p", "udp", "--dport", "53", *redirect, str(GATEWAY_DNS_PORT)],
    ]
    iptables = ["nsenter", f"--net={guest}", "iptables", "-w", "-t", "nat"]
    proc.run([*iptables, "-N", CHAIN], check=False)
    proc.run([*iptables, "-F", CHAIN])
    for rule in rules:
        proc.run([*iptables, "-A", CHAIN, *rule])
    for hook in ("PREROUTING", "OUTPUT"):
        if proc.run([*iptables, "-C", hook, "-j", CHAIN], check=False).returncode:
            proc.run([*iptables, "-I", hook, "1", "-j", CHAIN])
    relay = [sys.executable, "-I", "-S", str(RELAY), "gateway", str(vm_pid), guest]
    relay.append(netns_path(HOST_NS))
    relay += [str(GATEWAY_TCP_PORT), str(GATEWAY_DNS_PORT), "1" if reachable else "0"]
    relay.append(json.dumps(mappings))
    argv = ["nsenter", f"--net={netns_path(HOST_NS)}", *relay]
    log = re.sub(r"[^A-Za-z0-9._-]", "_", f"natgw-{machine}.log")
    return proc.spawn_daemon(argv, paths.logs / log)


CHAIN = "LAB-NAT"


def stop(pid: int | None) -> None:
    """Stop a forwarder, checking first that the PID is still a relay (PIDs get reused).

    By the script's name, not its path: a relay started by another copy of the lab (another
    clone's, which built the lab this one tears down) is a relay all the same.
    """
    if pid and proc.alive(pid) and any(Path(arg).name == RELAY.name for arg in proc.cmdline(pid)):
        proc.kill(pid)
