"""doctor: a read-only diagnosis of one machine, using the same checks `fix` plans with.

Each finding says what was checked, what was seen, and the command that fixes it.
"""

from __future__ import annotations

import os
import socket
from dataclasses import asdict, dataclass

from ..adapters import preflight
from ..adapters.host import port_listener, program_name
from ..core import certs
from ..errors import HelperError
from ..session import Session
from . import cert, daemon, kexts, nat

OK, WARN, FAIL = "ok", "warn", "fail"
REACH_TIMEOUT = 2.0  # seconds: a VPN that silently drops must not hold the diagnosis up


@dataclass(frozen=True)
class Finding:
    check: str
    status: str  # ok, warn or fail
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


def check_vm(s: Session) -> list[Finding]:
    info = s.vm()
    if info is None:
        return [
            Finding(
                "VM",
                FAIL,
                f"VirtualBox has no VM named {s.name!r}",
                f"docker-machine rm {s.name}; " + _command(s, "machine.create"),
            )
        ]
    if not info.running:
        return [Finding("VM", FAIL, f"the VM is {info.state}", _command(s, "fix"))]
    return [Finding("VM", OK, f"the VM is {info.state}")]


def check_route(s: Session) -> list[Finding]:
    ip = s.machine.ip
    if not ip:
        return [Finding("host-only network", WARN, "config.json records no IP for the VM")]
    info = s.vm()
    adapter = (info.hostonly_adapters.get(2) if info else None) or None
    verdict = preflight.judge_route(s.c, ip, adapter)
    findings = [
        Finding(
            "route to the VM",
            WARN if verdict.hijacked else OK,
            verdict.detail,
            "use tcp://localhost through the NAT forward: " + _command(s, "fix")
            if verdict.hijacked
            else "",
        )
    ]
    why = _reachable(ip, s.settings.daemon_port)
    findings.append(
        Finding(
            "host-only address",
            WARN if why else OK,
            f"{ip}:{s.settings.daemon_port} " + (f"cannot be reached: {why}" if why else "answers"),
        )
    )
    return findings


def check_forward(s: Session) -> list[Finding]:
    info = s.vm()
    port = s.settings.host_port
    if info is None:
        return []
    rule = nat.current_forward(s, info)
    if rule is None:
        return [
            Finding(
                "NAT forward",
                FAIL,
                f"no NAT rule forwards 127.0.0.1:{port} to the daemon",
                _command(s, "nat.forward"),
            )
        ]
    port = rule.host_port
    findings = [Finding("NAT forward", OK, f"rule {rule.spec()!r}")]
    listening = port_listener(port)
    findings.append(
        Finding(
            "127.0.0.1 port",
            OK if listening else FAIL,
            f"127.0.0.1:{port} "
            + ("accepts connections" if listening else "does not accept connections"),
            "" if listening else _command(s, "machine.create") + " (is the VM running?)",
        )
    )
    return findings


def check_certificates(s: Session) -> list[Finding]:
    now = s.now()
    findings = []
    _, names, current, problems = cert.assess_certificate(s, now, s.settings.warn_days)
    renew = _command(s, "fix")
    if problems:
        expiring_only = all(p.startswith("it expires in") for p in problems)
        findings.append(
            Finding(
                "server.pem in the store",
                WARN if expiring_only else FAIL,
                "; ".join(problems),
                renew,
            )
        )
    else:
        until = certs.expiry(current)  # type: ignore[arg-type]
        findings.append(
            Finding(
                "server.pem in the store",
                OK,
                f"covers {', '.join(names.all())}, signed by the store's CA, valid until {until:%Y-%m-%d}",
            )
        )
    probe = daemon.served(s)
    if probe.ok:
        same = current is not None and probe.served_cert == certs.to_der(current)
        findings.append(
            Finding(
                "daemon through tcp://localhost",
                OK if same else FAIL,
                f"{probe.detail} answers, verified for localhost"
                + ("" if same else ", but with another certificate than the store's server.pem"),
                "" if same else renew,
            )
        )
    else:
        findings.append(Finding("daemon through tcp://localhost", FAIL, probe.detail, renew))
    recorded = s.machine.loopback_sans_recorded
    findings.append(
        Finding(
            "ServerCertSANs in config.json",
            OK if recorded else WARN,
            "keep localhost and 127.0.0.1 through docker-machine regenerate-certs"
            if recorded
            else "lack localhost/127.0.0.1: docker-machine regenerate-certs would drop them",
            "" if recorded else _command(s, "cert.issue"),
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


CHECKS = (
    check_vm,
    check_route,
    check_forward,
    check_certificates,
    check_client_environment,
    check_virtualbox,
)


def diagnose(s: Session) -> list[Finding]:
    """Every check, each isolated: one that cannot run becomes a finding, not an abort."""
    if not s.machine_exists():
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
