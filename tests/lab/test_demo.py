"""The README's "try it without a Mac": `invoke lab.demo` in the clone tells the seed's story,
in a lab of its own, and cleans up; it never takes down a lab someone uses (issue 21, item 10)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lab import Lab
from lab.paths import DEMO_DIR

from .helpers import CLONE, lab_task

pytestmark = pytest.mark.lab


def test_the_demo_tells_the_story_in_its_own_lab_and_leaves_nothing(lab: Lab):
    # As the README runs it: no DVH_LAB_DIR nor DVH_LAB_NS. The session's lab, up beside it,
    # plays the one a user brought up with lab.up: it must come through untouched.
    daemon = lab.daemon_pid("default")
    env = {k: v for k, v in os.environ.items() if k not in ("DVH_LAB_DIR", "DVH_LAB_NS")}
    done = subprocess.run(
        [sys.executable, "-m", "invoke", "lab.demo"],  # the README's `.venv/bin/invoke lab.demo`
        cwd=CLONE,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    story = done.stderr
    assert done.returncode == 0, story
    assert "(no answer after 8 s: timed out)" in story  # the host-only address behind the VPN
    assert "x509: certificate is not valid for any names, but wanted to match localhost" in story
    assert story.count(", Server 20.10") >= 3  # before the VPN, after fix, after the second fix
    assert story.count("Done (already fixed: nothing changed)") == 1  # the second round
    assert story.rstrip().endswith("== done")
    assert not Path(DEMO_DIR).exists()  # its folder, key cache included, went with it
    demo_ns = Path(DEMO_DIR).name
    assert not [n for n in os.listdir("/run/netns") if n.startswith(f"{demo_ns}-")]
    assert lab.status()["up"] and lab.daemon_pid("default") == daemon


def test_the_demo_refuses_a_lab_that_is_up(lab: Lab):
    daemon = lab.daemon_pid("default")
    done = lab_task(lab, "lab.demo")  # DVH_LAB_DIR and DVH_LAB_NS name the session's lab
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"docker-vpn-helper: lab.demo: a lab is up in {lab.paths.root} (namespace {lab.host_env()['DVH_LAB_NS']}"
        "-host), which the demo would take down: run the demo without DVH_LAB_DIR and DVH_LAB_NS"
        " (it has a lab of its own), or take that lab down first with lab.down"
    )
    assert lab.status()["up"] and lab.daemon_pid("default") == daemon


def test_a_demo_never_takes_down_a_demo_that_runs(lab: Lab):  # `lab`: skip/fail as the others
    # A demo running in the demo's own lab (its PID in the folder, a live process whose command
    # line says demo): a second one refuses instead of taking that lab down first.
    folder = Path(DEMO_DIR)
    if folder.exists():
        pytest.skip(f"{DEMO_DIR} is in use")
    running = subprocess.Popen(["bash", "-c", "exec -a demo sleep 60"])
    try:
        folder.mkdir()
        (folder / "demo.pid").write_text(f"{running.pid}\n")
        env = {k: v for k, v in os.environ.items() if k not in ("DVH_LAB_DIR", "DVH_LAB_NS")}
        done = subprocess.run(
            [sys.executable, "-m", "invoke", "lab.demo"],
            cwd=CLONE,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 1
        assert done.stderr.strip() == (
            f"docker-vpn-helper: lab.demo: another demo is running in {DEMO_DIR} "
            f"(pid {running.pid}): let it finish"
        )
        assert (folder / "demo.pid").exists()
    finally:
        running.kill()
        running.wait()
        shutil.rmtree(folder, ignore_errors=True)
