"""routes.restore: the host-only network's route, given back to VirtualBox's adapter."""

from __future__ import annotations

from dataclasses import dataclass

from ..commands import Command
from ..hostonly import HostOnlyNetwork
from .base import Plan


@dataclass(frozen=True)
class RoutePlan(Plan):
    verdict: str  # the route as judged
    network: HostOnlyNetwork | None = None  # set when the route goes back
    adapter: str = ""
    address: str = ""  # the address whose route is judged again after the change
    add: Command | None = None  # `sudo route add ...` (on macOS a stale route is deleted first
    # when the add answers "File exists": `delete` then runs, and the add again)
    delete: Command | None = None

    @property
    def changes(self) -> tuple[str, ...]:
        return ("route",) if self.add else ()

    @property
    def commands(self) -> tuple[Command, ...]:
        return (self.add,) if self.add else ()

    @property
    def problem(self) -> str:
        return self.verdict if self.add else ""

    def seen(self) -> str:
        return self.verdict
