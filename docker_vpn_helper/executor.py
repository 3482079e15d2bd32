"""Give pre-tasks the caller's machine: invoke calls pre-tasks without the caller's arguments.

Also runs a task once per machine when it was given several (`fix --machine a --machine b`,
`fix --all`); `environment_of()` then names the one machine whose environment is printed (one
eval can set one machine's variables).
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from functools import cache

from invoke import Call, Executor, Task
from invoke.exceptions import Exit

from .adapters import signals
from .errors import HelperError
from .settings import minikube_flags

INTERRUPTED = (
    "files are replaced atomically, so nothing half-written was put in place; run the same "
    "command again to finish"
)
# The flags every stage takes and that must reach its prerequisites unchanged.
SHARED_FLAGS = ("machine", "storage_path", "port", "dry_run", "create")
# (first machine, the others) while a task runs once per machine of a list.
_MACHINES: ContextVar[tuple[str, tuple[str, ...]] | None] = ContextVar("machines", default=None)


def environment_of() -> tuple[str, tuple[str, ...]] | None:
    """While a task runs for several machines: (the first, whose environment is printed, the
    others); None for a single machine."""
    return _MACHINES.get()


def _accepts(task: Task, name: str) -> bool:
    return name in _argument_names(task)


@cache
def _argument_names(task: Task) -> frozenset[str]:
    """Read once per task: invoke inspects the signature on every get_arguments() (a `fix`
    asks dozens of times; docs/PERFORMANCE.md)."""
    return frozenset(arg.name for arg in task.get_arguments())


class MachineExecutor(Executor):
    """An Executor that hands a task's shared flags down to its pre- and post-tasks.

    `invoke cert.deploy --machine dev` then runs cert.issue etc. for `dev`, and invoke's
    de-duplication still collapses a stage that two tasks both depend on (same flags).
    """

    def per_machine(self, call: Call) -> list[Call]:
        """One call per machine for a task given a list of machines (or --all).

        Only tasks with `--all` (fix) run once per machine; any other task that takes a list of
        machines (the lab's `up`) gets the list itself.
        """
        if not _accepts(call.task, "all_"):
            return [call]
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
            return [call]
        machines = list(dict.fromkeys(machines))  # `--machine a --machine a` is one machine
        if len(machines) > 1:
            _MACHINES.set((machines[0], tuple(machines[1:])))
        return [
            Call(
                call.task,
                args=call.args,
                kwargs={**call.kwargs, "machine": name, "all_": False},
                called_as=call.called_as,
            )
            for name in machines or [None]
        ]

    def expand_calls(self, calls):  # type: ignore[override]
        return self._expand(calls, None)

    def _expand(self, calls, inherited):
        """invoke's expansion into pre-tasks, call, post-tasks, with `inherited` shared flags."""
        expanded = []
        for call in calls:
            if isinstance(call, Call) and not inherited and _accepts(call.task, "minikube"):
                flags = minikube_flags(call.kwargs, os.environ)
                call = Call(call.task, args=call.args, kwargs=flags, called_as=call.called_as)
            if isinstance(call, Call) and not inherited:
                machine_calls = self.per_machine(call)
                if len(machine_calls) > 1 or machine_calls[0] is not call:
                    expanded.extend(self._expand(machine_calls, inherited))
                    continue
            if isinstance(call, Task):
                call = Call(call, kwargs=dict(inherited or {}))
            elif inherited:
                kwargs = {**inherited, **call.kwargs}
                call = Call(call.task, args=call.args, kwargs=kwargs, called_as=call.called_as)
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

    def execute(self, *tasks):  # type: ignore[override]
        """Run the tasks; a HelperError, or anything unforeseen, ends as one line, not a traceback.

        SIGHUP (the terminal closed) and SIGTERM end the run like Ctrl-C (see adapters/signals).
        """
        token = _MACHINES.set(None)
        try:
            with signals.handled():
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
            _MACHINES.reset(token)
        raise Exit(error.message, error.code)
