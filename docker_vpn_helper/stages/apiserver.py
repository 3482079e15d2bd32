"""kube.apiserver (minikube's VMs only): forward 127.0.0.1:<port> to the API server (8443), check
that its certificate names 127.0.0.1, and give kubectl a kubeconfig of ours for it.

The port is chosen like the daemon's (free, from 8443 on) and remembered in the machine folder;
the kubeconfig (core/minikube.py says why it is a file of ours) sits beside it, and env.print
names it first in KUBECONFIG. `restore --original` deletes both.
"""

from __future__ import annotations

import functools
import time

from ..adapters.apiserver import served_certificate
from ..adapters.host import port_listener
from ..core import minikube
from ..core.fsutil import atomic_write, read_optional
from ..core.plans.apiserver import ApiServerPlan, plan_apiserver
from ..core.plans.machine import MachineAction
from ..core.store import remember_port, remembered_port
from ..errors import HelperError
from ..report import say
from ..session import Session
from . import Stage

PORT_KEY = "apiserver_port"
BOOT_POLL = 0.5  # seconds between two tries of a booting VM's API server


def profile(s: Session) -> minikube.Profile:
    return minikube.load_profile(s.settings.storage_path, s.name)


def judge(s: Session, port: int) -> str:
    """The API server's certificate as served through the forward: "" when kubectl can trust
    it at https://127.0.0.1, else the one line saying why and what to do."""
    chosen = profile(s)
    # A VM this run started may still be booting: its API server gets up to daemon_wait.
    machine = s.machine_plan()
    started = machine is not None and machine.action is MachineAction.START
    deadline = time.monotonic() + (s.settings.daemon_wait if started and not s.dry_run else 0)
    served, why = served_certificate(port, chosen.client_cert, chosen.client_key)
    while served is None and time.monotonic() < deadline:
        time.sleep(BOOT_POLL)
        served, why = served_certificate(port, chosen.client_cert, chosen.client_key)
    if served is None:
        return f"the API server does not answer through 127.0.0.1:{port} ({why})"
    ca = read_optional(chosen.cluster_ca, "the cluster CA") or b""
    return minikube.apiserver_problem(served, ca, s.name) or ""


def plan(s: Session) -> ApiServerPlan:
    info = s.vm()
    if info is None:
        raise HelperError(f"VirtualBox has no VM named {s.name!r}")
    chosen = profile(s)

    @functools.cache
    def claimed() -> frozenset[int]:  # other VMs' rules: asked only when a port is chosen
        return frozenset(port for (proto, port) in s.view.claimed_ports() if proto == "tcp")

    remembered = remembered_port(s.settings.storage_path, s.name, PORT_KEY)

    def kubeconfig(port: int) -> tuple[str, bytes, bytes | None]:
        wanted = minikube.render_kubeconfig(minikube.kubeconfig(chosen, port))
        return str(chosen.kubeconfig), wanted, read_optional(chosen.kubeconfig)

    try:
        return plan_apiserver(
            info.rules(),
            remembered,
            lambda port: port in claimed() or port_listener(port),
            minikube.APISERVER_PORT,
            s.rule_edits(info).add,
            kubeconfig,
            (lambda port: judge(s, port)) if not s.projected else None,
            pending="the API server's certificate is checked through the forward once it is added",
        )
    except ValueError as exc:
        raise HelperError(f"the API server's forward: {exc}") from None


def apply(s: Session, plan: ApiServerPlan) -> None:
    """Add the forward, check the certificate through it, then write the kubeconfig."""
    if plan.add is not None:
        s.journal.record(apiserver={"added": plan.rule.spec()})  # ahead of the change
        s.execute(plan.add)
        say(f"added NAT rule {plan.rule.spec()!r}")
        problem = judge(s, plan.port)
        if problem:
            raise HelperError(problem)
    elif plan.problem:
        raise HelperError(plan.problem)
    if plan.write:
        atomic_write(plan.kubeconfig_path, plan.kubeconfig, 0o600)
        say(f"wrote {plan.kubeconfig_path}: kubectl's server is https://127.0.0.1:{plan.port}")
    if plan.remember:
        remember_port(s.machine, plan.port, PORT_KEY)


STAGE = Stage("kube.apiserver", "Forwarding 127.0.0.1 to the API server for kubectl", plan, apply)
