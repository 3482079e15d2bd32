"""The stages, one module each: observe, plan with the core, apply through the adapters.

Each stage is a `Stage`: its task name, its banner (`{port}` is the machine's host port),
`plan(s, **options)` (observe, then its planner in core/plans/<stage>.py: nothing is changed)
and `apply(s, plan)` (run exactly `plan.commands`, saying what it did). A plan is a
`core.plans.base.Plan` (docs/DESIGN.md). `step` runs one; a dry run prints the plan and goes on
as if it had been applied; doctor calls `plan` alone. No stage imports another: what two share
sits below them (session.py, view.py, forwarding.py, guestfiles.py); doctor and watch, which
are not stages, sit above them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from ..report import banner, say

if TYPE_CHECKING:
    from ..core.plans.base import Plan
    from ..session import Session


@dataclass(frozen=True)
class Stage:
    name: str
    title: str
    plan: Callable[..., Plan]
    apply: Callable[[Session, Any], None]


def step(s: Session, stage: Stage, **options: Any) -> Plan:
    """Plan, show, apply (unless dry); the plan becomes the stage's result for later stages."""
    plan = stage.plan(s, **options)
    s.results[stage.name] = plan
    banner(s.name, stage.title.format(port=s.port))
    for note in plan.notes:
        say(note)
    if not plan.changes:
        say(f"{plan.seen()}: nothing to do")
    if s.dry_run:
        for action in [*plan.actions(), *plan.chores]:
            say(f"would {action}")
    elif plan.changes or plan.chores:
        stage.apply(s, plan)
    return plan
