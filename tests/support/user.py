"""A user's side of the command: `docker-vpn-helper` on PATH as installed, a docker-machine store,
and the environment a shell would have (tests that run the command in real shells)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from . import store as dm


def command_on_path(folder: Path) -> Path:
    """A `docker-vpn-helper` as installed: this interpreter running the package."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "docker-vpn-helper"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m docker_vpn_helper "$@"\n')
    script.chmod(0o755)
    return folder


def user_world(root: Path, *machines: str) -> tuple[Path, dict[str, str]]:
    """A store under `root` with `machines` (.100, .101, ...) and the environment of a user whose
    PATH has the command and whose MACHINE_STORAGE_PATH is that store."""
    store = root / "store"
    dm.create_certs(store)
    for index, name in enumerate(machines):
        dm.create_machine(store, name, f"192.168.99.{100 + index}", 50157 + index)
    bin_dir = command_on_path(root / "bin")
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HOME": str(root),
        "MACHINE_STORAGE_PATH": str(store),
        "LANG": "C.UTF-8",
    }
    return store, env
