"""One run against one machine: its settings, what it sees, its SSH link, its journal, and what
each stage did.

Stages are separate invoke tasks, yet a `fix` must ask VirtualBox once and open one SSH
connection; so they share a Session per (store, machine): the executor owns the run's
`Sessions` and hands each task the one for its machine (executor.RunContext), as fabric's
executor hands each call its connection. Later stages read earlier stages' results (their plans
as applied), never strings.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, TypeVar

from invoke import Context

from .adapters import host
from .adapters.docker_machine import DockerMachine
from .adapters.host import command_line
from .adapters.sudo import sudo
from .core import minikube, store, vbox
from .core.commands import Command, RuleEdits
from .core.plans.base import Plan
from .core.plans.cert import CertPlan, DeployPlan
from .core.plans.daemon import RestartPlan
from .core.plans.dns import ResolverPlan
from .core.plans.machine import MachineAction, MachinePlan
from .core.plans.nat import ForwardPlan
from .errors import HelperError
from .journal import Journal
from .link import GuestLink
from .report import say
from .settings import CONFIG_KEY, Settings, resolve
from .view import MachineView

if TYPE_CHECKING:
    from .adapters.guest import Guest

P = TypeVar("P", bound=Plan)


class Session:
    def __init__(self, c: Context, settings: Settings) -> None:
        self.c = c
        self.settings = settings
        self.view = MachineView(c, settings)
        self.link = GuestLink(settings)
        self.journal = Journal(self.view.folder, settings.machine)
        self.results: dict[str, Any] = {}  # stage name -> its plan, as applied (or projected)
        self.locked = False
        self.docker_machine = DockerMachine(c, settings.docker_machine, settings.storage_path)

    @property
    def name(self) -> str:
        return self.settings.machine

    @property
    def dry_run(self) -> bool:
        return self.settings.dry_run

    @property
    def vbox(self):
        return self.view.vbox

    @property
    def machine(self) -> store.Machine:
        return self.view.machine

    # -- earlier stages' plans, typed (None: that stage has not run in this run) -------------

    def _plan(self, kind: type[P]) -> P | None:
        return next((p for p in self.results.values() if type(p) is kind), None)

    def machine_plan(self) -> MachinePlan | None:
        return self._plan(MachinePlan)

    def forward_plan(self) -> ForwardPlan | None:
        return self._plan(ForwardPlan)

    def issue_plan(self) -> CertPlan | None:
        return self._plan(CertPlan)

    def deploy_plan(self) -> DeployPlan | None:
        return self._plan(DeployPlan)

    def restart_plan(self) -> RestartPlan | None:
        return self._plan(RestartPlan)

    def resolver_plan(self) -> ResolverPlan | None:
        return self._plan(ResolverPlan)

    def creates(self) -> bool:
        """machine.create creates the machine in this run."""
        machine = self.machine_plan()
        return machine is not None and machine.action is MachineAction.CREATE

    def vm(self) -> vbox.VMInfo | None:
        """The VM as this stage finds it: in a dry run, as the machine stage would leave it."""
        machine = self.machine_plan()
        if self.dry_run and machine is not None and machine.action is not MachineAction.NONE:
            return machine.vm_after
        return self.view.vm()

    @property
    def port(self) -> int:
        """The host port of the daemon's forward: as nat.forward planned it, else the settings'."""
        forward = self.forward_plan()
        return forward.port if forward is not None else self.settings.host_port

    def forward_pending(self) -> bool:
        """A dry run whose daemon forward is still to be added: nothing answers through it yet."""
        forward = self.forward_plan()
        return self.dry_run and forward is not None and not forward.present

    @property
    def projected(self) -> bool:
        """A dry run whose machine is still to be created or started: the VM cannot be read."""
        machine = self.machine_plan()
        return self.dry_run and machine is not None and machine.action is not MachineAction.NONE

    # -- running what plans hold --------------------------------------------------------------

    def rule_edits(self, info: vbox.VMInfo) -> RuleEdits:
        """The commands that change the VM's NAT rules, as VirtualBox takes them in its state."""
        return self.vbox.rule_edits(self.name, info.nat_nic or 1, info.running)

    def execute(self, command: Command) -> None:
        """Run one command of a plan, exactly, with the adapter that built it; a failure is a
        one-line error."""
        if command.where == "guest":
            self.guest().run(command.shell(), timeout=command.timeout)
        elif command.where == "sudo":
            done = sudo(self.c, command)
            if not done.ok:
                raise HelperError(command.failure(done.last_line()))
        elif command.argv[0] == self.settings.vboxmanage:
            self.vbox.execute(command)
        elif command.argv[0] == self.settings.docker_machine:
            self.docker_machine.execute(command)
        else:
            done = host.run(self.c, command.argv, timeout=command.timeout, what=command.what)
            if not done.ok:
                raise HelperError(command.failure(done.last_line()))

    def changes(self) -> list[str]:
        """What this run changed (or, dry, would change), in the words of the fix summary."""
        return sorted({word for plan in self.results.values() for word in plan.changes})

    def guest(self) -> Guest:
        """The run's SSH connection to the VM: the one opened, else one to its live SSH port."""
        if self.link.opened:
            return self.link.guest()
        return self.link.guest(self.view.ssh_port(), self.machine)

    def lock(self) -> None:
        """Take the machine's lock (callers say whether they want it: a dry run, doctor and
        `restore --list` change nothing and do not). A machine that does not exist yet is
        guarded by docker-machine create itself; the stage that creates it locks afterwards."""
        if not self.locked and self.view.exists():
            self.journal.lock()
            self.locked = True
            removed = self.journal.remove_temporaries()
            if removed:
                say(f"removed {', '.join(removed)}, left by an interrupted run")

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)

    def rerun_hint(self) -> str:
        return command_line()

    def close(self) -> None:
        self.link.close()
        self.journal.release()
        self.locked = False


def settings_for(
    c: Context,
    machine: str | None = None,
    storage_path: str | None = None,
    port: int = 0,
    dry_run: bool = False,
) -> Settings:
    """The settings these flags give over invoke's configuration; the machine name checked."""
    config = c.config.get(CONFIG_KEY, {}) if hasattr(c, "config") else {}
    settings = resolve(
        config, machine=machine, storage_path=storage_path, port=port, dry_run=dry_run
    )
    store.validate_machine_name(settings.machine)
    if settings.minikube:  # a profile minikube has not made, or not on VirtualBox: one line
        minikube.load_profile(settings.storage_path, settings.machine)
    return settings


class Sessions:
    """The Sessions of one run, one per (store, machine, dry run): created on first use, closed
    when the run ends. The executor owns one for the run; nothing else keeps Sessions."""

    def __init__(self) -> None:
        self._open: dict[tuple[str, str, bool], Session] = {}

    def get(self, c: Context, settings: Settings, *, lock: bool) -> Session:
        """The run's Session for `settings`; with `lock`, holding the machine's lock."""
        # Not keyed by port: nat.forward may move a machine to a free port, and the later stages
        # of the same run must keep using this Session (its SSH connection, its lock).
        key = (str(settings.storage_path), settings.machine, settings.dry_run)
        if key not in self._open:
            self._open[key] = Session(c, settings)
        if lock:
            self._open[key].lock()
        return self._open[key]

    def close(self) -> None:
        """End the run: every SSH connection closed, every lock let go."""
        while self._open:
            self._open.popitem()[1].close()
