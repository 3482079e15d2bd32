"""invoke's Program over the same task tree as tasks.py: what `docker-vpn-helper` runs."""

from __future__ import annotations

from invoke import Program

from . import __version__
from .executor import MachineExecutor
from .tasks import namespace

program = Program(
    name="docker-vpn-helper",
    binary="docker-vpn-helper",
    version=__version__,
    namespace=namespace,
    executor_class=MachineExecutor,
)
