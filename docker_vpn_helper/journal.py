"""What a run replaced, so `restore` can undo it, and the lock that keeps runs apart.

Every run that changes something gets one backup folder `machines/NAME/backups/<UTC time>/`
with copies of the files it replaced and a manifest.json saying what it did. The manifest is
written ahead: a change is noted before it is made, so an interrupted run can be undone (or
completed) too. For the VM's files, `guest_state` follows the change: "installing" (noted,
maybe not made, maybe some backups missing), "installed" (made, the daemon not yet restarted
with it), then "served" or "rolled back".
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

from .core.fsutil import (
    Busy,
    NotOurs,
    ProcessLock,
    atomic_write,
    backup_files,
    private_dir,
    stale_temporaries,
    timestamp,
)
from .core.history import Run
from .core.store import not_yours
from .errors import HelperError, MachineBusy, StoreUnreadable
from .report import say

MANIFEST = "manifest.json"  # in each backup folder: what that run replaced
LOCK_NAME = ".docker-vpn-helper.lock"  # hidden: docker-machine ls skips dot-entries
SYNC_ROLE = "sync"  # the lock's role while ports.watch syncs (stages/watch.py)
SYNC_WAIT = 15.0  # seconds a run waits for a sync (20 new rules take ~3 s in the lab)
LOCK_POLL = 0.02  # seconds between tries meanwhile (the watch leaves it free longer: LOCK_GAP)


def permission_denied(exc: PermissionError) -> StoreUnreadable:
    """One line for a file of the store we may not write (core/store.not_yours)."""
    if not exc.filename:
        return StoreUnreadable(f"permission denied: {exc.strerror or exc}", None)
    return not_yours(Path(exc.filename), "write")


def read_manifest(path: Path) -> dict[str, Any] | None:
    """A run's manifest: the one place it is read (None: missing, unreadable or not a JSON
    object, as an interrupted or foreign write can leave it)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class Journal:
    def __init__(self, machine_folder: Path, machine_name: str) -> None:
        self.name = machine_name
        self.root = machine_folder / "backups"
        self.lock_path = machine_folder / LOCK_NAME
        self.stamp = timestamp()  # one backup folder name for everything this run replaces
        self.guest_backups: list[tuple[str, str]] = []  # (backup, target) of this run's deploy
        self._lock: ProcessLock | None = None

    @property
    def folder(self) -> Path:
        return self.root / self.stamp

    def record(self, **entries: Any) -> None:
        """Note in this run's manifest what it replaces; written before each change (atomically),
        so an interrupted run is undoable too."""
        private_dir(self.folder)
        path = self.folder / MANIFEST
        data = read_manifest(path) or self._first_entries()
        for key, value in entries.items():
            if isinstance(value, dict):
                data.setdefault(key, {}).update(value)
            else:
                data[key] = value
        atomic_write(path, json.dumps(data, indent=2).encode(), 0o600)

    def _first_entries(self) -> dict[str, Any]:
        """What a new manifest starts with: the machine, and the command (for restore --list)."""
        from .adapters.host import command_line

        return {"machine": self.name, "command": command_line()}

    def intend_guest(self, pairs: list[tuple[str, str]], certificate: str | None) -> None:
        """Before the VM's files are replaced: (backup, target) pairs where their backups will
        be, and the fingerprint of the certificate going in (None: the served certificate does
        not change). Pairs of other files this run replaced earlier stay noted."""
        self.guest_backups = self._merged(pairs)
        cert = {} if certificate is None else {"guest_cert": certificate}
        self.record(guest=self.guest_backups, guest_state="installing", **cert)

    def guest_installed(self, pairs: list[tuple[str, str]]) -> None:
        """The VM's files are replaced: the backups as made ("" for a target that was new)."""
        self.guest_backups = self._merged(pairs)
        self.record(guest=self.guest_backups, guest_state="installed")

    def _merged(self, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """This run's VM files so far, those of `pairs` as given: one run, one manifest entry
        per file, whichever stages replaced them (restore puts them all back)."""
        targets = {target for _, target in pairs}
        return [p for p in self.guest_backups if p[1] not in targets] + list(pairs)

    def guest_runs(self) -> list[tuple[str, dict[str, Any]]]:
        """(folder name, manifest) of the earlier runs that changed the VM's files, oldest first."""
        return [(folder.name, data) for folder, data in self.earlier_runs() if data.get("guest")]

    def settle_guest(self, runs: list[str], state: str) -> None:
        """Note the end of the VM changes of this run (if it made one) and of earlier `runs`."""
        for name in runs:
            path = self.root / name / MANIFEST
            data = read_manifest(path)
            if data is not None:
                with contextlib.suppress(OSError):
                    atomic_write(
                        path, json.dumps({**data, "guest_state": state}, indent=2).encode()
                    )
        if self.guest_backups:
            self.record(guest_state=state)

    def back_up(self, paths: list[Path]) -> dict[Path, Path]:
        """Copy the existing `paths` into this run's folder and note them: {original: copy}."""
        copies = backup_files(paths, self.folder)
        self.record(local={str(original): copy.name for original, copy in copies.items()})
        return copies

    def earlier_runs(self) -> list[tuple[Path, dict[str, Any]]]:
        """Earlier runs' folders with their manifests, oldest first (unreadable ones skipped)."""
        runs = []
        for path in sorted(self.root.glob(f"*/{MANIFEST}")):
            manifest = read_manifest(path) if path.parent.name != self.stamp else None
            if manifest is not None:
                runs.append((path.parent, manifest))
        return runs

    def history(self) -> list[Run]:
        """Every earlier run, oldest first (what restore plans from)."""
        return [Run(folder.name, folder, manifest) for folder, manifest in self.earlier_runs()]

    def lock(self, role: str = "run", wait: float = SYNC_WAIT) -> str:
        """One run at a time per machine: a second run stops instead of interleaving its writes.

        The lock file records its holder's pid and `role`. A ports.watch sync (SYNC_ROLE) holds
        it for a moment, and never waits for anything while it does: a run that finds one waits
        for it, up to `wait` seconds (a wait that cannot deadlock), then goes on. Any other
        holder (a `fix` may take a minute) refuses the run at once with MachineBusy.

        Returns the pid of the process that held the lock before (ours when we hold it already):
        ports.watch, which locks for each sync only, reads the VM's rules again when another run
        held it in between.
        """
        if self._lock is not None:
            return str(os.getpid())
        lock = ProcessLock(self.lock_path)
        deadline = time.monotonic() + wait
        said = False
        while True:
            try:
                previous = lock.acquire(role)
                break
            except PermissionError as exc:
                if not exc.filename:
                    exc.filename = str(self.lock_path)
                raise permission_denied(exc) from None
            except Busy as busy:
                syncing = busy.role == SYNC_ROLE
                if not syncing or time.monotonic() >= deadline:
                    raise MachineBusy(self.name, busy.holder, syncing) from None
                if not said:
                    say(f"waiting for a ports.watch sync ({busy.holder}) on machine {self.name!r}")
                    said = True
                time.sleep(LOCK_POLL)
            except NotOurs as odd:
                raise HelperError(
                    f"the lock file {self.lock_path} is {odd}: not ours, and writing it would "
                    "change what it points to; remove it and run the command again"
                ) from None
        self._lock = lock
        return previous

    def remove_temporaries(self) -> list[str]:
        """Remove what an earlier run, killed while it replaced files, left beside them (only
        with the lock held: no other run is writing); their names."""
        removed = []
        folders = [self.root.parent, *(p for p in self.root.glob("*/") if not p.is_symlink())]
        for path in (temp for folder in folders for temp in stale_temporaries(folder)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path.name)
        return removed

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None
