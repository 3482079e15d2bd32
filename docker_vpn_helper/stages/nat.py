"""nat.forward: a VirtualBox NAT rule 127.0.0.1:<port> -> guest:2376, which no VPN can re-route.

The forward's observation, plan and apply live in forwarding.py, which machine.create uses too.
"""

from __future__ import annotations

from .. import forwarding
from ..core.plans.nat import ForwardPlan
from ..errors import HelperError
from ..session import Session
from . import Stage


def plan(s: Session) -> ForwardPlan:
    info = s.vm()
    if info is None:
        raise HelperError(f"VirtualBox has no VM named {s.name!r}")
    return forwarding.plan_for(s, info)


STAGE = Stage("nat.forward", "Forwarding 127.0.0.1:{port} to the daemon", plan, forwarding.apply)
