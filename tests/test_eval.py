"""A failed `fix` / `env.print` makes `eval "$(...)"` fail too, in the real shells (issue 17, 1).

The command runs as users run it (a `docker-vpn-helper` on PATH, in a subprocess), and each shell
evaluates its output the way the README says; the shells are the ones CI installs.
"""

from __future__ import annotations

import os
import pty
import shutil
import subprocess

import pytest

from .support.user import user_world

SHELLS = {
    "bash": (["bash", "--norc", "--noprofile", "-c"], 'eval "$({cmd})"', "$?"),
    "zsh": (["zsh", "-f", "-c"], 'eval "$({cmd})"', "$?"),
    "sh": (["dash", "-c"], 'eval "$({cmd})"', "$?"),
    "fish": (["fish", "--no-config", "-c"], "eval ({cmd})", "$status"),
    "tcsh": (["tcsh", "-f", "-c"], 'eval "`{cmd}`"', "$status"),
}
# fish and tcsh also source what they read from a pipe / a file.
PIPED = {"fish": "{cmd} | source"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A store with one machine, `default`, and a PATH with the command on it."""
    return user_world(tmp_path_factory.mktemp("eval"), "default")


def shell(name: str, script: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    argv, _, _ = SHELLS[name]
    if shutil.which(argv[0]) is None:
        pytest.skip(f"{argv[0]} is not installed")
    return subprocess.run(
        [*argv, script], env=env, capture_output=True, text=True, timeout=120, check=False
    )


FAILING = {
    "env.print of a misspelled machine": "docker-vpn-helper env.print --machine lba --shell {fmt}",
    "fix of a misspelled machine": "docker-vpn-helper fix --machine lba --shell {fmt}",
    "fix with an unknown flag": "docker-vpn-helper fix --machin default --shell {fmt}",
}


@pytest.mark.parametrize("case", sorted(FAILING))
@pytest.mark.parametrize("name", sorted(SHELLS))
def test_a_failed_run_makes_eval_fail_and_prints_nothing_else(world, name, case):
    _, env = world
    _, idiom, status = SHELLS[name]
    cmd = FAILING[case].format(fmt=name)
    done = shell(name, f"{idiom.format(cmd=cmd)}; echo status={status}; echo still here", env)
    assert done.stdout.splitlines() == ["status=1", "still here"]
    # The one line docker-vpn-helper (or invoke's parser) prints, nothing from the shell (no
    # "command not found", no syntax error).
    errors = [line for line in done.stderr.splitlines() if not line.startswith("=====")]
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith(("docker-vpn-helper: ", "No idea what '--machin' is!"))


@pytest.mark.parametrize("name", sorted(PIPED))
def test_a_failed_run_makes_a_sourced_pipe_fail(world, name):
    _, env = world
    cmd = "docker-vpn-helper env.print --machine lba --shell fish"
    done = shell(name, f"{PIPED[name].format(cmd=cmd)}; echo status=$status", env)
    assert done.stdout.splitlines() == ["status=1"]


@pytest.mark.parametrize("name", sorted(SHELLS))
def test_a_successful_run_still_evals_to_status_0(world, name):
    store, env = world
    _, idiom, status = SHELLS[name]
    cmd = f"docker-vpn-helper env.print --machine default --shell {name}"
    done = shell(
        name, f"{idiom.format(cmd=cmd)}; echo status={status}; echo $DOCKER_CERT_PATH", env
    )
    assert done.stdout.splitlines() == ["status=0", str(store / "machines" / "default")]
    assert done.stderr == ""


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(
    "fmt, statement",
    [
        ("bash", "false\n"),
        ("tcsh", "false\n"),
        ("fish", "false\n"),
        ("make", "$(error docker-vpn-helper failed [its message is above]: no environment was printed)\n"),
        ("emacs", '(error "docker-vpn-helper failed (its message is above): no environment was printed")\n'),
        ("powershell", "Write-Error 'docker-vpn-helper failed (its message is above): no environment was printed'\n"),
        ("cmd", "cmd /c exit 1\n"),
        ("dotenv", ""),
    ],
)  # fmt: skip
def test_the_failure_statement_is_the_formats_own(world, fmt, statement):
    _, env = world
    done = run(["docker-vpn-helper", "env.print", "--machine", "lba", "--shell", fmt], env)
    assert done.returncode == 1 and done.stdout == statement


def test_a_failed_include_stops_make(world, tmp_path):
    """What the README's Makefile does with a failed fix: make stops, and says why."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    _, env = world
    (tmp_path / "Makefile").write_text(
        ".docker-env.mk:\n"
        "\tdocker-vpn-helper fix --machine lba --shell make > $@.tmp && mv $@.tmp $@\n"
        "include .docker-env.mk\n"
        "ps: .docker-env.mk\n"
        "\t@echo DOCKER_HOST=$$DOCKER_HOST\n"
    )
    done = run(["make", "-C", str(tmp_path), "ps"], env)
    assert done.returncode != 0 and "DOCKER_HOST" not in done.stdout
    assert "docker-vpn-helper: " in done.stderr and "lba" in done.stderr


def test_other_output_is_left_alone(world):
    """--help and --list print on stdout as always; a failure of another task prints no statement."""
    _, env = world
    helped = run(["docker-vpn-helper", "fix", "--help"], env)
    assert helped.returncode == 0 and helped.stdout.startswith("Usage: docker-vpn-helper")
    assert not helped.stdout.endswith("false\n")
    failed = run(["docker-vpn-helper", "restore", "--machine", "lba"], env)
    assert failed.returncode == 1 and failed.stdout == ""


def test_nothing_is_added_for_a_person_at_a_terminal(world):
    """At a terminal nobody evaluates stdout: the error line alone, no stray `false`."""
    _, env = world
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            ["docker-vpn-helper", "env.print", "--machine", "lba"],
            env=env,
            stdout=follower,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
        os.close(follower)
        follower = -1
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    assert done.returncode == 1 and "lba" in done.stderr
    assert seen == b""
