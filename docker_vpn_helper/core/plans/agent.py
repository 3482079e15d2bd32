"""agent.install and agent.uninstall: the login agent's file and the commands that load it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..agent import Agent, Found
from ..commands import Command
from .base import Plan


def _commands(argvs: Sequence[Sequence[str]]) -> tuple[Command, ...]:
    return tuple(Command(tuple(argv), what=argv[0]) for argv in argvs)


@dataclass(frozen=True)
class InstallPlan(Plan):
    """Write the file where it is missing or differs; load the agent where it is not loaded,
    reload it where its file changed; nothing when it is loaded from the same file."""

    agent: Agent
    found: Found

    @property
    def write(self) -> bool:
        return self.found.text != self.agent.text

    @property
    def commands(self) -> tuple[Command, ...]:
        if not self.found.loaded:
            return _commands(self.agent.install_commands())
        return _commands(self.agent.reload_commands() if self.write else [])

    @property
    def changes(self) -> tuple[str, ...]:
        return ("agent",) if self.write or self.commands else ()

    def seen(self) -> str:
        state = "running" if self.found.running else "loaded"
        return f"the agent {self.agent.name} is installed and {state} ({self.agent.path})"

    def actions(self) -> list[str]:
        verb = "write" if self.found.text is None else "rewrite (it differs)"
        return ([f"{verb} {self.agent.path}"] if self.write else []) + super().actions()


@dataclass(frozen=True)
class UninstallPlan(Plan):
    """Stop and unload the agent, remove its file; nothing when there is neither."""

    agent: Agent
    found: Found

    @property
    def present(self) -> bool:
        return self.found.text is not None

    @property
    def commands(self) -> tuple[Command, ...]:
        """Before the file goes: also for a file not loaded (systemd's `disable` removes the
        unit's link from default.target.wants)."""
        present = self.found.loaded or self.present
        return _commands(self.agent.uninstall_commands() if present else [])

    @property
    def after_removal(self) -> tuple[Command, ...]:
        return _commands(self.agent.after_removal_commands() if self.present else [])

    @property
    def forget(self) -> tuple[Command, ...]:
        """Last, their failure fine (Agent.forget_commands): systemd's reset-failed."""
        return _commands(self.agent.forget_commands() if self.changes else [])

    @property
    def changes(self) -> tuple[str, ...]:
        return ("agent",) if self.present or self.found.loaded else ()

    def seen(self) -> str:
        return f"no agent {self.agent.name} ({self.agent.path})"

    def actions(self) -> list[str]:
        removal = [f"remove {self.agent.path}"] if self.present else []
        after = [c.describe() for c in (*self.after_removal, *self.forget)]
        return super().actions() + removal + after
