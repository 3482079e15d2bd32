"""kube.apiserver (minikube's VMs): a second NAT forward, 127.0.0.1:<port> to the guest's
8443, and a kubeconfig of ours whose server is that forward, for kubectl."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from ..commands import Command
from ..vbox import LOOPBACK, NatRule
from .base import Plan

RULE_NAME = "apiserver"  # not `dvh-tcp-N`: ports.sync keeps its hands off it
PORT_SEARCH = 100


@dataclass(frozen=True)
class ApiServerPlan(Plan):
    rule: NatRule  # the forward, as it is or will be
    add: Command | None  # None: the rule is there
    kubeconfig_path: str
    kubeconfig: bytes  # our kubeconfig's content for this port
    write: bool  # the file lacks it
    remember: bool  # the port is not yet the one remembered for the machine
    problem_line: str = ""  # the API server's certificate, when it was asked through the forward
    pending: str = ""  # why the API server could not be asked (a dry run before the rule)

    @property
    def port(self) -> int:
        return self.rule.host_port

    @property
    def changes(self) -> tuple[str, ...]:
        return ("nat",) * (self.add is not None) + ("kubeconfig",) * self.write

    @property
    def commands(self) -> tuple[Command, ...]:
        return (self.add,) if self.add is not None else ()

    @property
    def problem(self) -> str:
        return self.problem_line

    @property
    def notes(self) -> tuple[str, ...]:
        return (self.pending,) if self.pending else ()

    @property
    def chores(self) -> tuple[str, ...]:
        return (f"remember port {self.port} for the API server",) if self.remember else ()

    def seen(self) -> str:
        return (
            f"kubectl reaches the API server through 127.0.0.1:{self.port} "
            f"(rule {self.rule.spec()!r}, {self.kubeconfig_path})"
        )

    def actions(self) -> list[str]:
        lines = super().actions()
        if self.write:
            lines.append(f"write {self.kubeconfig_path} (server https://127.0.0.1:{self.port})")
        return lines


def choose_port(
    rules: Collection[NatRule], remembered: int | None, taken: Callable[[int], bool], first: int
) -> tuple[NatRule | None, int]:
    """Our rule when the VM has it; else the remembered port, or the first from `first` that no
    rule of this VM uses and `taken` (other VMs, listeners) does not hold."""
    current = next((r for r in rules if r.name == RULE_NAME), None)
    if current is not None:
        return current, current.host_port
    used = {r.host_port for r in rules}
    candidates = ([remembered] if remembered else []) + list(range(first, first + PORT_SEARCH))
    for port in candidates:
        if port not in used and not taken(port):
            return None, port
    raise ValueError(f"no free host port from {first} to {first + PORT_SEARCH - 1}")


def plan_apiserver(
    rules: Collection[NatRule],
    remembered: int | None,
    taken: Callable[[int], bool],
    guest_port: int,
    add: Callable[[NatRule], Command],
    kubeconfig: Callable[[int], tuple[str, bytes, bytes | None]],
    problem: Callable[[int], str] | None,
    pending: str = "",
) -> ApiServerPlan:
    """The forward to keep or add and the kubeconfig to write. `kubeconfig(port)`: (path, the
    content wanted, the content now or None); `problem(port)`: the API server's certificate
    judged through the forward (None: it cannot be asked, `pending` says why)."""
    current, port = choose_port(rules, remembered, taken, guest_port)
    rule = current or NatRule(RULE_NAME, "tcp", LOOPBACK, port, "", guest_port)
    path, wanted, now = kubeconfig(port)
    return ApiServerPlan(
        rule,
        None if current is not None else add(rule),
        path,
        wanted,
        write=now != wanted,
        remember=remembered != port,
        problem_line=problem(port) if problem is not None and current is not None else "",
        pending=pending if current is None else "",
    )
