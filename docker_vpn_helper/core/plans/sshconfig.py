"""env.ssh-config: the machine's Host block in ~/.ssh/config, written or as it is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .base import Plan


@dataclass(frozen=True)
class SshConfigPlan(Plan):
    path: Path  # ~/.ssh/config (a symlink's target)
    alias: str
    port: int
    user: str
    updated: str | None = None  # the file's new text (None: it has the block already)
    verb: str = "added"  # or "updated": what happens to the block

    @property
    def changes(self) -> tuple[str, ...]:
        return ("ssh-config",) if self.updated is not None else ()

    def seen(self) -> str:
        return f"{self.path} already has Host {self.alias} (port {self.port})"

    def actions(self) -> list[str]:
        if self.updated is None:
            return []
        return [
            f"write Host {self.alias} (127.0.0.1:{self.port}, user {self.user}) into {self.path}"
        ]
