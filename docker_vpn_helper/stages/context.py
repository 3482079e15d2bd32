"""env.context: a docker context for the machine, so that no shell has to export DOCKER_HOST & co.

It points at the same daemon URL and client certificates that env.print exports, and docker
keeps its own copies of the certificates, so `docker --context NAME` works from any shell.
"""

from __future__ import annotations

from pathlib import Path

from ..adapters import dockercli
from ..core import dockerctx
from ..core.plans.context import ContextPlan
from ..environment import variables
from ..errors import HelperError
from ..report import say
from ..session import Session
from . import Stage


def wanted_endpoint(s: Session) -> dockerctx.Endpoint:
    env = dict(variables(s.settings))
    return dockerctx.Endpoint(
        host=env["DOCKER_HOST"],
        cert_dir=Path(env["DOCKER_CERT_PATH"]),
        description=f"docker-machine {s.name} through {env['DOCKER_HOST']} (docker-vpn-helper)",
    )


def inspect(s: Session, name: str) -> dockerctx.Context | None:
    return dockercli.inspect_context(s.c, name, s.settings.command_timeout)


def plan(s: Session) -> ContextPlan:
    name = dockerctx.context_name(s.name)
    wanted = wanted_endpoint(s)
    try:
        spec = wanted.spec()
    except ValueError as exc:
        raise HelperError(f"cannot create docker context {name!r}: {exc}") from None
    current = inspect(s, name)
    if current is None:
        action, why = "create", "it does not exist"
    else:
        found = dockerctx.differences(current, wanted)
        if not found:
            return ContextPlan(name, wanted)
        action, why = "update", f"it has {', '.join(found)}"
    args = (action, name, "--description", wanted.description, "--docker", spec)
    command = dockercli.context_change(args, s.settings.command_timeout)
    return ContextPlan(name, wanted, why, command)


def apply(s: Session, plan: ContextPlan) -> None:
    assert plan.command is not None
    s.execute(plan.command)
    name, action = plan.name, plan.command.argv[2]
    say(f"{action}d docker context {name!r} for {plan.wanted.host} ({plan.why}); use it with "
        f"`docker --context {name} ...` or `docker context use {name}`")  # fmt: skip


STAGE = Stage("env.context", "Writing the docker context", plan, apply)
