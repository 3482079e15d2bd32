"""The base of every stage's plan: what it changes, what it runs, what it saw."""

from __future__ import annotations

from ..commands import Command


class Plan:
    """What one stage will do, decided from what it observed: a frozen value.

    A plan's subclass (a frozen dataclass in core/plans/<stage>.py) overrides what it has;
    the rest keeps these defaults:

    - `changes`: the words of fix's summary for what it will change (`()`: nothing);
    - `commands`: the exact commands apply runs, in order (built by the adapters that run them);
    - `actions()`: one line per thing it will do (a dry run prints "would <line>"); by default
      one line per command, `Command.describe()`;
    - `seen()`: what was seen, one line ("<seen>: nothing to do" when nothing changes);
    - `problem`: what doctor reports ("": nothing wrong);
    - `notes`: what was seen on the way, said before the stage acts;
    - `chores`: bookkeeping applied even when nothing changes (e.g. remembering a port).
    """

    @property
    def changes(self) -> tuple[str, ...]:
        return ()

    @property
    def commands(self) -> tuple[Command, ...]:
        return ()

    @property
    def problem(self) -> str:
        return ""

    @property
    def notes(self) -> tuple[str, ...]:
        return ()

    @property
    def chores(self) -> tuple[str, ...]:
        return ()

    def seen(self) -> str:
        return ""

    def actions(self) -> list[str]:
        return [command.describe() for command in self.commands]
