"""A store left to root by an accidental `sudo docker-vpn-helper fix` (issue 17, item 6): one line
saying what is wrong and the command that gives the store back, no 'unexpected PermissionError'."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from docker_vpn_helper.core import fsutil

from .test_faults import cli, one_line_error, vbox  # noqa: F401  (vbox: a fixture)

SEARCH_PATH = os.pathsep.join(p for p in sys.path if p)


def python_for_nobody() -> str | None:
    """An interpreter user nobody may run that imports the tool (this one, else the system's
    python3 of the same version with our sys.path: this one may live under /root)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    same = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    for candidate in (sys.executable, shutil.which(same, path="/usr/local/bin:/usr/bin")):
        if not candidate:
            continue
        try:
            done = subprocess.run(
                [candidate, "-c", "import docker_vpn_helper.program"],
                user="nobody",
                env={"PYTHONPATH": SEARCH_PATH},
                capture_output=True,
                check=False,
                timeout=60,
            )
        except OSError:
            continue
        if done.returncode == 0:
            return candidate
    return None


def test_a_lock_file_we_may_not_open_is_one_line_with_the_chown(store, capsys, monkeypatch):
    def denied(self, role="run"):
        raise PermissionError(13, "Permission denied", str(self.path))

    monkeypatch.setattr(fsutil.ProcessLock, "acquire", denied)
    assert cli("cert.issue", "--storage-path", str(store)) == 1
    line = one_line_error(capsys)
    lock = store / "machines" / "default" / ".docker-vpn-helper.lock"
    assert line.startswith(f"cannot write {lock}: it belongs to ")
    assert line.endswith(
        f'not to you: give the store back to yourself with sudo chown -R "$USER" {store}'
    )


@pytest.mark.usefixtures("vbox")
def test_any_other_file_of_the_store_too(store, capsys, monkeypatch):
    config = store / "machines" / "default" / "config.json"

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(config))

    monkeypatch.setattr(fsutil, "atomic_write", denied)
    monkeypatch.setattr("docker_vpn_helper.core.store.atomic_write", denied, raising=False)
    monkeypatch.setattr("docker_vpn_helper.stages.cert.atomic_write", denied)
    assert cli("cert.issue", "--storage-path", str(store)) == 1
    line = one_line_error(capsys)
    assert line.startswith("cannot write ") and f'sudo chown -R "$USER" {store}' in line


def run_as_nobody(python: str, top: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, "-m", "docker_vpn_helper", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        user="nobody",
        env={"PATH": "/usr/bin:/bin", "HOME": str(top), "PYTHONPATH": SEARCH_PATH},
        cwd=str(top),
    )


# docker-machine makes its store 0700: after `sudo docker-machine create` the user may not even
# look inside (issue 21 item 5: "Permission denied" without the line that gives it back).
STORES = [
    (0o755, ["cert.issue"], "write {store}/machines/default/.docker-vpn-helper.lock"),
    (0o700, ["cert.issue"], "read {store}"),
    (0o700, ["fix"], "read {store}"),
    (0o700, ["env.print"], "read {store}"),
    (0o700, ["doctor"], "read {store}"),
]


@pytest.mark.parametrize(
    "mode, argv, what", STORES, ids=["readable", "unreadable", "fix", "env.print", "doctor"]
)
def test_a_store_owned_by_root_as_a_user_meets_it(store_template, mode, argv, what):
    """Really: root made the store (as `sudo fix` or `sudo docker-machine create` would have),
    an ordinary user runs the tool."""
    python = python_for_nobody()
    if python is None:
        pytest.skip("needs root, and an interpreter that user nobody may run")
    top = Path(tempfile.mkdtemp(prefix="dvh-root-store-"))
    try:
        top.chmod(0o755)
        store = top / "store"
        shutil.copytree(store_template, store)
        config = store / "machines" / "default" / "config.json"
        config.write_text(config.read_text().replace(str(store_template), str(store)))
        for folder, _dirs, files in os.walk(store):
            os.chmod(folder, 0o755)
            for name in files:
                os.chmod(os.path.join(folder, name), 0o644)
        store.chmod(mode)
        done = run_as_nobody(python, top, *argv, "--storage-path", str(store))
        assert done.returncode == 1
        assert done.stderr == (
            f"docker-vpn-helper: cannot {what.format(store=store)}: it belongs to root (a run "
            "with sudo?), not to you: give the store back to yourself with "
            f'sudo chown -R "$USER" {store}\n'
        )
    finally:
        shutil.rmtree(top)
