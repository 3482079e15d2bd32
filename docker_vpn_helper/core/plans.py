"""What each stage will do, decided from what was observed: pure values, no effects.

Every stage observes (the store, VirtualBox's answer, the served certificate, the route), hands
what it saw to a planner here, and gets a plan: what is wrong, what it will do, in one line each.
`--dry-run` prints the plans, `doctor` renders them, and the stage applies them: the three can
never disagree. A dry run then goes on with `projected()`, what the next stage would observe.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .listeners import Listener, forwards_for_the_vm, unnamed_holder
from .store import StoreFacts, missing_machine
from .vbox import NatRule, VMInfo, current_forward

PORT_SEARCH = 100
NO_RESTART_POLICIES = ("", "no")  # a daemon restart stops these containers for good
COMING_BACK_POLICIES = (
    "always",
    "unless-stopped",
)  # dockerd starts these again  # how far past the configured port a new machine's forward may go


@dataclass(frozen=True)
class ForwardPlan:
    """nat.forward: the rule that forwards 127.0.0.1:<port> to the daemon."""

    rule: NatRule  # the rule in place after this stage
    present: bool  # it is there already
    stale: NatRule | None = None  # our rule's name on another port: replaced
    moved_from: int = 0  # the configured port was taken: `rule` uses the next free one
    taken_by: str = ""  # who holds the configured port, when moved
    running: bool = True
    remember: bool = False  # the machine folder does not record this port yet
    revive: bool = False  # `rule` is there, yet VirtualBox does not listen on its port

    def remembering(self, remembered: int | None) -> ForwardPlan:
        """This plan, noting whether the machine folder must be told its port."""
        return replace(self, remember=remembered != self.port)

    @property
    def port(self) -> int:
        return self.rule.host_port

    @property
    def changes(self) -> tuple[str, ...]:
        return () if self.present else ("nat",)

    @property
    def chores(self) -> tuple[str, ...]:
        """Bookkeeping done even when nothing changes: the machine folder learns its port."""
        return (f"remember port {self.port} in the machine folder",) if self.remember else ()

    @property
    def problem(self) -> str:
        if self.revive:
            return f"VirtualBox does not listen on 127.0.0.1:{self.port} for NAT rule {self.rule.name!r}"
        return "" if self.present else f"no NAT rule forwards 127.0.0.1:{self.port} to the daemon"

    @property
    def how(self) -> str:
        return "controlvm" if self.running else "modifyvm"

    def seen(self) -> str:
        return f"NAT rule {self.rule.name!r} already forwards 127.0.0.1:{self.port} to the daemon"

    def actions(self) -> list[str]:
        if self.present:
            return []
        moved = (
            [f"use 127.0.0.1:{self.port}: {self.moved_from} is taken by {self.taken_by}"]
            if self.moved_from
            else []
        )
        if self.revive:
            return [
                f"add NAT rule {self.rule.spec()!r} again with {self.how} ({self.problem}: its "
                "port was taken when the rule was applied)"
            ]
        replacing = f" replacing stale {self.stale.spec()!r}" if self.stale else ""
        return [*moved, f"add NAT rule {self.rule.spec()!r} with {self.how}{replacing}"]


def needs_holders(rules: Sequence[NatRule], wanted: NatRule, port_source: str) -> bool:
    """Whether planning the forward must know who holds which host port: only for a rule to
    add on a port our stale rule does not hold already."""
    if current_forward(rules, wanted, port_source) is not None:
        return False
    stale = next((r for r in rules if r.name == wanted.name), None)
    return stale is None or stale.host_port != wanted.host_port


class PortTaken(Exception):
    """The wanted port is held and may not move (it was asked for, or no port is free)."""


class PathTaken(PortTaken):
    """Our rule is there, but another program listens on its host port (it took the port
    before VirtualBox could): `holder` names it."""

    def __init__(self, holder: str) -> None:
        super().__init__(holder)
        self.holder = holder


@dataclass(frozen=True)
class ForwardPath:
    """Who listens on the host port of a rule that is there, seen when the daemon does not
    answer through it, and who listens on the VM's SSH forward (VirtualBox's own process)."""

    holders: tuple[Listener, ...]
    ssh_holders: tuple[Listener, ...] = ()
    not_tls: bool = False  # something answered through the port, but not with TLS

    def taker(self, port: int) -> str:
        """Who took the port from the VM's forward ("": nobody, as far as can be seen). When
        the answer was not TLS, dockerd is not what answers: the holder that is not the VM's
        forward (another one may hold the port beside it), else one nobody can name."""
        others = [h for h in self.holders if not forwards_for_the_vm(h, self.ssh_holders)]
        if others and (self.not_tls or len(others) == len(self.holders)):
            return others[0].describe()
        return unnamed_holder(port) if self.not_tls and not self.holders else ""


class NotTLS(Exception):
    """The VM's own forward holds the port, yet what answers through it does not speak TLS:
    dockerd is not what listens in the VM, and no certificate or restart changes that."""


def plan_forward(
    vm: VMInfo,
    wanted: NatRule,
    port_source: str,
    claims: dict[int, str] | None = None,
    listening: frozenset[int] = frozenset(),
    path: ForwardPath | None = None,
) -> ForwardPlan:
    """Keep a rule that forwards the port, else add `wanted` (or on the next free port, for a
    port that is only the configured default). `claims` ({port: holder}: other VMs' and
    machines' ports) and `listening` (ports something on the host listens on) are needed only
    when a rule must be added. `path`, for a rule that is there while the daemon does not
    answer through it: nothing listening means VirtualBox could not bind the port when the
    rule was applied (add it again); a listener that is not the VM's forward took the port
    (PathTaken: nothing behind the forward is to blame, nor to restart), and so did one
    answering without TLS beside the VM's forward, or where nobody can be seen listening; the
    VM's own forward answering without TLS is NotTLS (no restart either)."""
    rules = vm.rules()
    present = current_forward(rules, wanted, port_source)
    if present is not None:
        taker = path.taker(present.host_port) if path is not None else ""
        if taker:
            raise PathTaken(taker)
        if path is not None and path.not_tls:
            raise NotTLS()
        if path is not None and not path.holders:
            return ForwardPlan(present, False, present, running=vm.running, revive=True)
        return ForwardPlan(present, True, running=vm.running)
    stale = next((r for r in rules if r.name == wanted.name), None)
    if stale is not None and stale.host_port == wanted.host_port:
        return ForwardPlan(wanted, False, stale, running=vm.running)
    held = dict(claims or {})
    for rule in rules:
        if rule.name != wanted.name and rule.holds_loopback_port():
            held[rule.host_port] = f"this VM's NAT rule {rule.name!r}"

    def holder(port: int) -> str | None:
        if port in held:
            return held[port]
        if port in listening:
            return unnamed_holder(port)
        return None

    owner = holder(wanted.host_port)
    if owner is None:
        return ForwardPlan(wanted, False, stale, running=vm.running)
    if port_source != "config":
        raise PortTaken(
            f"127.0.0.1:{wanted.host_port} is already taken by {owner}: pick another port with "
            f"--port {wanted.host_port + 1}"
        )
    last = wanted.host_port + PORT_SEARCH - 1
    for port in range(wanted.host_port + 1, last + 1):
        if holder(port) is None:
            moved = replace(wanted, host_port=port)
            return ForwardPlan(moved, False, stale, wanted.host_port, owner, vm.running)
    raise PortTaken(f"no free port in 127.0.0.1:{wanted.host_port}-{last}: pick one with --port")


@dataclass(frozen=True)
class MachinePlan:
    """machine.create: create the machine, start its VM, or leave it as it is."""

    name: str
    action: str  # "none", "create" or "start"
    state: str  # the VM's state, or "missing" (not in the store)
    commands: tuple[str, ...] = ()  # exact command lines, as the dry run shows them
    kext_command: str | None = None  # restarted with sudo before a create
    forward: ForwardPlan | None = None  # added to a stopped VM before it starts
    drop: tuple[NatRule, ...] = ()  # container-port rules of ours, deleted before a start
    resolver: bool = False  # switch on the host DNS resolver config.json asks for, before a start
    vm_after: VMInfo | None = None  # the VM as the next stage would see it

    @property
    def changes(self) -> tuple[str, ...]:
        forward = self.forward.changes if self.forward else ()
        return () if self.action == "none" else ("machine", *forward)

    @property
    def problem(self) -> str:
        if self.action == "create":
            return f"the store has no machine {self.name!r}"
        return f"the VM is {self.state}" if self.action == "start" else ""

    def seen(self) -> str:
        return f"the VM is {self.state}"

    def actions(self) -> list[str]:
        forward = self.forward.actions() if self.forward else []
        drop = [
            f"delete NAT rule {rule.name} before the start (ports.sync adds it again once a "
            "container publishes it)"
            for rule in self.drop
        ]
        switch = f"run: VBoxManage modifyvm {self.name} --natdnshostresolver1 on"
        resolver = [f"{switch} (config.json asks for the host DNS resolver)"] * self.resolver
        return forward + drop + resolver + [f"run: {command}" for command in self.commands]


def creation_refusal(
    name: str, facts: StoreFacts, *, asked: bool, default_location: bool, create: str
) -> str:
    """Why machine `name`, which the store lacks, may not be created ("": it may).

    The 2015 helper's first run created the machine; that convenience stays where the user
    plainly means it: the store's first machine (docker-machine's default store may not even
    exist yet), or `asked` (--create). A missing machine beside others is more likely a typo, and
    a path that is not a docker-machine store a wrong --storage-path: both are errors naming what
    is there and `create`, the command that creates the machine.
    """
    if asked:
        return ""
    if not facts.is_store:
        if default_location and not facts.exists:
            return ""
        why = "it does not exist" if not facts.exists else "it has no machines/ folder"
        return (
            f"{facts.path} is not a docker-machine store ({why}): check --storage-path and "
            f"MACHINE_STORAGE_PATH; to start a new store there: {create}"
        )
    if not facts.machines:
        return ""
    return missing_machine(name, facts, create)


def plan_machine(
    name: str,
    vm: VMInfo | None,
    create_command: Sequence[str] = (),
    kext_command: str | None = None,
    start_command: Sequence[str] = (),
    forward: ForwardPlan | None = None,
    drop: Sequence[NatRule] = (),
    resolver: bool = False,
) -> MachinePlan:
    """`vm` is None for a machine the store lacks (the stage checks first that it may create
    one: no VPN, no VirtualBox running); a stopped VM gets `forward` before it starts, so the
    forward is in place when it boots, and loses the container-port rules in `drop`: a rule
    whose host port is taken can stop a VM from starting (VirtualBox 7.1), and the containers'
    ports are synced again once they run."""
    if vm is None:
        commands = ([f"sudo {kext_command}"] if kext_command else []) + [shlex.join(create_command)]
        fresh = VMInfo(name, "running", {1: "nat", 2: "hostonly"}, {}, {1: ()})
        return MachinePlan(name, "create", "missing", tuple(commands), kext_command, vm_after=fresh)
    if vm.running:
        return MachinePlan(name, "none", vm.state, vm_after=vm)
    rules = tuple(r for r in vm.rules() if r not in drop)
    if forward is not None and not forward.present:
        rules = (*(r for r in rules if r.name != forward.rule.name), forward.rule)
    nic = vm.nat_nic or 1
    started = replace(vm, state="running", forwarding={**vm.forwarding, nic: rules})
    command = (shlex.join(start_command),)
    return MachinePlan(
        name,
        "start",
        vm.state,
        command,
        forward=forward,
        drop=tuple(drop),
        resolver=resolver,
        vm_after=started,
    )


@dataclass(frozen=True)
class CertPlan:
    """cert.issue: keep server.pem, or issue a new one; record the loopback names."""

    names: tuple[str, ...]  # what the certificate must cover
    problems: tuple[str, ...]  # why the current one cannot stay (empty: it can)
    force: bool = False
    record_sans: bool = False  # ServerCertSANs lacks localhost/127.0.0.1
    config_path: str = ""
    valid_until: str = ""  # of the current one, when it stays
    note: str = ""  # what is seen instead, when there is no certificate to judge yet

    @property
    def issue(self) -> bool:
        return bool(self.problems) or self.force

    @property
    def reason(self) -> str:
        return "; ".join(self.problems) if self.problems else "--force"

    @property
    def changes(self) -> tuple[str, ...]:
        return ("cert",) * self.issue + ("config",) * self.record_sans

    @property
    def problem(self) -> str:
        return self.reason if self.problems else ""

    def seen(self) -> str:
        return self.note or (
            f"server.pem already covers {', '.join(self.names)}, is signed by this CA and is "
            f"valid until {self.valid_until}"
        )

    def actions(self) -> list[str]:
        done = [f"issue a new server certificate ({self.reason})"] if self.issue else []
        if self.record_sans:
            done.append(f"record localhost and 127.0.0.1 in {self.config_path} (ServerCertSANs)")
        return done


@dataclass(frozen=True)
class DeployPlan:
    """cert.deploy: upload server.pem and its key into the VM, or leave the VM's."""

    upload: bool
    why: str  # what was seen: the reason to upload, or why not
    cert_path: str = ""
    key_path: str = ""
    certain: bool = True  # False: decided only once the VM can be read (dry run)
    notes: tuple[str, ...] = ()  # what was seen of the guest on the way

    @property
    def changes(self) -> tuple[str, ...]:
        return ("deploy",) if self.upload else ()

    @property
    def problem(self) -> str:
        return self.why if self.upload and self.certain else ""

    def seen(self) -> str:
        return self.why

    def actions(self) -> list[str]:
        if not self.upload:
            return []
        if not self.certain:
            return [f"upload server.pem and server-key.pem if the VM's differ ({self.why})"]
        return [
            f"upload server.pem and server-key.pem to {self.cert_path} and {self.key_path} "
            f"({self.why})"
        ]


class ForeignCA(Exception):
    """The VM's daemon checks clients with another CA than the store's: restarted, it would
    refuse every client the store has, and no certificate this tool deploys changes that."""


def plan_deploy(
    issued: bool,
    serves_it: bool,
    remote_matches: bool | None,
    cert_path: str,
    key_path: str,
    key_matches: bool = True,
    ca_matches: bool = True,
) -> DeployPlan:
    """`issued`: cert.issue replaces server.pem in this run; `serves_it`: the daemon presents
    exactly the store's server.pem through the forward (so the VM has it and its key);
    `remote_matches`: the VM's server.pem compared with the store's (None: not read);
    `key_matches`: the VM's server key's checksum compared with the store's. Both files go up
    together, whichever differs. `ca_matches`: the VM's CA (the profile's CACERT) is the
    store's; else ForeignCA, before anything is uploaded or restarted."""
    if not ca_matches and not serves_it:
        raise ForeignCA()
    if issued:
        return DeployPlan(True, "cert.issue issues a new certificate", cert_path, key_path)
    if serves_it:
        return DeployPlan(False, "the daemon already serves this certificate")
    if remote_matches is None:
        return DeployPlan(True, "the VM cannot be read before it runs", certain=False)
    if not remote_matches:
        return DeployPlan(True, "the VM has another certificate", cert_path, key_path)
    if not key_matches:
        return DeployPlan(
            True, f"the VM's server key is not the store's ({key_path})", cert_path, key_path
        )
    return DeployPlan(False, f"the VM already has this certificate and its key ({cert_path})")


PENDING_GUEST_STATES = ("installing", "installed")


@dataclass(frozen=True)
class GuestHistory:
    """Earlier runs' changes to the VM's files that never ended (the run was stopped between
    replacing the files and its restart taking effect), judged against what the daemon serves."""

    pending: tuple[str, ...] = ()  # runs whose files the daemon never served: undone by a rollback
    done: tuple[str, ...] = ()  # runs that look unfinished, yet the daemon serves their certificate
    rollback: tuple[tuple[str, str], ...] = ()  # (backup, target): the VM before the oldest pending
    partial: bool = False  # that run was stopped before it made every backup

    @property
    def unsettled(self) -> tuple[str, ...]:
        return (*self.done, *self.pending)


def plan_guest_history(runs: Sequence[tuple[str, dict]], served: str | None) -> GuestHistory:
    """`runs`: earlier runs' (folder name, manifest), oldest first; `served`: the fingerprint
    of the certificate the daemon serves now (None: it does not answer).

    A rollback returns the VM to what the daemon served when this run found it: before the
    oldest run whose files it never served, else before this run's own change. Never to the
    backups of a run that ended (its files were served), however old. A run whose certificate
    the daemon serves did end after all (its detached restart went on), and so did every run
    before it."""
    open_runs = [
        (name, data) for name, data in runs if data.get("guest_state") in PENDING_GUEST_STATES
    ]
    served_at = max(
        (i for i, (_, data) in enumerate(open_runs) if served and data.get("guest_cert") == served),
        default=-1,
    )
    done = tuple(name for name, _ in open_runs[: served_at + 1])
    pending = open_runs[served_at + 1 :]
    if not pending:
        return GuestHistory(done=done)
    oldest = pending[0][1]
    pairs = tuple((str(saved), str(target)) for saved, target in oldest.get("guest", []))
    return GuestHistory(
        tuple(name for name, _ in pending),
        done,
        pairs,
        oldest.get("guest_state") == "installing",
    )


@dataclass(frozen=True)
class RestartPlan:
    """daemon.restart: restart dockerd unless it serves the store's certificate already."""

    restart: bool
    why: str
    port: int
    certain: bool = True  # False: decided only once the VM runs (dry run)
    stops: tuple[str, ...] = ()  # running containers without a restart policy: they stay down
    comes_back: tuple[str, ...] = ()  # running containers their restart policy brings back
    history: GuestHistory = GuestHistory()  # earlier runs' unfinished changes to the VM

    @property
    def chores(self) -> tuple[str, ...]:
        """Without a restart, earlier runs' unfinished VM changes ended in what is served now."""
        if self.restart or not self.history.unsettled:
            return ()
        return (
            f"note in the journal that the interrupted run(s) {', '.join(self.history.unsettled)} "
            "ended: the daemon serves the current certificate",
        )

    @property
    def notes(self) -> tuple[str, ...]:
        if not self.stops:
            return ()
        return (
            f"restarting the daemon stops {len(self.stops)} running container"
            f"{'s' * (len(self.stops) > 1)} without a restart policy ({', '.join(self.stops)}): "
            "start them again with `docker start`",
        )

    def with_containers(self, policies: dict[str, str]) -> RestartPlan:
        """This plan, knowing the running containers' restart policies ({name: policy})."""
        stops = tuple(sorted(n for n, p in policies.items() if p in NO_RESTART_POLICIES))
        back = tuple(sorted(n for n, p in policies.items() if p in COMING_BACK_POLICIES))
        return replace(self, stops=stops, comes_back=back)

    @property
    def changes(self) -> tuple[str, ...]:
        return ("daemon",) if self.restart else ()

    @property
    def problem(self) -> str:
        return self.why if self.restart and self.certain else ""

    def seen(self) -> str:
        if not self.certain:
            return self.why
        return (
            f"the daemon answers on tcp://localhost:{self.port} with this certificate ({self.why})"
        )

    def actions(self) -> list[str]:
        if not self.restart:
            return []
        unless = "" if self.certain else ", unless it serves this certificate once the VM runs"
        return [f"run in the VM: sudo /etc/init.d/docker restart{unless}"]


def plan_restart(
    deployed: bool, served_ok: bool, serves_it: bool, detail: str, port: int
) -> RestartPlan:
    """`detail`: the probe's one line (the version, or why it failed)."""
    if deployed:
        return RestartPlan(True, "a new certificate was deployed", port)
    if served_ok and serves_it:
        return RestartPlan(False, detail, port)
    reason = detail if not served_ok else "it still presents the previous certificate"
    return RestartPlan(True, reason, port)


@dataclass(frozen=True)
class Plan:
    """A stage with one thing to do or nothing (env.context, env.ssh-config, routes.restore,
    restore): `actions` say what it will do, `seen` what made it decide."""

    change: str  # the word for the run's summary
    seen_text: str
    action_lines: tuple[str, ...] = ()
    problem: str = ""
    detail: object = None  # what apply needs, as observed (the stage's own value)

    @property
    def changes(self) -> tuple[str, ...]:
        return (self.change,) if self.action_lines else ()

    def seen(self) -> str:
        return self.seen_text

    def actions(self) -> list[str]:
        return list(self.action_lines)


@dataclass(frozen=True)
class ResolverPlan:
    """dns.host-resolver: VirtualBox's NAT asks the host's resolver (which follows a VPN's
    DNS), recorded in config.json and set on the VM when it may change (stopped)."""

    name: str
    vm_on: bool  # natdnshostresolver1 is on
    recorded: bool  # config.json's Driver.HostDNSResolver is true
    running: bool
    restart: bool = False  # --restart: stop the VM, switch, start it again
    known: bool = True  # False: VirtualBox's settings file could not be read
    before_start: str = ""  # what switches it before the VM runs (machine.create's plan)

    @property
    def switch_now(self) -> bool:
        return (
            self.known
            and not self.before_start
            and not self.vm_on
            and (not self.running or self.restart)
        )

    @property
    def changes(self) -> tuple[str, ...]:
        if self.before_start:
            return ()  # machine.create's change
        return ("dns",) if self.known and (self.switch_now or not self.recorded) else ()

    @property
    def problem(self) -> str:
        if not self.known or self.before_start:
            return self.seen()
        if self.vm_on:
            return ""
        return "the VM resolves names with the DNS servers it got at boot, not the VPN's"

    @property
    def notes(self) -> tuple[str, ...]:
        """Said when the switch is recorded, not on every run after (doctor says it then)."""
        if not self.known or self.vm_on or self.switch_now or self.recorded or self.before_start:
            return ()
        return (
            "the VM runs: the host resolver takes effect at its next start (`docker-vpn-helper "
            f"fix --machine {self.name}` after a stop), or now with --restart",
        )

    def seen(self) -> str:
        if self.before_start:
            return self.before_start
        if self.vm_on:
            return (
                "VirtualBox's NAT resolves names with the host's resolver (natdnshostresolver1 on)"
            )
        return "natdnshostresolver1 is off, and recorded to be switched on at the next start"

    def actions(self) -> list[str]:
        done = [] if self.recorded else ["record HostDNSResolver in config.json"]
        if self.switch_now:
            stop = [f"run: docker-machine stop {self.name}"] if self.running else []
            start = [f"run: docker-machine start {self.name}"] if self.running else []
            switch = f"run: VBoxManage modifyvm {self.name} --natdnshostresolver1 on"
            done += [*stop, switch, *start]
        return done
