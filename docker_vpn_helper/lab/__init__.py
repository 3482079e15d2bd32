"""The Linux lab: a docker-machine + VirtualBox + boot2docker Mac behind a VPN, in network namespaces."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .lab import Lab

__all__ = ["Lab"]


def __getattr__(name: str) -> Any:
    """Import Lab (and cryptography with it) on first use: the task tree loads this package
    on every command, including `env.print`, which must stay fast."""
    if name == "Lab":
        from .lab import Lab

        return Lab
    raise AttributeError(name)
