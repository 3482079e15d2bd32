"""ports.watch through the stand-ins: VirtualBox (MockContext), the daemon's events and lists
(FakeEngine), one step at a time."""

from __future__ import annotations

import contextlib
import os
import signal

import pytest

from docker_vpn_helper.errors import HelperError, MachineBusy
from docker_vpn_helper.journal import Journal
from docker_vpn_helper.stages import ports, watch
from docker_vpn_helper.tasks import ports as tasks

from .standins import (
    DOCKER_RULE,
    SHOW,
    SSH_RULE,
    FakeEngine,
    commands,
    context,
    event,
    fail,
    ok,
    showvminfo,
)
from .test_ports import LIST, WEB, WEB_RULE, controlvm

ADD = controlvm(WEB_RULE)
DELETE = controlvm("delete", "dvh-tcp-8080")
BEFORE = ok(showvminfo(rules=(SSH_RULE, DOCKER_RULE)))
WITH_WEB = ok(showvminfo(rules=(SSH_RULE, DOCKER_RULE, WEB_RULE)))
REFUSED = watch.DaemonGone(
    "cannot ask the Docker daemon at tcp://localhost:2376 for its events: Connection refused"
)


@pytest.fixture
def pauses(monkeypatch):
    """The pauses the watch takes (not taken: the tests do not wait)."""
    taken: list[float] = []
    monkeypatch.setattr(watch.time, "sleep", taken.append)
    monkeypatch.setattr(watch, "LOCK_GAP", 0.0)  # tested on its own
    return taken


@pytest.fixture(autouse=True)
def quiet_host(monkeypatch):
    """No host port is held; every rule VirtualBox accepts listens; the program's name fixed."""
    monkeypatch.setattr(ports, "port_taken", lambda proto, port: False)
    monkeypatch.setattr(ports, "listening", lambda rule: True)
    monkeypatch.setattr(watch, "program_name", lambda: "docker-vpn-helper")


def between(monkeypatch, *actions):
    """Run each of `actions` between two syncs (once the watch has its next events), the way
    another process acts while the watch waits."""
    real, todo = watch.batch, list(actions)

    def batch(arrived):
        items = real(arrived)
        if todo:
            todo.pop(0)()
        return items

    monkeypatch.setattr(watch, "batch", batch)


def run(store, daemon: FakeEngine, answers, monkeypatch, dry_run=False):
    monkeypatch.setattr(watch, "connect", daemon.connect)
    c = context(answers)
    tasks.watch(c, machine="default", storage_path=str(store), dry_run=dry_run)
    return c


def lines(capsys) -> list[str]:
    return [line.strip() for line in capsys.readouterr().err.splitlines()]


def test_a_full_sync_then_one_per_event_with_the_rules_kept_in_memory(
    store, pauses, capsys, monkeypatch
):
    # [] at the start; web starts (an event); web is removed (another event); the stream ends.
    daemon = FakeEngine(
        connections=[[event("start", WEB), event("die", WEB)]], looks=[[], [WEB], []]
    )
    answers = {SHOW: BEFORE, LIST: ok(), ADD: ok(), DELETE: ok()}
    c = run(store, daemon, answers, monkeypatch)
    # VirtualBox's rules are read once, when the watch connects; then kept in memory.
    assert commands(c) == [SHOW, LIST, ADD, DELETE]
    said = lines(capsys)
    assert said[0].startswith(
        "watching machine 'default': container events from tcp://localhost:2376"
    )
    assert "no container publishes a port NAT can reach: nothing to do" in said
    assert f"added NAT rule {WEB_RULE!r} for web" in said
    assert said[-1] == "stopped watching machine 'default'; the NAT rules stay in place"
    assert all(stream.closed for stream in daemon.streams)


def test_a_container_that_died_is_left_out_while_the_list_still_shows_it(
    store, pauses, monkeypatch
):
    # dockerd lists a container as running for ~0.1 s after its `die`; a restart policy brings
    # it back (`start`).
    started, died = event("start", WEB), event("die", WEB)
    daemon = FakeEngine(
        connections=[[started, died, started, died, event()]],
        looks=[[], [WEB], [WEB], [WEB], [WEB], []],
    )
    c = run(store, daemon, {SHOW: BEFORE, LIST: ok(), ADD: ok(), DELETE: ok()}, monkeypatch)
    assert commands(c) == [SHOW, LIST, ADD, DELETE, LIST, ADD, DELETE]


def test_it_reconnects_with_a_growing_pause_and_reads_the_rules_again(
    store, pauses, capsys, monkeypatch
):
    # Connected; the stream ends (a daemon restart); refused twice; back.
    daemon = FakeEngine(connections=[[], REFUSED, REFUSED, []], looks=[[WEB], [WEB]])
    answers = {SHOW: [BEFORE, WITH_WEB], LIST: ok(), ADD: ok()}
    c = run(store, daemon, answers, monkeypatch)
    assert commands(c) == [SHOW, LIST, ADD, SHOW]
    assert pauses == [0.2, 0.4, 0.8, 0.2]  # doubling while away, from the start once it was back
    said = lines(capsys)
    gone = [line for line in said if line.startswith("daemon gone")]
    # One line per change of state, not one per retry.
    assert gone == [
        "daemon gone: the daemon closed its event stream; retrying (if it stays away: "
        f"docker-vpn-helper fix --machine default --storage-path {store})",
        f"daemon gone: {REFUSED.reason}; retrying (if it stays away: "
        f"docker-vpn-helper fix --machine default --storage-path {store})",
        "daemon gone: the daemon closed its event stream; retrying (if it stays away: "
        f"docker-vpn-helper fix --machine default --storage-path {store})",
    ]
    assert said.count("daemon back") == 1
    assert "published ports forwarded: 8080: nothing to do" in said


def test_the_pause_stops_growing_at_five_seconds(store, pauses, capsys, monkeypatch):
    daemon = FakeEngine(connections=[REFUSED] * 8, looks=[])
    run(store, daemon, {}, monkeypatch)
    assert pauses == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0]
    said = lines(capsys)
    assert [line for line in said if line.startswith("daemon")] == [
        f"daemon unreachable: {REFUSED.reason}; retrying (if it stays away: "
        f"docker-vpn-helper fix --machine default --storage-path {store})"
    ]


def test_ctrl_c_while_waiting_for_events_ends_the_task_normally_and_leaves_the_rules(
    store, pauses, capsys, monkeypatch
):
    daemon = FakeEngine(
        connections=[[event("start", WEB)]], looks=[[WEB]]
    )  # Ctrl-C at the next look
    c = run(store, daemon, {SHOW: BEFORE, LIST: ok(), ADD: ok()}, monkeypatch)
    assert commands(c) == [SHOW, LIST, ADD]  # no rule deleted on the way out
    assert lines(capsys)[-1] == "stopped watching machine 'default'; the NAT rules stay in place"
    assert daemon.closed == 1 and daemon.streams[0].closed


def test_ctrl_c_that_invoke_swallows_during_a_command_still_ends_it_after_the_sync(
    store, pauses, capsys, monkeypatch
):
    def ctrl_c_swallowed():
        # invoke's runner catches a KeyboardInterrupt that comes while a command runs, passes
        # it on to the command and carries on.
        with contextlib.suppress(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        return [WEB]

    daemon = FakeEngine(connections=[[event("start", WEB)]], looks=[[], ctrl_c_swallowed, []])
    c = run(store, daemon, {SHOW: BEFORE, LIST: ok(), ADD: ok()}, monkeypatch)
    assert commands(c) == [SHOW, LIST, ADD]  # that sync completes; then it stops
    assert daemon.looks == [[]]
    assert lines(capsys)[-1] == "stopped watching machine 'default'; the NAT rules stay in place"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


def test_without_events_it_syncs_anyway_now_and_then(store, pauses, monkeypatch):
    monkeypatch.setattr(watch, "TICK", 0.01)
    daemon = FakeEngine(connections=[[None]], looks=[[], [WEB]])  # a stream that stays silent
    c = run(store, daemon, {SHOW: BEFORE, LIST: ok(), ADD: ok()}, monkeypatch)
    assert commands(c) == [SHOW, LIST, ADD]


def test_the_lock_is_held_only_while_syncing(store, pauses, monkeypatch):
    lock = Journal(store / "machines" / "default", "default")

    def another_run_can_lock():
        lock.lock(wait=0)  # raises while the watch holds it
        lock.release()

    between(monkeypatch, another_run_can_lock, another_run_can_lock)
    daemon = FakeEngine(connections=[[event(), event()]], looks=[[], [], []])
    run(store, daemon, {SHOW: BEFORE}, monkeypatch)


def test_the_containers_are_listed_with_the_lock_held_never_before(store, pauses, monkeypatch):
    """Listed before the lock, a list could predate another run's sync: the watch would then
    delete the rules of containers that run (issue 21)."""
    other = Journal(store / "machines" / "default", "default")
    refusals = []

    def listed_under_the_lock():
        with pytest.raises(MachineBusy) as refused:
            other.lock(wait=0)
        refusals.append(refused.value)
        return []

    daemon = FakeEngine(
        connections=[[event()]], looks=[listed_under_the_lock, listed_under_the_lock]
    )
    run(store, daemon, {SHOW: BEFORE}, monkeypatch)
    assert len(refusals) == 2
    assert all(r.syncing and r.holder == f"pid {os.getpid()}" for r in refusals)


def test_after_another_run_held_the_lock_the_rules_are_read_again(
    store, pauses, capsys, monkeypatch
):
    lock_file = store / "machines" / "default" / ".docker-vpn-helper.lock"

    def a_fix_ran_meanwhile():
        assert lock_file.read_text().split() == [str(os.getpid()), "sync"]
        lock_file.write_text("999999 run")  # what another run leaves in the lock file

    between(monkeypatch, a_fix_ran_meanwhile)
    daemon = FakeEngine(connections=[[event("start", WEB)] * 2], looks=[[], [WEB], [WEB]])
    c = run(store, daemon, {SHOW: [BEFORE, WITH_WEB]}, monkeypatch)
    # The fix forwarded web already: the watch sees its rule and adds nothing.
    assert commands(c) == [SHOW, SHOW]


def test_a_sync_waits_while_another_run_holds_the_lock(store, capsys, monkeypatch):
    other = Journal(store / "machines" / "default", "default")
    waited: list[float] = []

    def another_run_starts():
        other.lock()
        other.lock_path.write_text("999999 run")  # its pid

    def sleep(seconds):
        waited.append(seconds)
        if len(waited) == 3:
            other.release()  # the other run is done

    monkeypatch.setattr(watch.time, "sleep", sleep)
    monkeypatch.setattr(watch, "LOCK_GAP", 0.0)
    between(monkeypatch, another_run_starts)
    daemon = FakeEngine(connections=[[event("start", WEB)]], looks=[[], [WEB]])
    c = run(store, daemon, {SHOW: [BEFORE, BEFORE], LIST: ok(), ADD: ok()}, monkeypatch)
    assert waited[:3] == [watch.LOCK_POLL] * 3
    assert commands(c) == [SHOW, SHOW, LIST, ADD]  # it read the rules again after the other run
    said = lines(capsys)
    assert said.count("another run is working on machine 'default': syncing once it is done") == 1


def test_a_failed_sync_starts_over_from_virtualbox(store, pauses, capsys, monkeypatch):
    daemon = FakeEngine(connections=[[], []], looks=[[WEB], [WEB]])
    answers = {
        SHOW: [BEFORE, WITH_WEB],
        LIST: ok(),
        ADD: fail("VBoxManage: error: A NAT rule of this name already exists"),
    }
    c = run(store, daemon, answers, monkeypatch)
    assert commands(c) == [SHOW, LIST, ADD, SHOW]
    said = lines(capsys)
    failed = [line for line in said if line.startswith("sync failed")]
    assert (
        len(failed) == 1
        and "a rule of that name exists" in failed[0]
        and failed[0].endswith("starting over")
    )
    assert "published ports forwarded: 8080: nothing to do" in said
    assert "daemon back" not in said


def test_dry_run_says_what_each_sync_would_do_and_takes_no_lock(store, pauses, capsys, monkeypatch):
    other = Journal(store / "machines" / "default", "default")
    other.lock()  # a fix is running: a dry watch does not wait for it
    try:
        daemon = FakeEngine(connections=[[event("start", WEB)]], looks=[[], [WEB]])
        c = run(store, daemon, {SHOW: BEFORE, LIST: ok()}, monkeypatch, dry_run=True)
    finally:
        other.release()
    assert commands(c) == [SHOW, LIST]
    assert (
        "would run: VBoxManage controlvm default natpf1 dvh-tcp-8080,tcp,127.0.0.1,8080,,8080  # "
        "add NAT rule dvh-tcp-8080: 127.0.0.1:8080 -> the VM's 8080, for container web"
        in lines(capsys)
    )


def test_notes_are_said_when_they_change_not_at_every_event(store, pauses, capsys, monkeypatch):
    admin = {
        "Id": "a" * 64,
        "Names": ["/admin"],
        "Ports": [{"IP": "127.0.0.1", "PrivatePort": 80, "PublicPort": 9000, "Type": "tcp"}],
    }
    daemon = FakeEngine(connections=[[event(), event()]], looks=[[admin], [admin], []])
    run(store, daemon, {SHOW: BEFORE}, monkeypatch)
    note = "container admin publishes 9000 only on the VM's 127.0.0.1: NAT cannot reach it"
    assert lines(capsys).count(note) == 1


def test_a_machine_missing_from_the_store_stops_it_at_once(store, monkeypatch):
    monkeypatch.setattr(watch, "connect", FakeEngine([], []).connect)
    with pytest.raises(HelperError, match="no machine 'nope' in"):
        tasks.watch(context({}), machine="nope", storage_path=str(store))


def test_the_connection_subscribes_to_events_before_it_lists(store, monkeypatch):
    from docker_vpn_helper.adapters import engine
    from docker_vpn_helper.session import Session, settings_for

    order = []
    monkeypatch.setattr(engine, "events", lambda *a, **k: order.append(("events", k)) or "stream")
    monkeypatch.setattr(engine, "Engine", lambda *a: order.append(("client", a[0])) or "client")
    s = Session(context({}), settings_for(context({}), "default", str(store)))
    assert watch.connect(s) == ("client", "stream")
    assert order == [("events", {"actions": ("start", "die")}), ("client", 2376)]


def test_the_task_runs_no_other_stage_first():
    assert tasks.watch.pre == []


def test_a_lock_file_that_is_not_ours_ends_the_watch_with_its_line(
    store, pauses, capsys, monkeypatch, tmp_path
):
    """Only a busy machine is waited for (issue 20): before, a symlinked lock file read as
    "another run is working" and the watch waited forever."""
    lock_file = store / "machines" / "default" / ".docker-vpn-helper.lock"
    lock_file.symlink_to(tmp_path / "elsewhere")
    daemon = FakeEngine(connections=[[event()]] * 3, looks=[[]] * 3)
    with pytest.raises(HelperError, match="is a symbolic link: not ours") as ended:
        run(store, daemon, {SHOW: BEFORE}, monkeypatch)
    assert not isinstance(ended.value, MachineBusy)
    assert daemon.looks == [[]] * 3 and pauses == []  # no sync, no retry
    assert "another run is working" not in capsys.readouterr().err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_or_ctrl_c_ends_it_normally_with_a_line_for_a_stopped_service(
    store, pauses, capsys, monkeypatch, signum
):
    """systemd and launchd stop an agent with SIGTERM: the task returns (exit status 0)."""

    def stopped():
        signal.raise_signal(signum)  # arrives while waiting for events: ends it at once

    monkeypatch.setattr(watch, "batch", lambda arrived: stopped())
    daemon = FakeEngine(connections=[[event()]], looks=[[]])
    previous = signal.getsignal(signal.SIGTERM)
    run(store, daemon, {SHOW: BEFORE}, monkeypatch)
    how = " on SIGTERM" if signum == signal.SIGTERM else ""
    assert lines(capsys)[-1] == (
        f"stopped watching machine 'default'{how}; the NAT rules stay in place"
    )
    assert signal.getsignal(signal.SIGTERM) is previous  # put back


def test_sigterm_during_a_sync_ends_it_once_the_sync_is_done(store, pauses, capsys, monkeypatch):
    def sigterm_then_web():
        signal.raise_signal(signal.SIGTERM)
        return [WEB]

    daemon = FakeEngine(connections=[[event()]], looks=[[], sigterm_then_web, []])
    c = run(store, daemon, {SHOW: BEFORE, LIST: ok(), ADD: ok()}, monkeypatch)
    assert commands(c) == [SHOW, LIST, ADD]  # the rule went in; then it stopped
    assert daemon.looks == [[]]
    assert lines(capsys)[-1].endswith("on SIGTERM; the NAT rules stay in place")


def test_with_wait_for_machine_a_missing_machine_is_looked_for_less_and_less_often(
    store, capsys, monkeypatch
):
    """The login agent outlives a machine removed and created again: it backs off instead of
    exiting (which systemd would restart every 5 s), one line when it goes, one when back."""
    machine = store / "machines" / "default"
    hidden = store / "hidden-default"
    machine.rename(hidden)
    waited: list[float] = []

    def sleep(seconds):
        waited.append(seconds)
        if len(waited) == 9:
            hidden.rename(machine)

    monkeypatch.setattr(watch.time, "sleep", sleep)
    monkeypatch.setattr(watch, "connect", FakeEngine([[]], [[]]).connect)
    tasks.watch(context({SHOW: BEFORE}), machine="default", storage_path=str(store),
                wait_for_machine=True)  # fmt: skip
    assert waited[:9] == [5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0, 300.0]
    said = lines(capsys)
    assert said[:2] == [
        f"no machine 'default' in {store}: looking again in 5 s, then less and less often "
        "(at least every 300 s)",
        f"machine 'default' is back in {store}",
    ]


def test_without_wait_for_machine_a_machine_that_goes_ends_the_watch(store, pauses, monkeypatch):
    machine = store / "machines" / "default"

    def removed():
        machine.rename(store / "elsewhere")
        return []

    daemon = FakeEngine(connections=[[]], looks=[removed])
    with pytest.raises(HelperError, match=f"^no machine 'default' in {store}$"):
        run(store, daemon, {SHOW: BEFORE}, monkeypatch)


def test_the_lock_stays_free_between_two_syncs_for_a_waiting_run(store, monkeypatch):
    waited: list[float] = []
    monkeypatch.setattr(watch.time, "sleep", waited.append)
    daemon = FakeEngine(connections=[[event(), event()]], looks=[[], [], []])
    run(store, daemon, {SHOW: BEFORE}, monkeypatch)
    assert all(0 < w <= watch.LOCK_GAP for w in waited[:2])  # before the 2nd and 3rd sync
    assert waited[2:] == [watch.FIRST_PAUSE]  # the stream ended: reconnecting
