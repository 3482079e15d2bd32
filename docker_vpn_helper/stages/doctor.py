"""doctor: a read-only diagnosis of one machine, rendering the plans `fix` would carry out.

It asks each stage for its plan, in fix's order, exactly as `fix --dry-run` does (no SSH: the
daemon's answer through the forward stands for the VM's files), so doctor and fix cannot
disagree. Each finding says what was checked, what was seen, and the command that fixes it.
"""

from __future__ import annotations

import os
import socket
from dataclasses import asdict, dataclass
from typing import Any, Callable

from ..adapters import preflight
from ..adapters.host import port_listener, program_name
from ..errors import HelperError
from ..session import Session
from . import Stage, cert, daemon, dns, kexts, machine, nat

OK, INFO, WARN, FAIL = "ok", "info", "warn", "fail"
REACH_TIMEOUT = 2.0  # seconds: a VPN that silently drops must not hold the diagnosis up


@dataclass(frozen=True)
class Finding:
    check: str
    status: str  # ok, info, warn or fail
    seen: str
    fix: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def _command(s: Session, task: str, *extra: str) -> str:
    return " ".join([program_name(), task, "--machine", s.name, *extra])


def _reachable(host: str, port: int) -> str | None:
    """None when host:port accepts a TCP connection, else why not."""
    try:
        with socket.create_connection((host, port), timeout=REACH_TIMEOUT):
            return None
    except socket.timeout:
        return f"no answer in {REACH_TIMEOUT:g} s (packets silently dropped)"
    except OSError as exc:
        return exc.strerror or str(exc)


def _planned(s: Session, stage: Stage, **options: Any) -> Any:
    """The stage's plan, kept for the next stages as a dry run keeps it."""
    plan = stage.plan(s, **options)
    s.results[stage.name] = plan
    return plan


def check_vm(s: Session) -> list[Finding]:
    plan = _planned(s, machine.STAGE)
    if plan.action == "none":
        return [Finding("VM", OK, plan.seen())]
    return [Finding("VM", FAIL, plan.problem, _command(s, "fix"))]


def check_forward(s: Session) -> list[Finding]:
    started = s.results[machine.STAGE.name].forward  # a stopped VM's, added before it starts
    plan = _planned(s, nat.STAGE)
    if started is not None and not started.present:
        plan = started
    if not plan.present:
        return [Finding("NAT forward", FAIL, plan.problem, _command(s, "nat.forward"))]
    findings = [Finding("NAT forward", OK, f"rule {plan.rule.spec()!r}")]
    if not s.projected:
        listening = port_listener(plan.port)
        findings.append(
            Finding(
                "127.0.0.1 port",
                OK if listening else FAIL,
                f"127.0.0.1:{plan.port} "
                + ("accepts connections" if listening else "does not accept connections"),
                "" if listening else _command(s, "machine.create") + " (is the VM running?)",
            )
        )
    return findings


def check_certificates(s: Session) -> list[Finding]:
    plan = cert.assess(s, s.settings.warn_days)
    s.results[cert.ISSUE.name] = cert.assess(s, s.settings.renew_days)  # what fix would do
    renew = _command(s, "fix")
    if plan.problems:
        expiring_only = all(p.startswith("it expires in") for p in plan.problems)
        status = WARN if expiring_only else FAIL
        findings = [Finding("server.pem in the store", status, plan.reason, renew)]
    else:
        seen = plan.note or (
            f"covers {', '.join(plan.names)}, signed by the store's CA, valid until "
            f"{plan.valid_until}"
        )
        findings = [Finding("server.pem in the store", OK, seen)]
    findings.append(
        Finding(
            "ServerCertSANs in config.json",
            WARN if plan.record_sans else OK,
            "lack localhost/127.0.0.1: docker-machine regenerate-certs would drop them"
            if plan.record_sans
            else "keep localhost and 127.0.0.1 through docker-machine regenerate-certs",
            _command(s, "cert.issue") if plan.record_sans else "",
        )
    )
    return findings


def check_daemon(s: Session) -> list[Finding]:
    plan = _planned(s, daemon.STAGE, ask_containers=False)
    check = "daemon through tcp://localhost"
    if not plan.restart:
        return [Finding(check, OK, f"{plan.why} answers, verified for localhost")]
    if not plan.certain:
        return [Finding(check, INFO, plan.why)]
    probe = s.view.served(s.port)
    seen = (
        f"{probe.detail} answers, verified for localhost, but with another certificate than the "
        "store's server.pem"
        if probe.ok
        else probe.detail
    )
    return [Finding(check, FAIL, seen, _command(s, "fix"))]


def check_dns(s: Session) -> list[Finding]:
    plan = _planned(s, dns.STAGE)
    check = "the VM's DNS"
    if not plan.known:
        return [Finding(check, WARN, plan.seen())]
    if plan.vm_on:
        return [Finding(check, OK, plan.seen())]
    if plan.recorded:
        return [Finding(check, INFO, plan.seen() + " (the VM runs)")]
    fix = _command(s, "dns.host-resolver", *(["--restart"] if plan.running else []))
    return [Finding(check, WARN, plan.problem, fix)]


def check_route(s: Session) -> list[Finding]:
    """The VPN's route is information once the forward carries the daemon, else a warning."""
    ip = s.machine.ip if s.view.exists() else None
    if not ip:
        return [Finding("host-only network", WARN, "config.json records no IP for the VM")]
    info = s.view.vm()
    adapter = (info.hostonly_adapters.get(2) if info else None) or None
    verdict = preflight.judge_route(s.c, ip, adapter)
    forward, restart = s.results.get(nat.STAGE.name), s.results.get(daemon.STAGE.name)
    worked_around = bool(forward and forward.present and restart and not restart.restart)
    hijacked = WARN if not worked_around else INFO
    findings = [
        Finding(
            "route to the VM",
            hijacked if verdict.hijacked else OK,
            verdict.detail
            + (" (the NAT forward works around it)" if verdict.hijacked and worked_around else ""),
            "use tcp://localhost through the NAT forward: " + _command(s, "fix")
            if verdict.hijacked and not worked_around
            else "",
        )
    ]
    why = _reachable(ip, s.settings.daemon_port)
    findings.append(
        Finding(
            "host-only address",
            (INFO if worked_around else WARN) if why else OK,
            f"{ip}:{s.settings.daemon_port} " + (f"cannot be reached: {why}" if why else "answers"),
        )
    )
    return findings


def check_client_environment(s: Session) -> list[Finding]:
    bundles = [name for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE") if os.environ.get(name)]
    if bundles:
        return [
            Finding(
                "CA bundle variables",
                WARN,
                f"{' and '.join(bundles)} set: requests-based Docker clients (docker-py, compose v1) "
                "then ignore the machine's CA",
                f"unset {' '.join(bundles)}",
            )
        ]
    return [Finding("CA bundle variables", OK, "REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE are not set")]


def check_virtualbox(s: Session) -> list[Finding]:
    version = ".".join(map(str, s.vbox.version()))
    command = kexts.kext_command(s)
    seen = f"VirtualBox {version}: " + (
        f"drivers restart with `sudo {command}`"
        if command
        else "no kernel extensions (VirtualBox 7 on macOS)"
    )
    return [Finding("VirtualBox", OK, seen)]


# In fix's order: each check's plan is what the next one builds on.
CHECKS: tuple[Callable[[Session], list[Finding]], ...] = (
    check_vm,
    check_forward,
    check_certificates,
    check_daemon,
    check_dns,
    check_route,
    check_client_environment,
    check_virtualbox,
)


def diagnose(s: Session) -> list[Finding]:
    """Every check, each isolated: one that cannot run becomes a finding, not an abort."""
    if not s.view.exists():
        return [
            Finding(
                "machine",
                FAIL,
                f"the store has no machine {s.name!r}",
                _command(s, "machine.create"),
            )
        ]
    findings: list[Finding] = []
    for check in CHECKS:
        try:
            findings += check(s)
        except HelperError as exc:
            if not any(f.seen == exc.reason for f in findings):  # e.g. VBoxManage missing: once
                findings.append(Finding(check.__name__[len("check_") :], FAIL, exc.reason))
    return findings
