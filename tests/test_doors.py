"""Every way in keeps one promise (issue 21, items 1 and 2): `invoke` from a clone (tasks.py),
the installed `docker-vpn-helper` and `python -m docker_vpn_helper` give the same stdout, stderr
and exit status for the same command line, and a mistake on that line (a bad value, a typo, one
of invoke's core flags) is one line on stderr naming the fix, a non-zero exit and, for the
evaluated tasks, a statement that makes the `eval` fail; never a traceback.

Real subprocesses: the clone's `invoke` runs in this repository (its tasks.py, its invoke.yaml),
the console script and `python -m` run from the same folder. VirtualBox is a stand-in script on
PATH (`showvminfo` answers a running machine; every other command succeeds).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .stages.standins import showvminfo
from .stages.test_faults import fake_vboxmanage
from .support.user import user_world
from .test_eval import SHELLS, shell

CLONE = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DOORS = {
    "invoke": [str(BIN / "invoke")],
    "docker-vpn-helper": [str(BIN / "docker-vpn-helper")],
    "python -m": [sys.executable, "-m", "docker_vpn_helper"],
}
FAILS = "false\n"  # the failing statement (bash format, asked for or from $SHELL)
ENV = "export DOCKER_HOST="  # a printed environment

# argv, exit status, stdout (FAILS, ENV or ""), what stderr says ("" = nothing at all).
CASES = {
    "env.print": (["env.print", "--machine", "default"], 0, ENV, ""),
    "env.print of a typo": (["env.print", "--machine", "lba"], 1, FAILS, "no machine 'lba'"),
    "fix of a typo": (["fix", "--machine", "typo"], 1, FAILS, "no machine 'typo'"),
    "--quiet first": (["--quiet", "fix", "--machine", "typo"], 1, FAILS, "no machine 'typo'"),
    "--quiet last": (["fix", "--machine", "typo", "--quiet"], 1, FAILS, "no machine 'typo'"),
    "--quiet dry run": (["--quiet", "cert.issue", "--dry-run"], 0, "", ""),
    "--port abc": (["fix", "--port", "abc"], 1, FAILS, "--port takes a whole number, not 'abc'"),
    "--port=abc": (["env.print", "--port=abc"], 1, FAILS, "--port takes a whole number"),
    "--port 70000": (["fix", "--port", "70000"], 1, FAILS, "--port 70000 is not a port"),
    "--port -1": (["fix", "--port", "-1"], 1, FAILS, "--port -1 is not a port"),
    "env --port 70000": (["env.print", "--port", "70000"], 1, FAILS, "--port 70000 is not"),
    "--shell nonsense": (["fix", "--shell", "nonsense"], 1, FAILS, "--shell 'nonsense' is not"),
    "--machine ''": (["fix", "--machine", ""], 1, FAILS, "--machine '' names no machine"),
    "env --machine ''": (["env.print", "--machine", ""], 1, FAILS, "--machine '' names no"),
    "--storage-path ''": (["fix", "--storage-path", ""], 1, FAILS, "--storage-path '' names"),
    "fixx": (["fixx"], 1, FAILS, "no task 'fixx'; did you mean 'fix'?"),
    "env.prnt": (["env.prnt"], 1, FAILS, "did you mean 'env.print'?"),
    "doctr": (["doctr"], 1, "", "no task 'doctr'; did you mean 'doctor'?"),
    "--machin": (["fix", "--machin", "default"], 1, FAILS, "did you mean --machine?"),
}
# invoke's core flags, each with a task (`--help` lists them; -V, --help, --list and the
# completion flags print invoke's own output and are in CORE_OUTPUT).
CORE = {
    "-R/--dry is --dry-run": (["-R", "cert.issue", "--force"], 0, "", "would "),
    "--dry, long": (["--dry", "cert.issue"], 0, "", "would "),
    "-R without a dry run": (["-R", "doctor"], 1, "", "which doctor does not take"),
    "-e/--echo": (["-e", "fix"], 1, FAILS, "-e/--echo (run.echo) would print"),
    "--echo, env.print": (["--echo", "env.print"], 1, FAILS, "-e/--echo (run.echo)"),
    "-w/--warn-only": (["-w", "fix"], 1, FAILS, "-w/--warn-only (run.warn) changes nothing"),
    "-p/--pty": (["-p", "cert.issue"], 1, "", "-p/--pty (run.pty) would mix"),
    "--hide": (["--hide", "both", "fix"], 1, FAILS, "--hide (run.hide) changes nothing"),
    "-T": (["-T", "5", "fix"], 1, FAILS, "-T/--command-timeout (timeouts.command)"),
    "-T abc": (["-T", "abc", "fix"], 1, FAILS, "-T takes a whole number, not 'abc'"),
    "-f/--config": (["-f", "{config}", "env.print"], 0, ENV + '"tcp://localhost:2380"', ""),
    "--write-pyc": (["--write-pyc", "env.print"], 0, ENV, ""),
    "-D abc": (["-D", "abc", "--list"], 1, "", "-D takes a whole number, not 'abc'"),
    "-F nonsense": (["-F", "nonsense", "--list"], 1, "", "-F/--list-format takes flat"),
    "-d/--debug": (["-d", "env.print"], 0, ENV, None),  # None: invoke's debug log
    "--prompt-for-sudo-password": (["--prompt-for-sudo-password", "env.print"], 0, ENV, None),
}
# Where the clone's `invoke` cannot be the same: invoke parses its core flags before it reads
# tasks.py, so a value invoke itself cannot read ends in invoke's own traceback there.
INVOKE_BEFORE_TASKS = {"-T abc", "-D abc"}
# Not tasks: invoke's own output, on stdout, status 0, no traceback (the clone's `invoke`
# answers -V and the completion script as invoke itself).
CORE_OUTPUT = {
    "-V": ["-V"],
    "--help": ["--help"],
    "-h TASK": ["-h", "fix"],
    "-l": ["-l"],
    "-D 1 -l": ["-D", "1", "-l"],
    "-F json -l": ["-F", "json", "-l"],
    "--complete": ["--complete", "--", "docker-vpn-helper", "fi"],
    "--print-completion-script": ["--print-completion-script", "bash"],
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("doors")
    store, env = user_world(root, "default")
    fake_vboxmanage(root / "bin", showvminfo())  # beside the command, on PATH
    config = root / "conf.yaml"
    config.write_text("vpnhelper:\n  host_port: 2380\n")
    env = {**env, "SHELL": "/bin/bash"}
    return store, env, config


def through(door: str, argv: list[str], world, stdin: str = "") -> tuple[int, str, str]:
    """(exit status, stdout, stderr), the door's own name in its hints made the same."""
    _, env, config = world
    words = [word.replace("{config}", str(config)) for word in argv]
    done = subprocess.run(
        [*DOORS[door], *words],
        cwd=CLONE,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if door == "invoke":  # its hints say `invoke ...`, as the user called it
        name = re.compile(r"(?<![\w.-])invoke(?= )")
        ours = "docker-vpn-helper"
        return done.returncode, name.sub(ours, done.stdout), name.sub(ours, done.stderr)
    return done.returncode, done.stdout, done.stderr


def check(outcome: tuple[int, str, str], code: int, stdout: str, said: str | None) -> None:
    status, out, err = outcome
    assert "Traceback" not in err, err
    assert status == code, err
    if stdout == FAILS:
        assert out == FAILS, out
    elif stdout:
        assert out.startswith("export ") and stdout in out, out
    else:
        assert out == "", out
    if said == "":
        assert err == ""
    elif said is not None:
        lines = [line for line in err.splitlines() if not line.startswith(("=====", "  "))]
        if code:
            assert len(lines) == 1 and lines[0].startswith("docker-vpn-helper: "), err
        assert said in err, err


def every_door(argv: list[str], world, stdin: str = "") -> dict[str, tuple[int, str, str]]:
    return {door: through(door, argv, world, stdin) for door in DOORS}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_three_doors_give_the_same_answer(world, name):
    argv, code, stdout, said = CASES[name]
    seen = every_door(argv, world)
    for outcome in seen.values():
        check(outcome, code, stdout, said)
    assert seen["invoke"] == seen["docker-vpn-helper"] == seen["python -m"]


@pytest.mark.parametrize("name", sorted(CORE))
def test_every_core_flag_is_honoured_or_refused_in_one_line(world, name):
    argv, code, stdout, said = CORE[name]
    stdin = "secret\n" if "--prompt-for-sudo-password" in argv else ""
    seen = every_door(argv, world, stdin)
    doors = [door for door in DOORS if not (door == "invoke" and name in INVOKE_BEFORE_TASKS)]
    for door in doors:
        check(seen[door], code, stdout, said)
    if said is not None:
        assert len({seen[door] for door in doors}) == 1, seen
    else:  # stderr carries a log; stdout and the status are the same
        assert len({seen[door][:2] for door in doors}) == 1, seen


@pytest.mark.parametrize("name", sorted(CORE_OUTPUT))
def test_invokes_own_output_flags_print_and_succeed(world, name):
    for door in DOORS:
        status, out, err = through(door, CORE_OUTPUT[name], world)
        assert status == 0 and out and "Traceback" not in err, (door, err)


@pytest.mark.parametrize("door", sorted(DOORS))
@pytest.mark.parametrize("name", sorted(SHELLS))
def test_a_failed_fix_fails_the_eval_through_every_door(world, name, door):
    """`eval "$(invoke fix --machine typo)"` used to succeed with nothing set."""
    _, env, _ = world
    _, idiom, status = SHELLS[name]
    words = " ".join(f"'{word}'" for word in DOORS[door])
    cmd = f"cd '{CLONE}' && {words} fix --machine typo --shell {name}"
    if name == "fish":
        cmd = cmd.replace("&&", "; and")
    done = shell(name, f"{idiom.format(cmd=cmd)}; echo status={status}", env)
    assert done.stdout.splitlines() == ["status=1"], done.stderr
