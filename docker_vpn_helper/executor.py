"""The executor every door runs the tasks with (`docker-vpn-helper`, `python -m`, a clone's
`invoke`): the run's scope is explicit here.

- It gives pre-tasks the caller's machine (invoke calls pre-tasks without the caller's
  arguments) and runs a task once per machine when it was given several (`fix --machine a
  --machine b`, `fix --all`).
- It owns the run's Sessions, one per machine, and hands each task a `RunContext` that holds
  them, as fabric's executor hands each call its connection; every Session is closed (SSH
  connection, lock) when the run ends.
- It tells each call whether its environment is the one printed (one eval sets one machine's
  variables): `RunContext.printing`.
- It checks every call's flags before anything runs (settings.check_flags), and decides what
  invoke's core flags mean for a task (`core_settings`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from invoke import Call, Context, Executor, Task
from invoke.exceptions import Exit

from .adapters import signals
from .errors import HelperError
from .settings import minikube_flags

if TYPE_CHECKING:
    from .session import Session, Sessions

INTERRUPTED = (
    "files are replaced atomically, so nothing half-written was put in place; run the same "
    "command again to finish"
)
# The flags every stage takes and that must reach its prerequisites unchanged.
SHARED_FLAGS = ("machine", "storage_path", "port", "dry_run", "create")
# invoke's settings (set by its core flags, or by its configuration) that cannot work here: the
# tool runs its commands with their output captured, judges each exit status itself and gives
# each its own time limit, and stdout carries only the environment.
REFUSED = {
    ("run", "echo"): "-e/--echo (run.echo) would print each command on stdout, which carries "
    "only the environment; --dry-run lists what a run would do",
    ("run", "pty"): "-p/--pty (run.pty) would mix each command's errors into the output it reads",
    ("run", "warn"): "-w/--warn-only (run.warn) changes nothing here: every command's exit "
    "status is judged by the tool itself",
    ("run", "hide"): "--hide (run.hide) changes nothing here: the tool's commands are always "
    "hidden, and what it says goes to stderr",
    ("timeouts", "command"): "-T/--command-timeout (timeouts.command) changes nothing here: set "
    "vpnhelper.command_timeout or vpnhelper.vboxmanage_timeout",
}
DRY = "-R/--dry (run.dry) means --dry-run here"


def _accepts(task: Task, name: str) -> bool:
    return name in _argument_names(task)


@cache
def _argument_names(task: Task) -> frozenset[str]:
    """Read once per task: invoke inspects the signature on every get_arguments() (a `fix`
    asks dozens of times; docs/PERFORMANCE.md)."""
    return frozenset(arg.name for arg in task.get_arguments())


@dataclass(frozen=True)
class Printing:
    """Whether a call prints its machine's environment (`fix`), and which other machines the
    same command fixed without printing theirs."""

    prints: bool = True
    others: tuple[str, ...] = ()


class RunContext(Context):
    """invoke's Context for one call, with the run's Sessions and what the call prints."""

    def __init__(self, config: Any, sessions: Sessions, printing: Printing) -> None:
        super().__init__(config=config)
        # As fabric's Connection does: plain attributes, not configuration.
        self._set(sessions=sessions, printing=printing)

    def session(
        self,
        machine: str | None,
        storage_path: str | None,
        port: int,
        dry_run: bool,
        *,
        lock: bool,
    ) -> Session:
        """The run's Session for the machine these flags name; with `lock`, the caller holds
        the machine's lock (which it says: nothing guesses it from a dry run)."""
        from .session import settings_for

        settings = settings_for(self, machine, storage_path, port, dry_run)
        return self.sessions.get(self, settings, lock=lock)


class RunCall(Call):
    """A Call whose context is a RunContext of its executor's run."""

    def __init__(self, call: Call, executor: MachineExecutor, printing: Printing = Printing()):
        super().__init__(call.task, args=call.args, kwargs=call.kwargs, called_as=call.called_as)
        self.executor = executor
        self.printing = printing

    def make_context(self, config: Any) -> RunContext:
        return RunContext(config, self.executor.sessions, self.printing)


class MachineExecutor(Executor):
    """An Executor that hands a task's shared flags down to its pre- and post-tasks, and owns
    the run's Sessions.

    `invoke cert.deploy --machine dev` then runs cert.issue etc. for `dev`, and invoke's
    de-duplication still collapses a stage that two tasks both depend on (same flags).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from .session import Sessions

        super().__init__(*args, **kwargs)
        self.sessions = Sessions()
        self.dry = False  # -R/--dry: every call that takes --dry-run gets it

    def per_machine(self, call: Call) -> list[RunCall]:
        """One call per machine for a task given a list of machines (or --all); the first one
        prints its environment.

        Only tasks with `--all` (fix) run once per machine; any other task that takes a list of
        machines (the lab's `up`) gets the list itself.
        """
        if not _accepts(call.task, "all_"):
            return [RunCall(call, self)]
        machines = call.kwargs.get("machine")
        if call.kwargs.get("all_"):
            from .core.store import list_machines, require_store
            from .settings import CONFIG_KEY, resolve

            config = self.config.get(CONFIG_KEY, {})
            store = resolve(config, storage_path=call.kwargs.get("storage_path")).storage_path
            require_store(store)
            machines = list_machines(store)
            if not machines:
                raise HelperError(f"--all: the store {store} has no machines")
        if not isinstance(machines, list):
            return [RunCall(call, self)]
        machines = list(dict.fromkeys(machines)) or [None]  # `--machine a --machine a`: one
        return [
            RunCall(
                Call(
                    call.task,
                    args=call.args,
                    kwargs={**call.kwargs, "machine": name, "all_": False},
                    called_as=call.called_as,
                ),
                self,
                Printing(True, tuple(machines[1:])) if index == 0 else Printing(False),
            )
            for index, name in enumerate(machines)
        ]

    def expand_calls(self, calls):  # type: ignore[override]
        return self._expand(calls, None)

    def _expand(self, calls, inherited):
        """invoke's expansion into pre-tasks, call, post-tasks, with `inherited` shared flags."""
        from .settings import check_flags

        expanded = []
        for call in calls:
            if isinstance(call, Call) and not isinstance(call, RunCall) and not inherited:
                call = self.direct(call)
                check_flags(call.kwargs)
                if _accepts(call.task, "minikube"):
                    flags = minikube_flags(call.kwargs, os.environ)
                    call = Call(call.task, args=call.args, kwargs=flags, called_as=call.called_as)
                expanded.extend(self._expand(self.per_machine(call), inherited))
                continue
            if isinstance(call, Task):
                call = Call(call, kwargs=dict(inherited or {}))
            elif inherited:
                kwargs = {**inherited, **call.kwargs}
                call = Call(call.task, args=call.args, kwargs=kwargs, called_as=call.called_as)
            if not isinstance(call, RunCall):
                call = RunCall(call, self)
            call.kwargs = {
                k: v
                for k, v in call.kwargs.items()
                if k not in SHARED_FLAGS or _accepts(call.task, k)
            }
            if inherited is not None and _accepts(call.task, "create"):
                # A prerequisite creates a missing machine only when its caller was asked to.
                call.kwargs.setdefault("create", False)
            shared = {k: v for k, v in call.kwargs.items() if k in SHARED_FLAGS}
            expanded.extend(self._expand(call.pre, shared))
            expanded.append(call)
            expanded.extend(self._expand(call.post, shared))
        return expanded

    def direct(self, call: Call) -> Call:
        """A call from the command line, with -R/--dry as its --dry-run."""
        if not self.dry:
            return call
        if not _accepts(call.task, "dry_run"):
            name = call.called_as or call.task.name
            raise HelperError(f"{DRY}, which {name} does not take: leave -R out")
        kwargs = {**call.kwargs, "dry_run": True}
        return Call(call.task, args=call.args, kwargs=kwargs, called_as=call.called_as)

    def core_settings(self) -> None:
        """What invoke's core flags mean here: -R/--dry is --dry-run (invoke's own dry run would
        skip the commands a dry run reads the machine with); the settings in REFUSED end the
        run in one line. The others (-d, -f, --prompt-for-sudo-password, ...) work as invoke
        documents them. INVOKE_RUN_ECHO & co. count as the flags do."""
        self.config.load_shell_env()  # invoke loads it per call; the check comes before any
        for (section, key), why in REFUSED.items():
            if self.config.get(section, {}).get(key):
                raise HelperError(f"{why}: leave it out")
        if self.config.get("run", {}).get("dry"):
            self.dry = True
            self.config.run.dry = False

    def execute(self, *tasks):  # type: ignore[override]
        """Run the tasks; a HelperError, or anything unforeseen, ends as one line, not a traceback.

        SIGHUP (the terminal closed) and SIGTERM end the run like Ctrl-C (see adapters/signals).
        """
        try:
            with signals.handled():
                self.core_settings()
                return super().execute(*tasks)
        except Exit:
            raise
        except HelperError as exc:
            error = exc
        except KeyboardInterrupt:
            error = HelperError(f"interrupted: {INTERRUPTED}", code=130)
        except signals.Interrupted as stop:
            error = HelperError(f"interrupted by {stop.name}: {INTERRUPTED}", code=stop.code)
        except PermissionError as exc:
            from .journal import permission_denied

            error = permission_denied(exc)
        except Exception as exc:
            if os.environ.get("DVH_DEBUG"):
                raise
            error = HelperError(
                f"unexpected {type(exc).__name__}: {exc} (set DVH_DEBUG=1 to see where)"
            )
        finally:
            self.sessions.close()
        raise Exit(error.message, error.code)
