"""The docker CLI's contexts: `docker context inspect/create/update`, for env.context and doctor."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core import dockerctx
from ..core.commands import Command
from ..errors import HelperError
from . import host

if TYPE_CHECKING:
    from invoke import Context

DOCKER = "docker"


def context_command(c: Context, *args: str, timeout: float) -> host.Output:
    return host.run(c, [DOCKER, "context", *args], timeout=timeout, what="docker context")


def context_change(args: tuple[str, ...], timeout: float) -> Command:
    """`docker context create|update ...`: run by Session.execute like any host command."""
    return Command((DOCKER, "context", *args), what=f"docker context {args[0]} {args[1]}",
                   timeout=timeout)  # fmt: skip


def inspect_context(c: Context, name: str | None, timeout: float) -> dockerctx.Context | None:
    """Context `name` as docker describes it (None: there is no such context); without a name,
    the context docker uses now (`docker context use`, else its built-in `default`)."""
    output = context_command(c, "inspect", *([name] if name else []), timeout=timeout)
    if not output.ok and "not found" in output.stderr:
        return None
    what = f"docker context inspect {name}" if name else "docker context inspect"
    if not output.ok:
        raise HelperError(f"{what} failed: {output.last_line()}")
    try:
        return dockerctx.parse_inspect(output.stdout)
    except ValueError as exc:
        raise HelperError(str(exc)) from None
