"""lab.shell and lab.exec: commands on the lab's Mac as the lab runs them (issue 17, item 7)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab import Lab
from lab.paths import NS_PREFIX

pytestmark = pytest.mark.lab

CLONE = Path(__file__).resolve().parents[2]


def invoke(lab: Lab, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """`invoke ARGV` in the clone, for this lab (its folder and namespace)."""
    env = {**os.environ, "DVH_LAB_DIR": str(lab.paths.root), "DVH_LAB_NS": NS_PREFIX}
    return subprocess.run(
        [sys.executable, "-m", "invoke", *argv],
        cwd=CLONE,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_exec_runs_a_command_on_the_mac_with_the_labs_environment(lab: Lab):
    script = (
        'echo "$MACHINE_STORAGE_PATH|$HOME|$DVH_LAB_DIR|$DVH_LAB_NS"; '
        "ip -o -4 addr show vboxnet0 | grep -c 192.168.99.1/24; "
        "command -v VBoxManage; command -v docker-vpn-helper; exit 7"
    )
    done = invoke(lab, "lab.exec", "--", "sh", "-c", script)
    assert done.returncode == 7, done.stderr
    lines = done.stdout.splitlines()
    root = lab.paths.root
    assert lines[0] == f"{root}/store|{root}/home|{root}|{NS_PREFIX}"
    assert lines[1] == "1"  # the Mac's host-only bridge: we are in its namespace
    assert lines[2] == f"{root}/bin/VBoxManage"
    assert lines[3] == str(Path(sys.executable).parent / "docker-vpn-helper")


def test_exec_keeps_the_words_after_the_double_dash_as_typed(lab: Lab):
    done = invoke(lab, "lab.exec", "--", "printf", "[%s]", "two words", "$HOME", "")
    assert done.returncode == 0 and done.stdout == "[two words][$HOME][]"


def test_a_plain_fix_works_on_the_mac(lab: Lab):
    done = invoke(lab, "lab.exec", "--", "docker-vpn-helper", "env.print", "--shell", "sh")
    assert done.returncode == 0, done.stderr
    assert f'export DOCKER_CERT_PATH="{lab.paths.store}/machines/default"' in done.stdout


def test_shell_reads_commands_on_the_mac(lab: Lab):
    done = invoke(lab, "lab.shell", stdin='echo "on the Mac: $MACHINE_STORAGE_PATH"\nexit 3\n')
    assert done.returncode == 3
    assert f"on the Mac: {lab.paths.store}" in done.stdout
