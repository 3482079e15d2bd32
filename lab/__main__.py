"""`python -m lab <task>` from a clone: the lab's invoke tasks without the tool's CLI."""

from __future__ import annotations

from invoke import Program

from docker_vpn_helper import __version__
from docker_vpn_helper.executor import MachineExecutor

from .tasks import lab

Program(
    namespace=lab,
    version=__version__,
    name="dvh-lab",
    binary="python -m lab",
    executor_class=MachineExecutor,  # errors as one line
).run()
