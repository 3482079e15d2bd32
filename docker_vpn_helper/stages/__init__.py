"""The stages, one module each: observe, plan with the core, apply through the adapters.

Each stage is a `Stage`: its task name, its banner (`{port}` is the machine's host port),
`plan(s, **options)` (observe, then a planner from core/plans.py: nothing is changed) and
`apply(s, plan)` (carry it out, saying what it did). A plan says what it `changes` (the words of
fix's summary), may list `chores` (bookkeeping applied even when nothing changes) and `notes`
(what was seen on the way). `step` runs one; a dry run prints the plan and goes on as if it had
been applied; doctor calls `plan` alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from ..report import banner, say

if TYPE_CHECKING:
    from ..session import Session


@dataclass(frozen=True)
class Stage:
    name: str
    title: str
    plan: Callable[..., Any]
    apply: Callable[[Session, Any], None]


def step(s: Session, stage: Stage, **options: Any) -> Any:
    """Plan, show, apply (unless dry); the plan becomes the stage's result for later stages."""
    plan = stage.plan(s, **options)
    s.results[stage.name] = plan
    banner(s.name, stage.title.format(port=s.port))
    for note in getattr(plan, "notes", ()):
        say(note)
    if not plan.changes:
        say(f"{plan.seen()}: nothing to do")
    if s.dry_run:
        for action in [*plan.actions(), *getattr(plan, "chores", ())]:
            say(f"would {action}")
    elif plan.changes or getattr(plan, "chores", ()):
        stage.apply(s, plan)
    return plan
