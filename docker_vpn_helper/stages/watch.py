"""ports.watch: the published ports kept forwarded while containers come and go, until stopped.

It subscribes to the daemon's container events (`start`, `die`: core.ports.EVENT_ACTIONS) before
it lists the containers, so a container started in between is in the list or in the stream, and
runs ports.sync's plan and apply once per batch of events. VirtualBox's NAT rules are read once
per connection and then kept in memory (`Plan.rules_after`): a VBoxManage call costs a tenth of a
second, an event should cost a few milliseconds.

It assumes the machine was fixed and never repairs it: when the daemon goes away (a restart, the
VM stopped, the forward broken) it says so once, with the command that repairs the machine, and
reconnects after a pause that doubles from 0.2 s up to 5 s. Each connection starts afresh (a new
Session: settings, certificates and the VM's rules read again, since a `fix` in between may have
changed any of them) with a full sync. When the machine or its store is gone, it stops, or with
`--wait-for-machine` (the login agent) looks again after a pause that doubles from 5 s up to
5 minutes, with one line when it goes and one when it is back.

The machine's lock (journal.py) is held for each sync only, not for the life of the watch, so that
`fix` and `ports.sync` still run beside a watch that runs for days. The containers are listed
once the lock is held, never before: a list read while another run changed the rules is stale.
The lock file names its last holder: when that is not this process, another run may have changed
the rules, and they are read from VirtualBox again. A sync that finds the machine busy waits for
it, and for nothing else: any other failure to lock ends the watch with its one line. The lock
file says that a sync holds it (journal.SYNC_ROLE), so a run that starts meanwhile waits for
the sync instead of failing; between two syncs the watch leaves the lock free for LOCK_GAP.

SIGTERM (how systemd and launchd stop an agent) and Ctrl-C end it normally, exit status 0, the
rules left in place; one that arrives during a sync ends it once that sync is done.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shlex
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any, Callable

from ..adapters.host import program_name
from ..core import ports as published
from ..core.vbox import NatRule
from ..errors import HelperError, MachineBusy
from ..journal import SYNC_ROLE
from ..report import banner, say
from ..session import Session, settings_for
from . import ports

FIRST_PAUSE = 0.2  # seconds before reconnecting; doubled after each failed attempt
LONGEST_PAUSE = 5.0
TICK = 30.0  # a sync after this long without an event: it also notices a daemon that went silent
LOCK_POLL = 0.2  # seconds between tries while another run holds the machine's lock
LOCK_GAP = 0.1  # seconds the lock stays free between two syncs (journal.LOCK_POLL is shorter)
MISSING_FIRST = 5.0  # seconds before looking again for a machine gone from the store; doubled
MISSING_LONGEST = 300.0
STOPPING = (signal.SIGINT, signal.SIGTERM)


class SyncFailed(HelperError):
    """A sync failed with the daemon still there (VirtualBox refused a change, ...)."""


class DaemonGone(HelperError):
    """The daemon cannot be reached, or its event stream ended."""


def connect(s: Session) -> tuple[Any, Any]:
    """The daemon's container events, then a client to list the containers with (in this order:
    nothing that happens in between is missed)."""
    from ..adapters import engine  # the Docker SDK loads only here

    auth = s.machine.auth
    files = (auth.ca_cert, auth.client_cert, auth.client_key)
    try:
        events = engine.events(s.port, *files, actions=published.EVENT_ACTIONS)
    except HelperError as exc:
        raise DaemonGone(exc.reason) from None
    try:
        return engine.Engine(s.port, *files), events
    except BaseException:
        events.close()
        raise


def pump(events: Iterable[dict[str, Any]], arrived: queue.Queue) -> None:
    """Hand the events over (the watch syncs once per batch), then why the stream ended."""
    try:
        for event in events:
            arrived.put(event)
        arrived.put(DaemonGone("the daemon closed its event stream"))
    except Exception as exc:  # a connection reset in the middle of a read
        arrived.put(DaemonGone(f"the event stream broke ({type(exc).__name__})"))


def batch(arrived: queue.Queue) -> list[Any]:
    """The next event and all that came with it; none when TICK passed without any."""
    try:
        items = [arrived.get(timeout=TICK)]
    except queue.Empty:
        return []
    while not arrived.empty():
        items.append(arrived.get_nowait())
    return items


def listing(client: Any, items: list[Any], dead: set[str]) -> Callable[[], list[dict[str, Any]]]:
    """What a sync after `items` lists, once it holds the lock: the running containers, without
    those that died yet still show (core.ports.stopped; `dead` carries them to the next sync)."""

    def running() -> list[dict[str, Any]]:
        listed = client.containers()
        still = published.stopped(items, dead) & {c.get("Id") for c in listed}
        dead.clear()
        dead.update(still)
        return [c for c in listed if c.get("Id") not in dead]

    return running


class Watcher:
    def __init__(
        self,
        c: Any,
        flags: tuple[str | None, str | None, int, bool],
        wait_for_machine: bool = False,
    ):
        self.c = c
        self.flags = flags  # machine, storage_path, port, dry_run
        self.wait_for_machine = wait_for_machine
        self.pause = FIRST_PAUSE
        self.connected = False  # once: later troubles say "gone", not "unreachable"
        self.gone = False  # the daemon was said to be gone: say when it is back
        self.said = ""  # the trouble last said, not said again while it lasts
        self.notes: tuple[str, ...] = ()  # the last sync's notes, not repeated at every event
        self.syncing = False  # a stopping signal waits for the sync's end
        self.stopped_by: int | None = None
        self.released = 0.0  # time.monotonic() when a sync last let go of the lock

    def stop(self, signum: int, frame: Any) -> None:
        """SIGTERM or Ctrl-C: the watch ends now, or after the sync that runs (a VBoxManage call
        is not cut short; invoke's runner would swallow a KeyboardInterrupt during it anyway)."""
        self.stopped_by = signum
        if not self.syncing:
            raise KeyboardInterrupt

    def session(self) -> Session:
        """A new Session for each connection (see the module's docstring); it takes no lock."""
        return Session(self.c, settings_for(self.c, *self.flags))

    def run(self) -> None:
        s = self.session()
        try:
            self.find_machine(s)
            s.machine  # noqa: B018 -- a broken store entry stops the watch here, not in a retry loop
            say(
                f"watching machine {s.name!r}: container events from tcp://localhost:{s.port}; "
                "Ctrl-C stops (the NAT rules stay)"
            )
            while True:
                try:
                    self.follow(s)
                except (DaemonGone, SyncFailed) as trouble:
                    self.trouble(s, trouble)
                finally:
                    s.close()
                time.sleep(self.pause)
                self.pause = min(self.pause * 2, LONGEST_PAUSE)
                s = self.session()
                self.find_machine(s)
        except KeyboardInterrupt:
            s.close()
            how = "" if self.stopped_by in (None, signal.SIGINT) else " on SIGTERM"
            say(f"stopped watching machine {s.name!r}{how}; the NAT rules stay in place")

    def find_machine(self, s: Session) -> None:
        """Return once the store has the machine; without --wait-for-machine, stop when not."""
        store = s.settings.storage_path
        if s.view.exists():
            return
        where = f"in {store}" if store.is_dir() else f"({store} is gone)"
        if not self.wait_for_machine:
            raise HelperError(f"no machine {s.name!r} {where}")
        pause = MISSING_FIRST
        say(
            f"no machine {s.name!r} {where}: looking again in {pause:g} s, then less and less "
            f"often (at least every {MISSING_LONGEST:g} s)"
        )
        while not s.view.exists():
            time.sleep(pause)
            pause = min(pause * 2, MISSING_LONGEST)
        say(f"machine {s.name!r} is back in {store}")
        self.said = ""

    def follow(self, s: Session) -> None:
        """One connection: a full sync, then one per batch of events, until the stream ends
        (DaemonGone) or a sync fails (SyncFailed)."""
        client, events = connect(s)
        try:
            if self.gone:
                say("daemon back")
            self.connected, self.gone, self.pause = True, False, FIRST_PAUSE
            arrived: queue.Queue = queue.Queue()
            threading.Thread(target=pump, args=(events, arrived), daemon=True).start()
            dead: set[str] = set()  # died, yet still listed (core.ports.stopped)
            rules = self.sync(s, listing(client, [], dead), None)
            self.said = ""
            while True:
                items = batch(arrived)
                for item in items:
                    if isinstance(item, HelperError):
                        raise item
                rules = self.sync(s, listing(client, items, dead), rules)
        finally:
            events.close()
            client.close()

    def sync(
        self,
        s: Session,
        look: Callable[[], list[dict[str, Any]]],
        rules: tuple[NatRule, ...] | None,
    ) -> tuple[NatRule, ...]:
        """ports.sync's plan and apply, as stages.step runs them, under the machine's lock, with
        the containers `look` lists once the lock is held; `rules` None: a full sync, with the
        rules read from VirtualBox. The rules after it."""
        self.syncing = True
        try:
            with self.locked(s) as others_ran:
                try:
                    return self.synced(s, look(), rules, others_ran)
                except SyncFailed:
                    raise
                except HelperError as exc:
                    raise SyncFailed(exc.reason) from None
        finally:
            self.syncing = False
            if self.stopped_by is not None:
                raise KeyboardInterrupt

    def synced(
        self,
        s: Session,
        running: list[dict[str, Any]],
        rules: tuple[NatRule, ...] | None,
        others_ran: bool,
    ) -> tuple[NatRule, ...]:
        full = rules is None
        if others_ran or rules is None:
            s.view.refresh()
            info = s.vm()
            rules = info.rules() if info is not None else ()  # plan says it is missing
        plan = ports.plan(s, rules, running)
        if full:
            banner(s.name, ports.STAGE.title)
            self.notes = ()
        for note in plan.notes:
            if note not in self.notes:
                say(note)
        self.notes = plan.notes
        if not plan.changes:
            if full:
                say(f"{plan.seen()}: nothing to do")
            return rules
        if s.dry_run:
            for action in plan.actions():
                say(f"would {action}")
            return rules
        taken_back = ports.forward(s, plan)
        return tuple(r for r in plan.rules_after(rules) if r not in taken_back)

    @contextlib.contextmanager
    def locked(self, s: Session) -> Iterator[bool]:
        """The machine's lock for one sync (none in a dry run): whether another process held
        it since this watch last did. Only a busy machine is waited for."""
        if s.dry_run:
            yield False
            return
        gap = self.released + LOCK_GAP - time.monotonic()
        if gap > 0:  # a run waiting for this watch's syncs gets the lock in between
            time.sleep(gap)
        waiting = False
        while True:
            try:
                previous = s.journal.lock(SYNC_ROLE, wait=0)
                break
            except MachineBusy:
                if not waiting:
                    say(f"another run is working on machine {s.name!r}: syncing once it is done")
                    waiting = True
                if self.stopped_by is not None:
                    raise KeyboardInterrupt from None
                time.sleep(LOCK_POLL)
        try:
            yield previous != str(os.getpid())
        finally:
            s.journal.release()
            self.released = time.monotonic()

    def trouble(self, s: Session, trouble: HelperError) -> None:
        """One line when a trouble starts or changes, not one per retry."""
        if isinstance(trouble, SyncFailed):
            line = f"sync failed: {trouble.reason}; starting over"
        else:
            word = "gone" if self.connected else "unreachable"
            line = f"daemon {word}: {trouble.reason}; retrying (if it stays away: {self.repair(s)})"
            self.gone = True
        if line != self.said:
            say(line)
            self.said = line

    def repair(self, s: Session) -> str:
        """The command that repairs the machine (the watch never does)."""
        storage_path = self.flags[1]
        words = [program_name(), "fix", "--machine", s.name]
        return shlex.join(words + (["--storage-path", storage_path] if storage_path else []))


def watch(
    c: Any,
    machine: str | None,
    storage_path: str | None,
    port: int,
    dry_run: bool,
    wait_for_machine: bool = False,
) -> None:
    """Sync, then follow the daemon's events until SIGTERM or Ctrl-C (which end it normally)."""
    watcher = Watcher(c, (machine, storage_path, port, dry_run), wait_for_machine)
    previous = {signum: signal.signal(signum, watcher.stop) for signum in STOPPING}
    try:
        watcher.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
