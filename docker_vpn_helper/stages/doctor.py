"""doctor: a read-only diagnosis of one machine, rendering the plans `fix` would carry out.

It asks each stage for its plan, in fix's order, exactly as `fix --dry-run` does (no SSH: the
daemon's answer through the forward stands for the VM's files), so doctor and fix cannot
disagree. Each finding says what was checked, what was seen, and the command that fixes it.
Then it looks where the user looks: what `docker` in this shell talks to (DOCKER_HOST & co.,
else its context), and ends with one line: healthy, or the one command to run.
"""

from __future__ import annotations

import os
import shlex
import socket
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from ..adapters import dockercli, drivers, preflight
from ..adapters.host import NotInstalled, port_listener, program_name
from ..core import dockerctx, envfmt, minikube, store
from ..core.fsutil import read_optional
from ..core.hostonly import HOSTONLY_RANGES_FROM
from ..core.plans.machine import MachineAction, creation_refusal
from ..core.routes import RouteVerdict
from ..errors import HelperError
from ..session import Session
from . import Stage, apiserver, cert, corp, daemon, dns, hostnames, machine, nat

OK, INFO, WARN, FAIL = "ok", "info", "warn", "fail"
# seconds: the host-only network answers in a millisecond when it works; a VPN that silently
# drops must not hold the diagnosis up (the probe runs beside the other checks, too).
REACH_TIMEOUT = 0.5
CLIENT = "docker in this shell"
RANGE_REFUSED = "so docker-machine cannot give the VM's host-only adapter its address"
VIRTUALBOX = "VirtualBox"
DNS = dns.STAGE.name


@dataclass(frozen=True)
class Finding:
    check: str
    status: str  # ok, info, warn or fail
    seen: str
    fix: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def cert_dir(s: Session) -> Path:
    """DOCKER_CERT_PATH as env.print prints it: the machine folder (minikube: <home>/certs)."""
    if s.settings.minikube:
        return s.settings.storage_path / "certs"
    return store.machine_folder(s.settings.storage_path, s.name)


def _command(s: Session, task: str, *extra: str) -> str:
    return " ".join([program_name(), task, *s.settings.selector(), *extra])


@dataclass
class Known:
    """What one check learns for a later one: the host-only probe (started first, so that it
    runs beside the other checks) and the route to the VM."""

    probe: Callable[[], str | None] | None = None
    route: RouteVerdict | None = None


def _in_background(host: str, port: int) -> Callable[[], str | None]:
    """Start `_reachable(host, port)` in a thread; the function returned waits for its answer."""
    answer: list[str | None] = []
    thread = threading.Thread(target=lambda: answer.append(_reachable(host, port)), daemon=True)
    thread.start()

    def result() -> str | None:
        thread.join()
        return answer[0] if answer else "the probe failed"

    return result


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


def check_vm(s: Session, known: Known) -> list[Finding]:
    plan = _planned(s, machine.STAGE)
    if plan.action is MachineAction.NONE:
        return [Finding("VM", OK, plan.seen())]
    return [Finding("VM", FAIL, plan.problem, _command(s, "fix"))]


def check_forward(s: Session, known: Known) -> list[Finding]:
    machine_plan = s.machine_plan()
    started = machine_plan.forward if machine_plan else None  # a stopped VM's, added first
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


def check_certificates(s: Session, known: Known) -> list[Finding]:
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


def check_daemon(s: Session, known: Known) -> list[Finding]:
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


def check_dns(s: Session, known: Known) -> list[Finding]:
    plan = _planned(s, dns.STAGE)
    check = "the VM's DNS"
    if not plan.known:
        return [Finding(check, WARN, plan.seen())]
    if plan.vm_on:
        return [Finding(check, OK, plan.seen())]
    if plan.before_start:
        return [Finding(check, WARN, plan.seen(), _command(s, "fix"))]
    if plan.recorded:
        later = (
            ": it takes effect when the VM starts again, or now with --restart (the VM restarts)"
        )
        return [Finding(check, INFO, plan.seen() + later, _command(s, DNS, "--restart"))]
    seen = s.view.vm()  # as it is, not as machine.create would leave it: stopped, it switches
    fix = _command(s, DNS, *(["--restart"] if seen is not None and seen.running else []))
    return [Finding(check, WARN, plan.problem, fix)]


def check_host_names(s: Session, known: Known) -> list[Finding]:
    plan = _planned(s, hostnames.STAGE)
    check = "host.docker.internal"
    if plan.refusal:
        return [Finding(check, INFO, plan.refusal)]
    if not plan.known:
        return [Finding(check, WARN, plan.seen())]
    if not plan.problem:
        return [Finding(check, OK, plan.seen())]
    restart = ["--restart"] if plan.running else []
    if plan.names is not None and plan.names.mapped:  # set; waits for the VM's next start
        task = "dns.host-names" if plan.resolver else DNS
        seen = f"{plan.problem}: it takes effect when the VM starts again"
        return [Finding(check, INFO, seen, _command(s, task, *restart))]
    return [Finding(check, WARN, plan.problem, _command(s, "dns.host-names", *restart))]


def check_corp(s: Session, known: Known) -> list[Finding]:
    """The host's extra roots and proxy against the VM's (read over the machine's SSH forward on
    127.0.0.1: nothing leaves the machine, no registry or proxy is tried)."""
    check = "roots and proxy in the VM"
    if not s.settings.corp_roots and not s.settings.corp_proxy:
        return [Finding(check, INFO, corp.OFF)]
    restart = s.restart_plan()
    if s.projected or restart is None or restart.restart:
        return [Finding(check, INFO, "compared once the daemon answers through the forward")]
    try:
        plan = _planned(s, corp.STAGE, ask_containers=False)
    except HelperError as exc:
        return [Finding(check, WARN, f"cannot compare: {exc.reason}")]
    if plan.problem:
        return [Finding(check, WARN, plan.problem, _command(s, "corp.sync"))]
    return [Finding(check, OK, plan.seen())]


def check_route(s: Session, known: Known) -> list[Finding]:
    """The VPN's route is information once the forward carries the daemon, else a warning."""
    ip = s.machine.ip if s.view.exists() else None
    if not ip:
        return [Finding("host-only network", WARN, "config.json records no IP for the VM")]
    info = s.view.vm()
    adapter = (info.hostonly_adapters.get(2) if info else None) or None
    verdict = preflight.judge_route(s.c, ip, adapter)
    known.route = verdict
    forward, restart = s.forward_plan(), s.restart_plan()
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
    why = known.probe() if known.probe else _reachable(ip, s.settings.daemon_port)
    findings.append(
        Finding(
            "host-only address",
            (INFO if worked_around else WARN) if why else OK,
            f"{ip}:{s.settings.daemon_port} " + (f"cannot be reached: {why}" if why else "answers"),
        )
    )
    return findings


def check_client_environment(s: Session, known: Known) -> list[Finding]:
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


def check_virtualbox(s: Session, known: Known) -> list[Finding]:
    try:
        version = ".".join(map(str, s.vbox.require()))
    except HelperError as exc:  # e.g. no VBoxManage on PATH
        return [Finding(VIRTUALBOX, FAIL, exc.reason)]
    command = drivers.kext_command(s.settings, s.vbox)
    seen = f"VirtualBox {version}: " + (
        f"drivers restart with `{command.line()}`"
        if command
        else "no kernel extensions (VirtualBox 7 on macOS)"
    )
    return [Finding(VIRTUALBOX, OK, seen), check_hostonly_range(s)]


def check_hostonly_range(s: Session) -> Finding:
    """VirtualBox 6.1.28+ gives host-only adapters only the ranges networks.conf allows: the
    machine's network (docker-machine's default for one still to be created)."""
    version = s.vbox.version()
    refusal = machine.range_refusal(s, version, RANGE_REFUSED)
    if refusal:
        return Finding("host-only range", WARN, refusal)
    cidr = s.machine.host_only_cidr if s.view.exists() else store.DEFAULT_HOST_ONLY_CIDR
    before = version < HOSTONLY_RANGES_FROM
    why = "no limit before 6.1.28" if before else f"allowed by {s.settings.vbox_networks_conf}"
    return Finding("host-only range", OK, f"{cidr}: {why}")


def _eval(task: str, s: Session) -> str:
    """The user's own shell's way to eval `task`'s output for this machine."""
    fmt = envfmt.detect_format(os.environ)
    return envfmt.eval_command(fmt, _command(s, task))


def client_target(s: Session) -> dockerctx.Target | str:
    """What `docker` in this environment talks to, as docker decides it: DOCKER_HOST, else
    DOCKER_CONTEXT, else the context `docker context use` chose (else docker's own default);
    a string when that cannot be known."""
    target = dockerctx.target_from_environment(os.environ)
    if target is not None:
        return target
    named = os.environ.get("DOCKER_CONTEXT") or None
    try:
        context = dockercli.inspect_context(s.c, named, s.settings.command_timeout)
    except NotInstalled:
        return "the docker CLI is not installed (or not on PATH): nothing here uses the machine"
    if context is None:
        return f"DOCKER_CONTEXT={named}: docker has no such context, so every docker command fails"
    chosen_by = "DOCKER_CONTEXT" if named else "docker context use"
    if context.name == dockerctx.RESERVED_NAME and not named:
        chosen_by = "docker's own, no DOCKER_HOST set"
    return dockerctx.target_from_context(context, chosen_by)


def check_docker_client(s: Session, known: Known) -> list[Finding]:
    """What the user's `docker` will use, against the machine: the commonest cause of "docker
    does not work" is a shell still pointing at the VM's address the VPN took."""
    fix = _eval("env.print", s)
    target = client_target(s)
    if isinstance(target, str):
        return [Finding(CLIENT, FAIL, target, fix)]
    ip = s.machine.ip or None
    hijacked = None
    if ip and ip in target.host:
        if known.route is None:  # check_route judged the route to this same address
            known.route = preflight.judge_route(s.c, ip, None)
        hijacked = known.route.hijacked
    expected = dockerctx.Expected(
        machine=s.name,
        port=s.port,
        cert_dir=cert_dir(s),
        vm_ip=ip,
        daemon_port=s.settings.daemon_port,
        others=store.remembered_ports(s.settings.storage_path, s.name),
    )
    status, seen = dockerctx.judge_target(target, expected, hijacked)
    return [Finding(CLIENT, status, seen, "" if status == OK else fix)]


# In fix's order: each check's plan is what the next one builds on; then what docker uses.
def check_kubectl(s: Session, known: Known) -> list[Finding]:
    """minikube's VMs: the API server's forward and certificate, our kubeconfig's server and
    whether kubectl in this shell reads it first."""
    if not s.settings.minikube:
        return []
    plan = _planned(s, apiserver.STAGE)
    fix = _command(s, "fix")
    if plan.add is not None:
        forward = Finding("API server forward", FAIL, "no NAT rule to the API server (8443)", fix)
    elif plan.problem:
        forward = Finding("API server forward", FAIL, plan.problem)
    else:
        forward = Finding("API server forward", OK, plan.seen())
    findings = [forward]
    written = minikube.kubeconfig_server(read_optional(plan.kubeconfig_path), s.name)
    if plan.write:
        seen = (
            f"{plan.kubeconfig_path}: server {written or 'none'}, not https://127.0.0.1:{plan.port}"
        )
        findings.append(Finding("kubeconfig", FAIL, seen, fix))
    else:
        findings.append(Finding("kubeconfig", OK, f"{plan.kubeconfig_path}: server {written}"))
    if minikube.kubectl_uses(Path(plan.kubeconfig_path), os.environ):
        findings.append(
            Finding("kubectl in this shell", OK, "KUBECONFIG names our kubeconfig first")
        )
    else:
        env = envfmt.eval_command(envfmt.detect_format(os.environ), _command(s, "env.print"))
        seen = (
            f"KUBECONFIG does not name {plan.kubeconfig_path} first: kubectl dials the VM's address"
        )
        findings.append(Finding("kubectl in this shell", FAIL, seen, env))
    return findings


CHECKS: tuple[Callable[[Session, Known], list[Finding]], ...] = (
    check_vm,
    check_forward,
    check_certificates,
    check_daemon,
    check_dns,
    check_host_names,
    check_corp,
    check_route,
    check_client_environment,
    check_virtualbox,
    check_docker_client,
    check_kubectl,
)


# What can be checked where VirtualBox cannot be asked (not installed): the store and the shell.
WITHOUT_VIRTUALBOX = (
    check_virtualbox,
    check_certificates,
    check_client_environment,
    check_docker_client,
)


def missing(s: Session) -> Finding:
    """A machine the store lacks: beside others, most likely a typo (the closest one is named,
    with the doctor command for it); else what creating it takes."""
    facts = store.survey(s.settings.storage_path)
    if facts.is_store and facts.machines:
        guess = store.closest_machine(s.name, facts.machines, loose=True)
        named = s.settings.storage_source != "default"
        where = ["--storage-path", str(s.settings.storage_path)] if named else []
        again = shlex.join([program_name(), "doctor", "--machine", guess, *where])
        return Finding("machine", FAIL, store.missing_machine(s.name, facts, "", loose=True), again)
    refusal = creation_refusal(
        s.name,
        facts,
        asked=False,
        default_location=s.settings.storage_source == "default",
        create=machine.create_command(s),
    )
    seen = refusal or f"the store has no machine {s.name!r} yet"
    return Finding("machine", FAIL, seen, machine.create_command(s))


def diagnose(s: Session) -> list[Finding]:
    """Every check, each isolated: one that cannot run becomes a finding, not an abort."""
    if not s.view.exists():
        return [missing(s)]
    known = Known()
    ip = s.machine.ip
    if ip:
        known.probe = _in_background(ip, s.settings.daemon_port)
    findings: list[Finding] = []
    usable = check_virtualbox(s, known)[0].status == OK  # its version is asked once, kept
    for check in CHECKS if usable else WITHOUT_VIRTUALBOX:
        try:
            findings += check(s, known)
        except HelperError as exc:
            if not any(f.seen == exc.reason for f in findings):  # e.g. VBoxManage missing: once
                findings.append(Finding(check.__name__[len("check_") :], FAIL, exc.reason))
    return findings


# What `fix` repairs by itself, so that a problem one of these fixes is "run fix".
FIX_COVERS = (
    "fix",
    "machine.create",
    "nat.forward",
    "cert.issue",
    "cert.deploy",
    "daemon.restart",
    "corp.sync",
)


def _task(command: str) -> str:
    """The task a finding's fix runs (`docker-vpn-helper TASK ...`), "" for another command."""
    words = command.split()
    return words[1] if len(words) > 1 and words[0] == program_name() else ""


def summary(s: Session, findings: list[Finding]) -> tuple[str, str]:
    """One line for the end of the report, and the one command to run ("" when healthy, or when
    nothing this tool runs would help)."""
    failed = [f for f in findings if f.status == FAIL]
    warned = [f for f in findings if f.status == WARN]
    if not failed and not warned:
        return f"healthy: {CLIENT} reaches machine {s.name!r} through its forward", ""
    client = any(f.check == CLIENT for f in failed)
    machine_side = [f for f in failed if f.check != CLIENT]
    if any(f.check == VIRTUALBOX for f in failed):  # nothing this tool runs works without it
        command = ""
    elif machine_side and all(_task(f.fix) in FIX_COVERS for f in machine_side):
        # what fix repairs, then (when the shell points elsewhere) the environment it prints
        own = [f.fix for f in machine_side if f.check == "machine"]
        command = own[0] if own else _command(s, "fix")
        if client:
            command = envfmt.eval_command(envfmt.detect_format(os.environ), command)
    elif machine_side:
        command = next((f.fix for f in machine_side if f.fix), "")
    elif client:
        command = next(f.fix for f in failed if f.check == CLIENT)
    else:
        command = next((f.fix for f in warned if f.fix), "")
    counts = [f"{len(failed)} problem{'s' * (len(failed) != 1)}"] if failed else []
    counts += [f"{len(warned)} warning{'s' * (len(warned) != 1)}"] if warned else []
    line = " and ".join(counts)
    if command:
        return f"{line}; run: {command}", command
    return f"{line}; see the findings above", ""
