"""ports.watch: the published ports kept forwarded while containers come and go, until Ctrl-C.

It subscribes to the daemon's container events (`start`, `die`: core.ports.EVENT_ACTIONS) before
it lists the containers, so a container started in between is in the list or in the stream, and
runs ports.sync's plan and apply once per batch of events. VirtualBox's NAT rules are read once
per connection and then kept in memory (`Plan.rules_after`): a VBoxManage call costs a tenth of a
second, an event should cost a few milliseconds.

It assumes the machine was fixed and never repairs it: when the daemon goes away (a restart, the
VM stopped, the forward broken) it says so once, with the command that repairs the machine, and
reconnects after a pause that doubles from 0.2 s up to 5 s. Each connection starts afresh (a new
Session: settings, certificates and the VM's rules read again, since a `fix` in between may have
changed any of them) with a full sync.

The machine's lock (journal.py) is held for each sync only, not for the life of the watch, so that
`fix` and `ports.sync` still run beside a watch that runs for days. The lock file names its last
holder: when that is not this process, another run may have changed the rules, and they are read
from VirtualBox again. A sync that finds the lock taken waits for it; a run that starts while a
sync holds it (a fraction of a second) stops with "another docker-vpn-helper run is working" and
is simply run again.
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
from typing import Any

from ..adapters.host import program_name
from ..core import ports as published
from ..core.vbox import NatRule
from ..errors import HelperError
from ..report import banner, say
from ..session import Session, settings_for
from . import ports

FIRST_PAUSE = 0.2  # seconds before reconnecting; doubled after each failed attempt
LONGEST_PAUSE = 5.0
TICK = 30.0  # a sync after this long without an event: it also notices a daemon that went silent
LOCK_POLL = 0.2  # seconds between tries while another run holds the machine's lock


class SyncFailed(HelperError):
    """A sync failed with the daemon still there (VirtualBox refused a change, ...)."""


def connect(s: Session) -> tuple[Any, Any]:
    """The daemon's container events, then a client to list the containers with (in this order:
    nothing that happens in between is missed)."""
    from ..adapters import engine  # the Docker SDK loads only here

    auth = s.machine.auth
    files = (auth.ca_cert, auth.client_cert, auth.client_key)
    events = engine.events(s.port, *files, actions=published.EVENT_ACTIONS)
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
        arrived.put(HelperError("the daemon closed its event stream"))
    except Exception as exc:  # a connection reset in the middle of a read
        arrived.put(HelperError(f"the event stream broke ({type(exc).__name__})"))


def batch(arrived: queue.Queue) -> list[Any]:
    """The next event and all that came with it; none when TICK passed without any."""
    try:
        items = [arrived.get(timeout=TICK)]
    except queue.Empty:
        return []
    while not arrived.empty():
        items.append(arrived.get_nowait())
    return items


class Watcher:
    def __init__(
        self, c: Any, machine: str | None, storage_path: str | None, port: int, dry_run: bool
    ):
        self.c = c
        self.flags = (machine, storage_path, port, dry_run)
        self.pause = FIRST_PAUSE
        self.connected = False  # once: later troubles say "gone", not "unreachable"
        self.gone = False  # the daemon was said to be gone: say when it is back
        self.said = ""  # the trouble last said, not said again while it lasts
        self.notes: tuple[str, ...] = ()  # the last sync's notes, not repeated at every event
        self.interrupted = False

    def interrupt(self, signum: int, frame: Any) -> None:
        """Ctrl-C, remembered: invoke's runner swallows one that comes while a command runs (it
        only passes it on to the command), so a sync ends the watch after it (`sync`)."""
        self.interrupted = True
        raise KeyboardInterrupt

    def session(self) -> Session:
        """A new Session for each connection (see the module's docstring); it takes no lock."""
        return Session(self.c, settings_for(self.c, *self.flags))

    def run(self) -> None:
        s = self.session()
        if not s.view.exists():
            raise HelperError(f"no machine {s.name!r} in {s.settings.storage_path}")
        s.machine  # noqa: B018 -- a broken store entry stops the watch here, not in a retry loop
        say(
            f"watching machine {s.name!r}: container events from tcp://localhost:{s.port}; "
            "Ctrl-C stops (the NAT rules stay)"
        )
        try:
            while True:
                try:
                    self.follow(s)
                except HelperError as trouble:
                    self.trouble(s, trouble)
                finally:
                    s.close()
                time.sleep(self.pause)
                self.pause = min(self.pause * 2, LONGEST_PAUSE)
                s = self.session()
        except KeyboardInterrupt:
            s.close()
            say(f"stopped watching machine {s.name!r}; the NAT rules stay in place")

    def follow(self, s: Session) -> None:
        """One connection: a full sync, then one per batch of events, until the stream ends
        (raised as a HelperError, as every way this ends but Ctrl-C)."""
        client, events = connect(s)
        try:
            if self.gone:
                say("daemon back")
            self.connected, self.gone, self.pause = True, False, FIRST_PAUSE
            arrived: queue.Queue = queue.Queue()
            threading.Thread(target=pump, args=(events, arrived), daemon=True).start()
            rules = self.sync(s, client.containers(), None)
            self.said = ""
            dead: frozenset[str] = frozenset()  # died, yet still in the list (core.ports.stopped)
            while True:
                items = batch(arrived)
                for item in items:
                    if isinstance(item, HelperError):
                        raise item
                listed = client.containers()
                dead = published.stopped(items, dead) & {c.get("Id") for c in listed}
                running = [c for c in listed if c.get("Id") not in dead]
                rules = self.sync(s, running, rules)
        finally:
            events.close()
            client.close()

    def sync(
        self, s: Session, running: list[dict[str, Any]], rules: tuple[NatRule, ...] | None
    ) -> tuple[NatRule, ...]:
        """ports.sync's plan and apply, as stages.step runs them, under the machine's lock;
        `rules` None: a full sync, with the rules read from VirtualBox. The rules after it."""
        try:
            with self.locked(s) as others_ran:
                full = rules is None
                if others_ran or full:
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
        except SyncFailed:
            raise
        except HelperError as exc:
            raise SyncFailed(exc.reason) from None
        finally:
            if self.interrupted:
                raise KeyboardInterrupt

    @contextlib.contextmanager
    def locked(self, s: Session) -> Iterator[bool]:
        """The machine's lock for one sync (none in a dry run): whether another process held
        it since this watch last did."""
        if s.dry_run:
            yield False
            return
        waiting = False
        while True:
            try:
                previous = s.journal.lock()
                break
            except HelperError:  # Busy: another run works on the machine
                if not waiting:
                    say(f"another run is working on machine {s.name!r}: syncing once it is done")
                    waiting = True
                time.sleep(LOCK_POLL)
        try:
            yield previous != str(os.getpid())
        finally:
            s.journal.release()

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


def watch(c: Any, machine: str | None, storage_path: str | None, port: int, dry_run: bool) -> None:
    """Sync, then follow the daemon's events until Ctrl-C (which ends it normally)."""
    watcher = Watcher(c, machine, storage_path, port, dry_run)
    previous = signal.signal(signal.SIGINT, watcher.interrupt)
    try:
        watcher.run()
    finally:
        signal.signal(signal.SIGINT, previous)
