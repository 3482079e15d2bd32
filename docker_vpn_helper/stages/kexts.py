"""kexts.restart: reload VirtualBox's kernel extensions (macOS) or modules (Linux) before a create.

A VPN client can leave VirtualBox's host-only driver unable to add its routes; a restart of the
drivers, with every VirtualBox process stopped, is the cure docker-machine users were told.
"""

from __future__ import annotations

from ..adapters import drivers
from ..core.plans.kexts import KextPlan
from ..report import say
from ..session import Session
from . import Stage


def plan(s: Session) -> KextPlan:
    drivers.refuse_if_virtualbox_runs(s.c, "restarting its kernel extensions", s.rerun_hint())
    return KextPlan(drivers.kext_command(s.settings, s.vbox))


def apply(s: Session, plan: KextPlan) -> None:
    for command in plan.commands:
        s.execute(command)
        say(drivers.restarted(command))


STAGE = Stage("kexts.restart", "Restarting VirtualBox's kernel extensions", plan, apply)
