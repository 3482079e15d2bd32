"""The one error type a user should ever see: a single line, no traceback."""

from __future__ import annotations

from invoke.exceptions import Exit

PROGRAM = "docker-vpn-helper"


class HelperError(Exit):
    """A failure the user can act on; invoke prints the message and exits with `code`."""

    def __init__(self, message: str, code: int = 1) -> None:
        self.reason = message
        super().__init__(f"{PROGRAM}: {message}", code)
