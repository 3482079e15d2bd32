"""Where the lab's tasks are: in a clone's `invoke` (tasks.py) beside the tool's, and in
`python -m lab`; never in the installed `docker-vpn-helper` (issue 14). No root needed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

CLONE = Path(__file__).resolve().parents[2]
LAB = ("up", "down", "vpn-on", "vpn-off", "status", "shell", "exec", "image", "demo")


def listed(argv: list[str], cwd: Path) -> set[str]:
    done = subprocess.run(
        [sys.executable, *argv, "--list"], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return set(re.findall(r"^  (\S+)", done.stdout, re.MULTILINE))


def test_a_clone_lists_the_tools_tasks_and_the_lab(tmp_path):
    tool = listed(["-m", "docker_vpn_helper"], cwd=tmp_path)
    clone = listed(["-m", "invoke"], cwd=CLONE)
    assert {"fix", "doctor", "cert.issue", "env.print"} <= tool
    assert not [name for name in tool if name.startswith("lab")]
    assert clone == tool | {f"lab.{name}" for name in LAB}


def test_python_m_lab_lists_the_lab_tasks():
    assert listed(["-m", "lab"], cwd=CLONE) == set(LAB)
