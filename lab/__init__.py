"""The Linux lab: a docker-machine + VirtualBox + boot2docker Mac behind a VPN, in network namespaces.

A development and demo rig, run from a clone (`invoke lab.demo`, `python -m lab demo`): it is not
part of the installed tool. It uses the tool (docker_vpn_helper) and tests/support.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .lab import Lab

__all__ = ["Lab"]


def __getattr__(name: str) -> Any:
    """Import Lab (and cryptography with it) on first use: the clone's tasks.py loads this
    package for every `invoke` command, including `invoke env.print`, which must stay fast."""
    if name == "Lab":
        from .lab import Lab

        return Lab
    raise AttributeError(name)
