"""What each stage will do, decided from what was observed: pure values, no effects.

One module per stage (`machine`, `nat`, `cert`, `daemon`, `ports`, `dns`, `kexts`, `routes`,
`context`, `sshconfig`, `restore`, `agent`), each with its plan class, a subclass of
`base.Plan`, and its planner. Every stage observes (the store, VirtualBox's answer, the served
certificate, the route), hands what it saw and the commands its adapters built to its planner,
and gets a plan: what is wrong, what it will do, and the exact commands it will run.
`--dry-run` prints the plans, `doctor` renders them, and the stage applies them: the three can
never disagree (docs/DESIGN.md).
"""

from .base import Plan

__all__ = ["Plan"]
