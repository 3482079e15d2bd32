"""The one error type a user should ever see: a single line, no traceback.

`HelperError` is that line. Its subclasses say what kind of failure it is, for the callers
that act on the kind (ports.watch waits for a busy machine and for nothing else), and carry
the facts behind the line.
"""

from __future__ import annotations

from pathlib import Path

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


class MachineBusy(HelperError):
    """Another run holds the machine's lock. `holder` names it (`pid 4137`); `syncing`: it is a
    ports.watch sync, which holds the lock for a moment only (see Journal.lock)."""

    def __init__(self, machine: str, holder: str, syncing: bool = False) -> None:
        what = f"{holder}, a ports.watch sync" if syncing else holder
        super().__init__(
            f"another docker-vpn-helper run ({what}) is working on machine {machine!r}: "
            "wait for it to finish, then run the command again"
        )
        self.machine = machine
        self.holder = holder
        self.syncing = syncing


class PortTaken(HelperError):
    """A host port this run needs is held by someone else: `holder` says who."""

    def __init__(self, message: str, port: int, holder: str) -> None:
        super().__init__(message)
        self.port = port
        self.holder = holder


class ForeignCA(HelperError):
    """The VM's daemon checks clients against another CA than the store's (`ca_cert`)."""

    def __init__(self, message: str, ca_cert: Path) -> None:
        super().__init__(message)
        self.ca_cert = ca_cert


class StoreUnreadable(HelperError):
    """A file of the docker-machine store cannot be read or written as this user (`path`)."""

    def __init__(self, message: str, path: Path | None) -> None:
        super().__init__(message)
        self.path = path
