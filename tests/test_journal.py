"""The machine's lock as runs meet it (journal.Journal.lock): a ports.watch sync is waited
for, briefly; any other holder refuses the run at once, naming it; a lock file that is not
ours is never a busy machine. The holders are other processes, as in real life."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from docker_vpn_helper import journal
from docker_vpn_helper.errors import HelperError, MachineBusy
from docker_vpn_helper.journal import Journal

HOLD = (
    "import sys, time; from pathlib import Path;"
    " from docker_vpn_helper.core.fsutil import ProcessLock;"
    " ProcessLock(Path(sys.argv[1])).acquire(sys.argv[2]); print('locked', flush=True);"
    " time.sleep(float(sys.argv[3]))"
)


def hold(folder: Path, role: str, seconds: float) -> subprocess.Popen:
    """Another process holding the machine's lock as `role` for `seconds`."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(folder / journal.LOCK_NAME), role, str(seconds)],
        stdout=subprocess.PIPE,
    )
    assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
    return holder


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    machine = tmp_path / "machines" / "default"
    machine.mkdir(parents=True)
    return machine


def test_a_run_waits_for_a_sync_then_goes_on(folder: Path, capsys):
    holder = hold(folder, journal.SYNC_ROLE, 0.5)
    run = Journal(folder, "default")
    start = time.monotonic()
    try:
        assert run.lock() == str(holder.pid)  # the sync's pid, now ours
    finally:
        run.release()
        holder.wait()
    assert 0.3 < time.monotonic() - start < journal.SYNC_WAIT
    assert (
        capsys.readouterr().err.count(
            f"waiting for a ports.watch sync (pid {holder.pid}) on machine 'default'"
        )
        == 1
    )


def test_a_long_run_refuses_the_next_one_at_once_naming_it(folder: Path):
    holder = hold(folder, "run", 30)
    start = time.monotonic()
    try:
        with pytest.raises(MachineBusy) as refused:
            Journal(folder, "default").lock()
    finally:
        holder.kill()
        holder.wait()
    assert time.monotonic() - start < 1.0
    assert (refused.value.holder, refused.value.syncing) == (f"pid {holder.pid}", False)
    assert refused.value.reason == (
        f"another docker-vpn-helper run (pid {holder.pid}) is working on machine 'default': "
        "wait for it to finish, then run the command again"
    )


def test_the_wait_for_a_sync_is_bounded(folder: Path, monkeypatch):
    monkeypatch.setattr(journal, "SYNC_WAIT", 0.3)
    holder = hold(folder, journal.SYNC_ROLE, 30)
    try:
        with pytest.raises(MachineBusy) as refused:
            Journal(folder, "default").lock(wait=journal.SYNC_WAIT)
    finally:
        holder.kill()
        holder.wait()
    assert refused.value.syncing
    assert f"(pid {holder.pid}, a ports.watch sync) is working" in refused.value.reason


def test_a_lock_file_that_is_a_link_is_not_a_busy_machine(folder: Path, tmp_path: Path):
    (folder / journal.LOCK_NAME).symlink_to(tmp_path / "elsewhere")
    with pytest.raises(HelperError) as refused:
        Journal(folder, "default").lock()
    assert not isinstance(refused.value, MachineBusy)
    assert "is a symbolic link: not ours" in refused.value.reason
