"""env.print, env.context, env.ssh-config"""

from __future__ import annotations

from invoke import task

from ..core.envfmt import FORMATS
from ..environment import render
from ..settings import CONFIG_KEY, resolve
from .common import MINIKUBE_HELP, SHARED_HELP, run_stage, stage

ENV_HELP = {
    "machine": SHARED_HELP["machine"],
    "storage-path": SHARED_HELP["storage-path"],
    "port": SHARED_HELP["port"],
    "shell": f"output format: {', '.join(FORMATS)} (default: from $SHELL)",
    "unset": "print the commands that unset the variables instead",
    "transport": "tcp (default: TLS through the NAT forward) or ssh (ssh://docker-machine-NAME, "
    "see env.ssh-config)",
    **MINIKUBE_HELP,
}


@task(name="print", help=ENV_HELP, auto_shortflags=False)
def print_(
    c,
    machine=None,
    storage_path=None,
    port=0,
    shell=None,
    unset=False,
    transport="tcp",
    minikube=False,
    profile="",
):
    """Print DOCKER_HOST=tcp://localhost:<port> & co. for eval (only the environment goes to stdout)."""
    settings = resolve(
        c.config.get(CONFIG_KEY, {}), machine=machine, storage_path=storage_path, port=port
    )
    print(render(settings, shell, unset, storage_path, transport), end="")


@stage()
def context(c, machine=None, storage_path=None, port=0, dry_run=False):
    """Create or update the docker context NAME for tcp://localhost:<port> (`docker --context NAME`)."""
    from ..stages.context import STAGE

    run_stage(c, STAGE, machine, storage_path, port, dry_run)


@stage()
def ssh_config(c, machine=None, storage_path=None, port=0, dry_run=False):
    """Write `Host docker-machine-NAME` into ~/.ssh/config, for DOCKER_HOST=ssh://docker-machine-NAME."""
    from ..stages.sshconfig import STAGE

    run_stage(c, STAGE, machine, storage_path, port, dry_run)
