"""`python -m docker_vpn_helper.lab <task>`: the lab's invoke tasks without the tool's CLI."""

from __future__ import annotations

from invoke import Program

from docker_vpn_helper import __version__
from docker_vpn_helper.executor import MachineExecutor

from .tasks import lab

Program(
    namespace=lab,
    version=__version__,
    name="dvh-lab",
    binary="python -m docker_vpn_helper.lab",
    executor_class=MachineExecutor,  # errors as one line
).run()
