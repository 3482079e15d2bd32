"""What one run cost, for benchmarks: set DVH_STATS=<file> and the run writes it as JSON at exit."""

from __future__ import annotations

import atexit
import json
import os
import time
from collections import Counter

spawned: Counter[str] = Counter()  # local processes by program name (VBoxManage, sudo, ...)
counts: Counter[str] = Counter()  # ssh_connections, daemon_restarts, ...
stage_seconds: dict[str, float] = {}
_current: list = []  # [(label, start)] of the stage running now
# time.monotonic() when the first stage began: a benchmark reading the same clock (Linux's
# CLOCK_MONOTONIC is system-wide) tells start-up from the stages, and the stages from the exit.
_first_stage_at: list[float] = []


def stage(label: str) -> None:
    """A new stage begins: the previous one ends now."""
    now = time.monotonic()
    if _current:
        done, start = _current.pop()
        stage_seconds[done] = stage_seconds.get(done, 0.0) + now - start
    else:
        _first_stage_at[:] = [now]
    _current.append((label, now))


@atexit.register
def _write() -> None:
    path = os.environ.get("DVH_STATS")
    if not path:
        return
    stage("")
    report = {
        "spawned": dict(spawned),
        "counts": dict(counts),
        "stage_seconds": stage_seconds,
        "first_stage_at": _first_stage_at[0],
        "written_at": time.monotonic(),
    }
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2)
