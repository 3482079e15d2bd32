"""env.context: the docker context for the machine, created or updated, or as it is."""

from __future__ import annotations

from dataclasses import dataclass

from ..commands import Command
from ..dockerctx import Endpoint
from .base import Plan


@dataclass(frozen=True)
class ContextPlan(Plan):
    name: str  # the context's name
    wanted: Endpoint
    why: str = ""  # why it changes ("": it is right)
    command: Command | None = None  # `docker context create|update ...`

    @property
    def changes(self) -> tuple[str, ...]:
        return ("context",) if self.command else ()

    @property
    def commands(self) -> tuple[Command, ...]:
        return (self.command,) if self.command else ()

    def seen(self) -> str:
        return f"docker context {self.name!r} already points at {self.wanted.host}"

    def actions(self) -> list[str]:
        return [command.describe(self.why) for command in self.commands]
