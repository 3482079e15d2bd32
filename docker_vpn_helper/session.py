"""What one run knows about one machine, shared by its stages.

Stages are separate invoke tasks, but a `fix` must open one SSH connection and ask VBoxManage
for the VM once; so they share a Session per (store, machine) for the life of the process.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import datetime as dt
import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from invoke import Context

from . import stats
from .adapters.host import command_line
from .adapters.vboxmanage import VBoxManage
from .core import store, vbox
from .core.fsutil import Busy, ProcessLock, atomic_write, backup_files, timestamp
from .errors import HelperError
from .settings import CONFIG_KEY, Settings, resolve

if TYPE_CHECKING:
    from concurrent.futures import Future

    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

    from .adapters.guest import DaemonFiles, Guest

MANIFEST = "manifest.json"  # in each backup folder: what that run replaced
LOCK_NAME = ".docker-vpn-helper.lock"  # hidden: docker-machine ls skips dot-entries


class Session:
    def __init__(self, c: Context, settings: Settings) -> None:
        self.c = c
        self.settings = settings
        self.stamp = timestamp()  # one backup folder name for everything this run replaces
        self.vbox = VBoxManage(c, settings.vboxmanage, settings.vboxmanage_timeout)
        self.changed: set[str] = set()  # stages that changed something (deploy => restart)
        self.guest_backups: list[tuple[str, str]] = []  # (backup, target) of the last deploy
        self._machine: store.Machine | None = None
        self._vm: Any = _UNKNOWN
        self._ssh: _Connecting | None = None  # the run's SSH connection, open or opening
        self._early: _Connecting | None = None  # opened before the live SSH port was known
        self._dropped: list[_Connecting] = []  # failed, or to a port that proved wrong
        self._lock: ProcessLock | None = None
        self._server_key: Future[RSAPrivateKey] | None = None  # generated ahead of cert.issue

    @property
    def name(self) -> str:
        return self.settings.machine

    @property
    def dry_run(self) -> bool:
        return self.settings.dry_run

    @property
    def folder(self) -> Path:
        return store.machine_folder(self.settings.storage_path, self.name)

    def machine_exists(self) -> bool:
        return store.machine_exists(self.settings.storage_path, self.name)

    @property
    def machine(self) -> store.Machine:
        if self._machine is None:
            self._machine = store.load_machine(self.settings.storage_path, self.name)
        return self._machine

    def reload_machine(self) -> store.Machine:
        self._machine = None
        return self.machine

    def vm(self) -> vbox.VMInfo | None:
        """The VM as VirtualBox describes it (None: not registered); asked once per run."""
        if self._vm is _UNKNOWN:
            self._vm = self.vbox.showvminfo(self.name)
        return self._vm

    def added_rule(self, nic: int, rule: vbox.NatRule) -> None:
        """Note a rule we just added in the cached VM info, instead of asking VirtualBox again."""
        if isinstance(self._vm, vbox.VMInfo):
            forwarding = dict(self._vm.forwarding)
            kept = [r for r in forwarding.get(nic, ()) if r.name != rule.name]
            forwarding[nic] = (*kept, rule)
            self._vm = dataclasses.replace(self._vm, forwarding=forwarding)

    def forget_vm(self) -> None:
        """After a mutation: the next `vm()` asks VirtualBox again."""
        self._vm = _UNKNOWN

    def ssh_port(self) -> int:
        """The live NAT `ssh` rule wins over config.json's SSHPort, which can be stale."""
        info = self.vm()
        if info is not None and info.nat_nic is not None:
            for rule in info.forwarding.get(info.nat_nic, ()):
                if rule.name == "ssh" and rule.guest_port == 22:
                    return rule.host_port
        return self.machine.ssh_port

    def guest(self) -> Guest:
        """The run's one SSH connection to the VM (waiting for one being opened).

        A failed attempt raises once; the next call (a later stage, a rollback) tries again.
        """
        if self._ssh is None or self._ssh.reported:
            self.warm_up()
        assert self._ssh is not None
        return self._ssh.result()

    def daemon_files(self) -> DaemonFiles:
        """The VM's daemon files (paths, served certificate): as read right after connecting,
        in the background, the first time; read now after that."""
        guest = self.guest()
        assert self._ssh is not None
        files, self._ssh.daemon_files = self._ssh.daemon_files, None
        return files if files is not None else guest.read_daemon_files()

    def prepare_server_key(self) -> None:
        """Start making the key of a certificate cert.issue is expected to issue, in the
        background and with jinja2 loaded for its openssl.cnf: RSA generation runs without the
        GIL, so it overlaps VirtualBox's answers instead of following them."""
        if self._server_key is None and not self.dry_run:
            from concurrent.futures import ThreadPoolExecutor

            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dvh-key")
            self._server_key = pool.submit(_key_and_templates)
            pool.shutdown(wait=False)

    def server_key(self) -> RSAPrivateKey | None:
        """The key prepare_server_key made (once: a second certificate needs its own), else
        None."""
        prepared, self._server_key = self._server_key, None
        return None if prepared is None else prepared.result()

    def connect_early(self) -> None:
        """Start the SSH handshake on config.json's SSHPort now, in the background, while
        VirtualBox is asked about the VM (~0.2 s of every run that needs SSH).

        warm_up() adopts it when the VM runs with that port; otherwise it is dropped (a stopped
        VM refuses it at once) and a connection to the live port is opened instead.
        """
        if self._ssh is None and self._early is None and self.machine.ssh_port:
            self._early = self._connect(self.machine.ssh_port)

    def warm_up(self) -> None:
        """Have the connection to the VM's live SSH port open or opening, in the background.

        The forward and certificate stages need no SSH; the deploy stage then finds the
        connection open instead of paying for the handshake. Still one connection per run.
        """
        if self._ssh is not None:
            if not self._ssh.failed():
                return
            self._dropped.append(self._ssh)
        port = self.ssh_port()
        early, self._early = self._early, None
        if early is not None and early.port == port and not early.failed():
            self._ssh = early
            return
        if early is not None:
            self._dropped.append(early)
        self._ssh = self._connect(port)

    def _connect(self, port: int) -> _Connecting:
        machine = self.machine  # read here: the background thread must not load the store
        return _Connecting(port, lambda: self._open_guest(port, machine))

    def _open_guest(self, port: int, machine: store.Machine) -> Guest:
        """A Guest for `port`, not yet connected (the seam tests replace)."""
        from .adapters.guest import Guest  # paramiko is heavy: only stages that SSH pay for it

        return Guest(
            port,
            machine.ssh_user,
            machine.ssh_key,
            connect_timeout=self.settings.ssh_connect_timeout,
            command_timeout=self.settings.command_timeout,
            machine=self.name,
        )

    def record(self, **entries: Any) -> None:
        """Note in this run's backup folder what it replaced, so `restore` can undo it.

        Written after each change (atomically), so an interrupted run is undoable too.
        """
        folder = self.machine.backup_root / self.stamp
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / MANIFEST
        data = json.loads(path.read_text()) if path.exists() else {"machine": self.name}
        for key, value in entries.items():
            if isinstance(value, dict):
                data.setdefault(key, {}).update(value)
            else:
                data[key] = value
        atomic_write(path, json.dumps(data, indent=2).encode(), 0o600)

    def back_up(self, paths: list[Path]) -> dict[Path, Path]:
        """Copy the existing `paths` into this run's backup folder and note them for `restore`:
        {original: copy}."""
        copies = backup_files(paths, self.machine.backup_root / self.stamp)
        self.record(local={str(original): copy.name for original, copy in copies.items()})
        return copies

    def earlier_runs(self) -> list[tuple[Path, dict[str, Any]]]:
        """Earlier runs' backup folders with their manifests, oldest first (unreadable skipped)."""
        runs = []
        for path in sorted(self.machine.backup_root.glob(f"*/{MANIFEST}")):
            if path.parent.name == self.stamp:
                continue
            try:
                manifest = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(manifest, dict):
                runs.append((path.parent, manifest))
        return runs

    def lock(self) -> None:
        """One run at a time per machine: a second run stops instead of interleaving its writes.

        A machine that does not exist yet is guarded by docker-machine create itself; the stage
        that creates it locks afterwards.
        """
        if self._lock is not None or self.dry_run or not self.machine_exists():
            return
        lock = ProcessLock(self.folder / LOCK_NAME)
        try:
            lock.acquire()
        except Busy as busy:
            raise HelperError(
                f"another docker-vpn-helper run ({busy}) is working on machine {self.name!r}: "
                "wait for it to finish, then run the command again"
            ) from None
        self._lock = lock

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)

    def rerun_hint(self) -> str:
        return command_line()

    def close(self) -> None:
        for connection in (*self._dropped, self._early, self._ssh):
            if connection is not None:
                stats.counts["ssh_connections"] += connection.close()
        self._ssh, self._early, self._dropped = None, None, []
        if self._lock is not None:
            self._lock.release()
            self._lock = None


_UNKNOWN = object()


def _key_and_templates() -> RSAPrivateKey:
    from .core import templating
    from .core.certs import new_server_key

    key = new_server_key()
    templating.load()
    return key


class _Connecting:
    """One SSH connection being opened in a background thread (imports included)."""

    def __init__(self, port: int, open_guest: Callable[[], Guest]) -> None:
        self.port = port
        self._guest: Guest | None = None
        self._error: BaseException | None = None
        self.reported = False  # its error was raised to a caller
        self.daemon_files: DaemonFiles | None = None  # read once connected; taken once
        self._thread = threading.Thread(
            target=self._run, args=(open_guest,), name=f"ssh-{port}", daemon=True
        )
        self._thread.start()

    def _run(self, open_guest: Callable[[], Guest]) -> None:
        try:
            self._guest = open_guest()
            self._guest.connect()
        except BaseException as exc:  # re-raised in the main thread by result()
            self._error = exc
            return
        # What the deploy stage asks first, read while the main thread does other stages; on
        # failure the deploy stage reads again, and reports what goes wrong.
        with contextlib.suppress(Exception):
            self.daemon_files = self._guest.read_daemon_files()

    def failed(self) -> bool:
        """Finished, without a connection."""
        return not self._thread.is_alive() and self._error is not None

    def result(self) -> Guest:
        self._thread.join()
        if self._error is not None:
            self.reported = True
            raise self._error
        assert self._guest is not None
        return self._guest

    def close(self) -> int:
        """Close it; how many SSH connections it opened."""
        self._thread.join()
        if self._guest is None:
            return 0
        self._guest.close()
        return self._guest.connections_opened


_SESSIONS: dict[tuple[str, str, bool], Session] = {}


def session_for(
    c: Context,
    machine: str | None = None,
    storage_path: str | None = None,
    port: int = 0,
    dry_run: bool = False,
) -> Session:
    """The run's Session for these flags (created on first use, closed at exit)."""
    config = c.config.get(CONFIG_KEY, {}) if hasattr(c, "config") else {}
    settings = resolve(
        config, machine=machine, storage_path=storage_path, port=port, dry_run=dry_run
    )
    store.validate_machine_name(settings.machine)
    # Not keyed by port: nat.forward may move a machine to a free port, and the later stages of
    # the same run must keep using this Session (its SSH connection, its lock).
    key = (str(settings.storage_path), settings.machine, settings.dry_run)
    if key not in _SESSIONS:
        _SESSIONS[key] = Session(c, settings)
        _SESSIONS[key].lock()
    return _SESSIONS[key]


@atexit.register
def close_all() -> None:
    while _SESSIONS:
        _SESSIONS.popitem()[1].close()
