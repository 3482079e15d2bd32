"""Local commands, and the one a `fix` starts before invoke loads."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time

import pytest
from invoke import Context, MockContext, Result

from docker_vpn_helper.adapters import host
from docker_vpn_helper.errors import HelperError


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


ANSWER = python("import sys; print('VMState=\"running\"'); sys.stderr.write('note'); sys.exit(3)")
SILENT = python("import time; time.sleep(60)")


@pytest.fixture(autouse=True)
def nothing_left_early():
    yield
    host.drop_early()


def test_the_first_command_takes_the_answer_started_early():
    host.start_early(ANSWER)
    output = host.run(MockContext(), ANSWER, timeout=30)  # a MockContext fails if asked
    assert output == host.Output('VMState="running"\n', "note", 3)


def test_an_answer_started_early_is_asked_for_once():
    host.start_early(ANSWER)
    host.run(MockContext(), ANSWER, timeout=30)
    c = MockContext(run={shlex.join(ANSWER): Result(stdout="again", exited=0)})
    assert host.run(c, ANSWER, timeout=30).stdout == "again"


def test_another_first_command_drops_what_was_started_early():
    # Its answer could predate what the run changes from now on.
    host.start_early(SILENT)
    process = host._started_early[tuple(SILENT)]
    host.run(MockContext(run={"true": Result(exited=0)}), ["true"], timeout=30)
    assert host._started_early == {} and process.poll() is not None


def test_an_early_command_that_does_not_answer_times_out():
    host.start_early(SILENT)
    process = host._started_early[tuple(SILENT)]
    with pytest.raises(HelperError, match=r"^VBoxManage did not answer within 0.2 s: "):
        host.run(MockContext(), SILENT, timeout=0.2, what="VBoxManage")
    assert process.poll() is not None


def test_a_program_that_cannot_start_is_reported_by_the_usual_run(tmp_path):
    missing = [str(tmp_path / "VBoxManage"), "--version"]
    host.start_early(missing)
    assert host._started_early == {}
    with pytest.raises(HelperError, match="is not installed or not on PATH"):
        host.run(Context(), missing, timeout=30)


def test_what_nobody_asked_for_is_stopped_at_exit():
    code = (
        "from docker_vpn_helper.adapters import host\n"
        f"host.start_early({SILENT!r})\n"
        "print(next(iter(host._started_early.values())).pid)\n"
    )
    done = subprocess.run(python(code), capture_output=True, text=True, timeout=60)
    pid = int(done.stdout)
    deadline = time.monotonic() + 10  # reaped by its parent: gone at once, not after 60 s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    pytest.fail(f"the early command (pid {pid}) outlived the run")
