"""`--list` as a new user reads it: every task's line a whole sentence (issue 21, item 7).

invoke lists the first line of a task's docstring, wrapped to the terminal's width; a first line
that continues on the next docstring line is cut mid-sentence there.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

CLONE = Path(__file__).resolve().parents[1]
# The two doors that list tasks: the installed command, and invoke from the clone (+ lab.*).
DOORS = {
    "docker-vpn-helper --list": [sys.executable, "-m", "docker_vpn_helper", "--list"],
    "invoke --list": [sys.executable, "-m", "invoke", "--list"],
}
# invoke wraps the help to the width its terminal leaves after the names: 80 columns when
# stdout is a pipe, as here, which leaves 58 beside the longest name (dns.host-resolver).
# Two such lines are the most a task's line may take.
MOST_LINES = 2


def listing(argv: list[str]) -> dict[str, list[str]]:
    """Each listed task's help as its wrapped lines."""
    done = subprocess.run(
        argv,
        cwd=CLONE,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    tasks: dict[str, list[str]] = {}
    name = ""
    for line in done.stdout.splitlines()[1:]:
        row = re.fullmatch(r"  (\S+)\s+(.*)", line)
        if row:
            name = row.group(1)
            tasks[name] = [row.group(2)]
        elif line.strip() and name:
            tasks[name].append(line.strip())
    return tasks


@pytest.mark.parametrize("door", DOORS)
def test_every_listed_task_reads_as_a_whole_sentence(door: str):
    tasks = listing(DOORS[door])
    assert "fix" in tasks and "ports.watch" in tasks
    if door == "invoke --list":
        assert "lab.demo" in tasks
    cut = {name: " ".join(lines) for name, lines in tasks.items() if not lines[-1].endswith(".")}
    assert cut == {}
    long = {name: lines for name, lines in tasks.items() if len(lines) > MOST_LINES}
    assert long == {}
