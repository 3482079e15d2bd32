"""The run's scope is explicit (issue 20, item 7): the executor owns the run's Sessions and ends
them with the run, each task says whether it locks, and `fix` prints the environment because the
executor asks it to."""

from __future__ import annotations

import pytest
from invoke import Config

from docker_vpn_helper.core.fsutil import ProcessLock
from docker_vpn_helper.executor import Printing, RunContext
from docker_vpn_helper.journal import LOCK_NAME
from docker_vpn_helper.program import program
from docker_vpn_helper.session import Sessions
from docker_vpn_helper.tasks.fix import fix


def test_a_run_lets_go_of_the_lock_when_it_ends_not_when_the_process_does(store):
    """A restore that fails after taking the lock: once the run is over, the machine is free
    (before, a process-wide registry kept the lock until the interpreter exited)."""
    with pytest.raises(SystemExit):
        program.run(["docker-vpn-helper", "restore", "--storage-path", str(store)], exit=True)
    lock = ProcessLock(store / "machines" / "default" / LOCK_NAME)
    lock.acquire()  # raises when another holder (an open Session) still has it
    lock.release()


@pytest.mark.parametrize(
    "argv, locks",
    [
        (["cert.issue"], [True]),
        (["cert.issue", "--dry-run"], [False]),
        (["doctor"], [False]),
        (["restore", "--list"], [False]),
        (["agent.status"], [False]),
    ],
)
def test_each_task_says_whether_it_takes_the_lock(store, monkeypatch, argv, locks):
    """doctor and `restore --list` take no lock because they say so (lock=False), not because
    they pretend to be dry runs."""
    asked = []

    def get(self, c, settings, *, lock):
        asked.append(lock)
        raise SystemExit(0)  # what the task does next is not this test's business

    monkeypatch.setattr(Sessions, "get", get)
    with pytest.raises(SystemExit):
        program.run(["docker-vpn-helper", argv[0], "--storage-path", str(store), *argv[1:]])
    assert asked == locks


def context(printing: Printing) -> RunContext:
    return RunContext(Config(), Sessions(), printing)


def test_fix_prints_the_environment_only_when_the_executor_asks(store, capsys):
    c = context(Printing(prints=False))
    fix(c, machine="default", storage_path=str(store), shell="bash")
    c.sessions.close()
    out, err = capsys.readouterr()
    assert out == ""
    assert "its environment, not printed: " in err


def test_fix_asked_to_print_names_the_machines_it_did_not_print(store, capsys):
    c = context(Printing(prints=True, others=("dev",)))
    fix(c, machine="default", storage_path=str(store), shell="bash")
    c.sessions.close()
    out, err = capsys.readouterr()
    assert 'export DOCKER_MACHINE_NAME="default"' in out
    assert "prints the environment of 'default' only" in err and "--machine dev" in err


def test_one_session_per_machine_for_the_whole_run(store):
    """Two stages of one run share the Session (one SSH connection, one lock); another run has
    its own."""
    c = context(Printing())
    first = c.session("default", str(store), 0, False, lock=True)
    assert c.session("default", str(store), 0, False, lock=False) is first
    other = context(Printing())
    assert other.session("default", str(store), 0, True, lock=False) is not first
    c.sessions.close()
    other.sessions.close()
