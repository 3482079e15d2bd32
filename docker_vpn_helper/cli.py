"""The `docker-vpn-helper` command: invoke's Program over the same task tree as tasks.py."""

from __future__ import annotations

import os
import sys

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


def main() -> None:
    try:
        program.run()
    except BrokenPipeError:
        # stdout was closed early (`docker-vpn-helper --help | head`): not worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
