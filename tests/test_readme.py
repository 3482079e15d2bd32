"""The README's examples work as written (issue 17): those that need no VM run here, in the real
shells and make, against a docker-machine store; tests/lab/test_readme.py runs the rest in the lab.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from lab import packages

from . import readme
from .support.user import user_world

SHELL_OF = {"bash": "/bin/bash", "fish": "/usr/bin/fish", "tcsh": "/usr/bin/tcsh"}
ARGV = {
    "bash": ["bash", "--norc", "--noprofile", "-c"],
    "zsh": ["zsh", "-f", "-c"],
    "sh": ["dash", "-c"],
    "fish": ["fish", "--no-config", "-c"],
    "tcsh": ["tcsh", "-f", "-c"],
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The README's machines, `default` and `dev`, in a store; the command on PATH."""
    return user_world(tmp_path_factory.mktemp("readme"), "default", "dev")


def run_in(shell: str, script: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    argv = ARGV[shell]
    if shutil.which(argv[0]) is None:
        pytest.skip(f"{argv[0]} is not installed")
    return subprocess.run(
        [*argv, script], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def eval_line(shells: str) -> str:
    """The eval block's line for `shells` (its comment names them)."""
    return next(
        readme.command(line)
        for line in readme.lines("eval")
        if line.split("# ")[-1].startswith(shells)
    )


@pytest.mark.parametrize(
    "shell, line", [("bash", "bash"), ("zsh", "bash"), ("sh", "bash"), ("fish", "fish"), ("tcsh", "tcsh")]
)  # fmt: skip
def test_each_shells_eval_line_sets_the_machines_environment(world, shell, line):
    store, env = world
    env = {**env, "SHELL": SHELL_OF.get(shell, "/bin/" + shell)}
    status = "$status" if shell in ("fish", "tcsh") else "$?"
    done = run_in(shell, f"{eval_line(line)}\necho {status} $DOCKER_HOST $DOCKER_CERT_PATH", env)
    assert done.stdout.split() == ["0", "tcp://localhost:2376", str(store / "machines" / "dev")]
    assert done.stderr == ""


def test_the_fish_source_form_too(world):
    _, env = world
    done = run_in(
        "fish",
        "docker-vpn-helper env.print --machine dev | source; echo $DOCKER_MACHINE_NAME",
        {**env, "SHELL": "/usr/bin/fish"},
    )
    assert done.stdout == "dev\n"


@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_the_script_stops_when_fix_fails(world, tmp_path, shell):
    """The script block as written, where fix fails (machine dev has no VM here: VBoxManage is
    not on PATH): the script stops at the eval, `docker ps` never runs."""
    _, env = world
    script = tmp_path / "script.sh"
    script.write_text(readme.block("script") + "\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text("#!/bin/sh\necho docker ran\n")
    (bin_dir / "docker").chmod(0o755)
    env = {**env, "PATH": f"{bin_dir}:{env['PATH']}", "SHELL": "/bin/sh"}
    done = subprocess.run(
        [ARGV[shell][0], str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert "docker ran" not in done.stdout
    assert done.stderr.startswith("docker-vpn-helper: ")  # --quiet: the failure only
    assert "=====" not in done.stderr


def test_the_makefile_stops_when_fix_fails(world, tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    _, env = world
    (tmp_path / "Makefile").write_text(readme.block("make") + "\n")
    done = subprocess.run(
        ["make", "-C", str(tmp_path), "ps"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert not (tmp_path / ".docker-env.mk").exists()
    assert "docker-vpn-helper: " in done.stderr


def test_the_apt_line_is_the_labs_list():
    (line,) = readme.lines("apt")
    assert line == packages.apt_line()


def test_the_lab_block_is_what_the_lab_tests_run():
    venv, demo = (readme.command(line) for line in readme.lines("lab"))
    assert venv.startswith("python3 -m venv .venv && .venv/bin/pip install -r requirements.txt")
    assert demo == "sudo .venv/bin/invoke lab.demo"


@pytest.mark.parametrize(
    "argv",
    [
        ["help", "fix"],
        ["--help", "fix"],
        ["--list"],
        ["--print-completion-script", "bash"],
        ["--quiet", "env.print", "--machine", "dev"],
        ["env.print", "--machine", "dev", "--quiet"],
    ],
)
def test_the_commands_the_readme_names_run(world, argv):
    _, env = world
    done = subprocess.run(
        ["docker-vpn-helper", *argv], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout


def test_setup_block_shape():
    """The setup block's commands (run in the lab: tests/lab/test_readme.py)."""
    assert readme.lines("setup")[1:] == [
        'eval "$(docker-vpn-helper fix --machine default)"',
        "docker version",
    ]


def test_every_marked_block_is_tested():
    tested = {"setup", "eval", "script", "apt", "lab", "make", "ssh"}
    assert set(readme.blocks()) == tested
    assert Path(readme.README).exists()
