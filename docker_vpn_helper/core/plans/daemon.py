"""daemon.restart: restart dockerd unless it serves the store's certificate already."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..commands import Command
from .base import Plan

NO_RESTART_POLICIES = ("", "no")  # a daemon restart stops these containers for good
COMING_BACK_POLICIES = ("always", "unless-stopped")  # dockerd starts these again
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
class RestartPlan(Plan):
    """daemon.restart: restart dockerd unless it serves the store's certificate already."""

    restart: bool
    why: str
    port: int
    certain: bool = True  # False: decided only once the VM runs (dry run)
    stops: tuple[str, ...] = ()  # running containers without a restart policy: they stay down
    comes_back: tuple[str, ...] = ()  # running containers their restart policy brings back
    history: GuestHistory = GuestHistory()  # earlier runs' unfinished changes to the VM
    command: Command | None = None  # the restart, in the VM (none when there is none)

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

    @property
    def commands(self) -> tuple[Command, ...]:
        return (self.command,) if self.restart and self.command is not None else ()

    def actions(self) -> list[str]:
        if not self.restart:
            return []
        unless = "" if self.certain else "unless it serves this certificate once the VM runs"
        return [command.describe(unless) for command in self.commands]


def plan_restart(
    deployed: bool,
    served_ok: bool,
    serves_it: bool,
    detail: str,
    port: int,
    command: Command | None = None,
) -> RestartPlan:
    """`detail`: the probe's one line (the version, or why it failed); `command`: the restart
    that runs in the VM."""
    if deployed:
        return RestartPlan(True, "a new certificate was deployed", port, command=command)
    if served_ok and serves_it:
        return RestartPlan(False, detail, port)
    reason = detail if not served_ok else "it still presents the previous certificate"
    return RestartPlan(True, reason, port, command=command)
