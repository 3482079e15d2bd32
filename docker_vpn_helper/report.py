"""Progress for people, on stderr: stdout belongs to what `env.print` prints for `eval`.

`--quiet` (scripts) silences both: a failure still says what is wrong, as invoke prints it.
"""

from __future__ import annotations

import contextlib
import sys

_quiet = False


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet


def banner(machine: str, text: str) -> None:
    if not _quiet:
        _write(f"=====[{machine}] {text}=====")


def say(text: str) -> None:
    if not _quiet:
        _write(f"  {text}")


def _write(line: str) -> None:
    """A line on stderr; a terminal that is gone (hung up, closed pipe) must not stop the run
    halfway, e.g. in the middle of a rollback."""
    with contextlib.suppress(OSError):
        print(line, file=sys.stderr, flush=True)
