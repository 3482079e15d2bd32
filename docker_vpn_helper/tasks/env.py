"""env.print"""

from __future__ import annotations

from invoke import task

from ..core.envfmt import FORMATS
from ..session import CONFIG_KEY
from ..settings import resolve
from ..stages.env import render
from .common import SHARED_HELP

ENV_HELP = {
    "machine": SHARED_HELP["machine"],
    "storage-path": SHARED_HELP["storage-path"],
    "port": SHARED_HELP["port"],
    "shell": f"output format: {', '.join(FORMATS)} (default: from $SHELL)",
    "unset": "print the commands that unset the variables instead",
}


@task(name="print", help=ENV_HELP, auto_shortflags=False)
def print_(c, machine=None, storage_path=None, port=0, shell=None, unset=False):
    """Print DOCKER_HOST=tcp://localhost:<port> & co. for eval (only the environment goes to stdout)."""
    settings = resolve(
        c.config.get(CONFIG_KEY, {}), machine=machine, storage_path=storage_path, port=port
    )
    print(render(settings, shell, unset, storage_path), end="")
