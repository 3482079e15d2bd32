"""kexts.restart: restart VirtualBox's drivers, or nothing (VirtualBox 7 on macOS has none)."""

from __future__ import annotations

from dataclasses import dataclass

from ..commands import Command
from .base import Plan


@dataclass(frozen=True)
class KextPlan(Plan):
    restart: Command | None  # None: nothing to restart

    @property
    def changes(self) -> tuple[str, ...]:
        return ("kexts",) if self.restart else ()

    @property
    def commands(self) -> tuple[Command, ...]:
        return (self.restart,) if self.restart else ()

    def seen(self) -> str:
        return "VirtualBox 7 on macOS has no kernel extensions to restart: skipped"
