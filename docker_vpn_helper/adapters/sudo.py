"""Commands as root: passwordless sudo, invoke's configured password, or a terminal prompt."""

from __future__ import annotations

from collections.abc import Sequence

from invoke import Context
from invoke.exceptions import AuthFailure

from ..core.commands import Command
from ..errors import HelperError
from . import host


def as_root(
    argv: Sequence[str], what: str = "", timeout: float = 60.0, remedy: str = ""
) -> Command:
    """The command that runs `argv` as root on the host (`sudo` then argv)."""
    return Command(tuple(argv), "sudo", what or argv[0], timeout, remedy=remedy)


def sudo(c: Context, command: Command) -> host.Output:
    """Run `command` (built by `as_root`) as root. A refusal to authenticate is an error; the
    command's own failure is returned for the caller to judge."""
    passwordless = c.run("sudo -n true", hide=True, warn=True, in_stream=False)
    if passwordless.ok:
        result = c.run(f"sudo -n {command.shell()}", hide=True, warn=True, in_stream=False)
    else:
        if not c.config.sudo.password and not host.interactive():
            raise HelperError(
                "sudo needs a password and there is no terminal to ask for it: run this from a "
                "terminal, or provide it as INVOKE_SUDO_PASSWORD / sudo.password in invoke.yaml"
            )
        try:
            result = c.sudo(command.shell(), hide=True, warn=True)
        except AuthFailure:
            raise HelperError("sudo did not accept the password") from None
    return host.Output(result.stdout, result.stderr, result.exited)
