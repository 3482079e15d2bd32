"""The signals that end a run: Ctrl-C (SIGINT), a closed terminal (SIGHUP) and SIGTERM.

Ctrl-C raises KeyboardInterrupt, as Python does; SIGHUP and SIGTERM, which would otherwise end
the process on the spot, raise `Interrupted` while a run executes (`handled()`), and the
MachineExecutor turns either into one line and exit 128 + the signal's number. `Interrupted` is
not a KeyboardInterrupt on purpose: invoke's runner swallows those while a command runs (it only
forwards them), and a SIGTERM must end the run.

Where stopping halfway would leave the daemon down (its restart, a rollback), the stage runs
inside `deferred()`: the three signals are only noted there, the stage finishes or rolls back,
says which, and the noted signal then ends the run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

ENDING = (signal.SIGINT, signal.SIGHUP, signal.SIGTERM)


class Interrupted(BaseException):
    """SIGHUP or SIGTERM arrived (or a deferred Ctrl-C is delivered)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal_name(self.signum)

    @property
    def code(self) -> int:
        """The exit status a shell reports for a process this signal ended."""
        return 128 + self.signum


def signal_name(signum: int) -> str:
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


class Pending:
    """What arrived during a `deferred()` block; `take()` it to handle it yourself."""

    def __init__(self) -> None:
        self.signum: int | None = None

    @property
    def name(self) -> str:
        return signal_name(self.signum) if self.signum is not None else ""

    @property
    def code(self) -> int:
        return 128 + (self.signum or 0)

    def take(self) -> int | None:
        """The noted signal (None: none), which then no longer ends the run at the block's end."""
        signum, self.signum = self.signum, None
        return signum


_pending: Pending | None = None  # the outermost deferred() block's, while one runs


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    if signum == signal.SIGHUP:
        _leave_the_terminal()
    if _pending is not None:
        if _pending.signum is None:
            _pending.signum = signum
        return
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Interrupted(signum)


def _leave_the_terminal() -> None:
    """After a hang-up, writing to the terminal fails (EIO): progress goes nowhere instead, so
    that a rollback is not cut short by its own messages."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            if os.isatty(stream.fileno()):
                stream.flush()
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, stream.fileno())
                os.close(devnull)


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """While the block runs, SIGHUP and SIGTERM raise Interrupted (main thread only)."""
    if not _main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _on_signal) for signum in ENDING[1:]}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def deferred() -> Iterator[Pending]:
    """Ctrl-C, SIGHUP and SIGTERM are noted, not raised, until the block ends; then the first
    one noted (unless the block took it) ends the run. Nested blocks share the outermost's."""
    global _pending
    if _pending is not None or not _main_thread():
        yield _pending or Pending()
        return
    pending = _pending = Pending()
    previous: dict[int, Any] = {signum: signal.signal(signum, _on_signal) for signum in ENDING}
    try:
        yield pending
    finally:
        _pending = None
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    signum = pending.take()
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    if signum is not None:
        raise Interrupted(signum)
