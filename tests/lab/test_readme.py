"""The README's examples that need a VM, run as written on the lab's Mac behind the fake VPN, and
the README's lab command from a fresh copy of the clone (issue 17; tests/test_readme.py runs the
others)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lab import Lab
from lab.paths import NS_PREFIX

from .. import readme
from .helpers import lab_task

pytestmark = pytest.mark.lab

CLONE = Path(__file__).resolve().parents[2]


def on_the_mac(lab: Lab, argv: list[str], cwd: Path | None = None, timeout: float = 300):
    env = {**lab.host_env(), "SHELL": "/bin/sh"}
    if cwd is not None:
        argv = ["sh", "-c", 'cd "$0" && exec "$@"', str(cwd), *argv]
    return lab.run_on_host(argv, env=env, timeout=timeout)


def test_setup_block_repairs_default_behind_the_vpn(lab: Lab):
    lab.vpn_on("drop")
    try:
        script = "\n".join(readme.lines("setup")[1:])  # the first line installs the tool
        done = on_the_mac(lab, ["sh", "-c", f"set -e\n{script}"])
    finally:
        lab.vpn_off()
    assert done.returncode == 0, done.stderr
    assert "Server:" in done.stdout and "Version:" in done.stdout


@pytest.fixture(scope="module")
def dev(lab: Lab):
    """The README's other machine."""
    lab.vpn_off()
    lab.add_machine("dev")
    lab.vpn_on("drop")
    yield "dev"
    lab.vpn_off()
    lab.remove_machine("dev")


def test_script_block_works_behind_the_vpn(lab: Lab, dev: str, tmp_path):
    script = tmp_path / "script.sh"
    script.write_text(readme.block("script") + "\n")
    done = on_the_mac(lab, ["sh", str(script)])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("CONTAINER ID")
    assert done.stderr == ""  # --quiet


def test_makefile_block_works_behind_the_vpn(lab: Lab, dev: str, tmp_path):
    (tmp_path / "Makefile").write_text(readme.block("make") + "\n")
    done = on_the_mac(lab, ["make", "-s", "ps"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "CONTAINER ID" in done.stdout
    assert "DOCKER_HOST := tcp://localhost:" in (tmp_path / ".docker-env.mk").read_text()


def test_ssh_block_works_in_the_lab_shell(lab: Lab, dev: str):
    # OpenSSH reads ~/.ssh/config in the passwd entry's home, not the lab's HOME: lab.shell's
    # ssh is given the lab's (it was "Could not resolve hostname docker-machine-dev").
    done = lab_task(lab, "lab.shell", stdin=f"set -e\n{readme.block('ssh')}\n", timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("CONTAINER ID")


def copy_of_the_clone(to: Path) -> Path:
    """What a fresh clone of this one holds: its tracked files and the new ones it would commit
    (git ls-files), nothing built or installed."""
    listed = subprocess.run(
        ["git", "-C", str(CLONE), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = CLONE / name
        if source.is_file():
            (to / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, to / name)
    return to


@pytest.mark.skipif(shutil.which("git") is None or shutil.which("sudo") is None, reason="git, sudo")
def test_the_lab_block_from_a_fresh_clone(lab: Lab, tmp_path):
    clone = copy_of_the_clone(tmp_path / "clone")
    venv, demo = (readme.command(line) for line in readme.lines("lab"))
    made = subprocess.run(
        ["sh", "-c", venv], cwd=clone, capture_output=True, text=True, timeout=600
    )
    assert made.returncode == 0, made.stderr
    # The README's command, with this lab's folder and namespace names (as docs/LAB.md moves a
    # lab: on sudo's command line, since sudo drops the environment), beside the session's lab.
    words = demo.split()
    assert words[0] == "sudo"
    moved = [
        "sudo",
        f"DVH_LAB_DIR={lab.paths.root}-readme",
        f"DVH_LAB_NS={NS_PREFIX}-rd",
        *words[1:],
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DVH_", "VIRTUAL_ENV"))}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if p != str(Path(sys.executable).parent)
    )
    done = subprocess.run(moved, cwd=clone, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stderr.rstrip().endswith("== done")
    assert "$ docker-vpn-helper fix   # machine 'default'" in done.stderr
    assert not [n for n in os.listdir("/run/netns") if n.startswith(f"{NS_PREFIX}-rd-")]
