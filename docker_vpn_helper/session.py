"""One run against one machine: its settings, what it sees, its SSH link, its journal, and what
each stage did.

Stages are separate invoke tasks, yet a `fix` must ask VirtualBox once and open one SSH
connection; so they share a Session per (store, machine) for the life of the process. Later
stages read earlier stages' results (their plans as applied), never strings.
"""

from __future__ import annotations

import atexit
import datetime as dt
from typing import TYPE_CHECKING, Any

from invoke import Context

from .adapters.host import command_line
from .core import store, vbox
from .journal import Journal
from .link import GuestLink
from .report import say
from .settings import CONFIG_KEY, Settings, resolve
from .view import MachineView

if TYPE_CHECKING:
    from .adapters.guest import Guest


class Session:
    def __init__(self, c: Context, settings: Settings) -> None:
        self.c = c
        self.settings = settings
        self.view = MachineView(c, settings)
        self.link = GuestLink(settings)
        self.journal = Journal(self.view.folder, settings.machine)
        self.results: dict[str, Any] = {}  # stage name -> its plan, as applied (or projected)

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

    def vm(self) -> vbox.VMInfo | None:
        """The VM as this stage finds it: in a dry run, as the machine stage would leave it."""
        machine = self.results.get("machine.create")
        if self.dry_run and machine is not None and machine.action != "none":
            return machine.vm_after
        return self.view.vm()

    @property
    def port(self) -> int:
        """The host port of the daemon's forward: as nat.forward planned it, else the settings'."""
        forward = self.results.get("nat.forward")
        return forward.port if forward is not None else self.settings.host_port

    @property
    def projected(self) -> bool:
        """A dry run whose machine is still to be created or started: the VM cannot be read."""
        machine = self.results.get("machine.create")
        return self.dry_run and machine is not None and machine.action != "none"

    def changes(self) -> list[str]:
        """What this run changed (or, dry, would change), in the words of the fix summary."""
        return sorted({word for plan in self.results.values() for word in plan.changes})

    def guest(self) -> Guest:
        """The run's SSH connection to the VM: the one opened, else one to its live SSH port."""
        if self.link.opened:
            return self.link.guest()
        return self.link.guest(self.view.ssh_port(), self.machine)

    def lock(self) -> None:
        """A machine that does not exist yet is guarded by docker-machine create itself; the
        stage that creates it locks afterwards. A dry run changes nothing and takes no lock."""
        if not self.dry_run and self.view.exists():
            self.journal.lock()
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


_SESSIONS: dict[tuple[str, str, bool], Session] = {}


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
    return settings


def session_for(
    c: Context,
    machine: str | None = None,
    storage_path: str | None = None,
    port: int = 0,
    dry_run: bool = False,
) -> Session:
    """The run's Session for these flags (created on first use, closed at exit)."""
    settings = settings_for(c, machine, storage_path, port, dry_run)
    # Not keyed by port: nat.forward may move a machine to a free port, and the later stages of
    # the same run must keep using this Session (its SSH connection, its lock).
    key = (str(settings.storage_path), settings.machine, settings.dry_run)
    if key not in _SESSIONS:
        _SESSIONS[key] = Session(c, settings)
        _SESSIONS[key].lock()
    return _SESSIONS[key]


@atexit.register
def close_all() -> None:
    while _SESSIONS:
        _SESSIONS.popitem()[1].close()
