"""The one error type a user should ever see: a single line, no traceback."""

from __future__ import annotations

PROGRAM = "docker-vpn-helper"


class HelperError(Exception):
    """A failure the user can act on: `message` is the one line printed, `code` the exit status.

    Not invoke's Exit, so the core and `env.print`'s quick path run without importing invoke;
    the MachineExecutor turns it into an Exit for invoke to print.
    """

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.reason = message
        self.code = code

    @property
    def message(self) -> str:
        return f"{PROGRAM}: {self.reason}"
