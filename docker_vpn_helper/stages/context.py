"""env.context: a docker context for the machine, so that no shell has to export DOCKER_HOST & co.

It points at the same daemon URL and client certificates that env.print exports, and docker
keeps its own copies of the certificates, so `docker --context NAME` works from any shell.
"""

from __future__ import annotations

from pathlib import Path

from ..adapters import dockercli, host
from ..core import dockerctx
from ..core.plans import Plan
from ..errors import HelperError
from ..report import say
from ..session import Session
from . import Stage
from .env import variables


def wanted_endpoint(s: Session) -> dockerctx.Endpoint:
    env = dict(variables(s.settings))
    return dockerctx.Endpoint(
        host=env["DOCKER_HOST"],
        cert_dir=Path(env["DOCKER_CERT_PATH"]),
        description=f"docker-machine {s.name} through {env['DOCKER_HOST']} (docker-vpn-helper)",
    )


def docker(s: Session, *args: str) -> host.Output:
    return dockercli.context_command(s.c, *args, timeout=s.settings.command_timeout)


def inspect(s: Session, name: str) -> dockerctx.Context | None:
    return dockercli.inspect_context(s.c, name, s.settings.command_timeout)


def plan(s: Session) -> Plan:
    name = dockerctx.context_name(s.name)
    wanted = wanted_endpoint(s)
    try:
        spec = wanted.spec()
    except ValueError as exc:
        raise HelperError(f"cannot create docker context {name!r}: {exc}") from None
    current = inspect(s, name)
    seen = f"docker context {name!r} already points at {wanted.host}"
    if current is None:
        action, why = "create", "it does not exist"
    else:
        found = dockerctx.differences(current, wanted)
        if not found:
            return Plan("context", seen)
        action, why = "update", f"it has {', '.join(found)}"
    line = f"{action} docker context {name!r} for {wanted.host} ({why})"
    return Plan("context", seen, (line,), detail=(action, name, wanted, spec, why))


def apply(s: Session, plan: Plan) -> None:
    action, name, wanted, spec, why = plan.detail  # type: ignore[misc]
    output = docker(s, action, name, "--description", wanted.description, "--docker", spec)
    if not output.ok:
        raise HelperError(f"docker context {action} {name} failed: {output.last_line()}")
    say(f"{action}d docker context {name!r} for {wanted.host} ({why}); use it with "
        f"`docker --context {name} ...` or `docker context use {name}`")  # fmt: skip


STAGE = Stage("env.context", "Writing the docker context", plan, apply)
