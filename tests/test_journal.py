"""The journal: its manifests, read in one place (read_manifest); the machine's lock as runs
meet it (journal.Journal.lock): a ports.watch sync is waited for, briefly; any other holder
refuses the run at once, naming it; a lock file that is not ours is never a busy machine. The
holders are other processes, as in real life."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from docker_vpn_helper import journal
from docker_vpn_helper.errors import HelperError, MachineBusy
from docker_vpn_helper.journal import MANIFEST, Journal, read_manifest

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


def test_a_manifest_that_is_not_a_json_object_reads_as_none(tmp_path):
    for text in ("{", "[1, 2]", '"x"'):
        (tmp_path / MANIFEST).write_text(text)
        assert read_manifest(tmp_path / MANIFEST) is None, text
    assert read_manifest(tmp_path / "missing.json") is None
    (tmp_path / MANIFEST).write_text('{"guest_state": "installed"}')
    assert read_manifest(tmp_path / MANIFEST) == {"guest_state": "installed"}


def test_earlier_runs_skip_unreadable_manifests_and_settling_leaves_them_alone(tmp_path):
    journal = Journal(tmp_path, "default")
    for stamp, text in (("20260101T000000Z", "{"), ("20260102T000000Z", '{"guest": [["a", "b"]]}')):
        (journal.root / stamp).mkdir(parents=True)
        (journal.root / stamp / MANIFEST).write_text(text)
    assert [folder.name for folder, _ in journal.earlier_runs()] == ["20260102T000000Z"]
    journal.settle_guest(["20260101T000000Z", "20260102T000000Z"], "served")
    assert (journal.root / "20260101T000000Z" / MANIFEST).read_text() == "{"
    settled = json.loads((journal.root / "20260102T000000Z" / MANIFEST).read_text())
    assert settled["guest_state"] == "served"
