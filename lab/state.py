"""The lab's persistent state (the VirtualBox registry of the stand-ins): one JSON file, locked, written atomically.

Several processes touch it at once (the Lab object, VBoxManage and docker-machine stand-ins run by the
tool), so every read-modify-write happens under an exclusive flock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .paths import LabPaths


def _empty() -> dict[str, Any]:
    return {"version": 1, "vpn": None, "vms": {}}


def load(paths: LabPaths) -> dict[str, Any]:
    """The current state, or an empty one when the lab was never brought up."""
    try:
        return json.loads(paths.state.read_text())
    except FileNotFoundError:
        return _empty()


def _write(path: Path, data: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix=".state.")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def locked(paths: LabPaths) -> Iterator[dict[str, Any]]:
    """Yield the state for changing; it is written back (atomically) when the block ends without error."""
    paths.root.mkdir(parents=True, exist_ok=True)
    with open(paths.lock, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = load(paths)
        yield data
        _write(paths.state, data)
