"""Which lab a command, the tests and the demo use by default (issue 21, item 10): namespaces are
named after the lab's folder unless DVH_LAB_NS names them, so two folders never share one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CLONE = Path(__file__).resolve().parents[1]
SHOW = "from lab.paths import HOST_NS, default_dir; print(default_dir(), HOST_NS)"


def lab_paths(**env: str) -> str:
    """What lab.paths decides in a fresh process with only `env` of the DVH_LAB_* variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DVH_LAB_")}
    done = subprocess.run(
        [sys.executable, "-c", SHOW],
        cwd=CLONE,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, "/run/dvhlab dvhlab-host"),  # lab.up, lab.shell, ... as the README gives them
        ({"DVH_LAB_DIR": "/run/dvhlab-demo"}, "/run/dvhlab-demo dvhlab-demo-host"),
        ({"DVH_LAB_DIR": "/run/mine"}, "/run/mine mine-host"),
        ({"DVH_LAB_DIR": "/run/mine", "DVH_LAB_NS": "m1"}, "/run/mine m1-host"),
    ],
)
def test_namespaces_follow_the_folder_unless_named(env, expected):
    assert lab_paths(**env) == expected
