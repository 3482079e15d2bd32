"""Progress for people, on stderr: stdout belongs to what `env.print` prints for `eval`."""

from __future__ import annotations

import sys


def banner(machine: str, text: str) -> None:
    print(f"=====[{machine}] {text}=====", file=sys.stderr, flush=True)


def say(text: str) -> None:
    print(f"  {text}", file=sys.stderr, flush=True)
