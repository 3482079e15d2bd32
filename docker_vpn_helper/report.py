"""Progress for people, on stderr: stdout belongs to what `env.print` prints for `eval`.

`--quiet` (scripts) silences both: a failure still says what is wrong, as invoke prints it.
"""

from __future__ import annotations

import sys

_quiet = False


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet


def banner(machine: str, text: str) -> None:
    if not _quiet:
        print(f"=====[{machine}] {text}=====", file=sys.stderr, flush=True)


def say(text: str) -> None:
    if not _quiet:
        print(f"  {text}", file=sys.stderr, flush=True)
