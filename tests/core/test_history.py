"""The journal's runs read as a history: what is in effect, what docker-machine left."""

from pathlib import Path

import pytest

from docker_vpn_helper.core.history import (
    ORIGINAL,
    Run,
    describe,
    guest_original,
    in_effect,
    original,
)


def run(stamp, **manifest):
    return Run(stamp, Path("/b") / stamp, manifest)


FIX1 = run(
    "20240101T000000.000000Z",
    command="docker-vpn-helper fix",
    local={"/m/server.pem": "server.pem"},
    guest=[["/vm/backups/1/server.pem", "/vm/server.pem"]],
    nat={"added": "docker,tcp,127.0.0.1,2376,,2376", "replaced": None},
)
FIX2 = run("20240102T000000.000000Z", local={"/m/server.pem": "server.pem"})


def stamps(runs):
    return [r.stamp for r in runs]


def test_restores_walk_back_and_a_restore_of_a_restore_puts_its_run_back():
    undo2 = run("20240103T000000.000000Z", undid=FIX2.stamp)
    assert stamps(in_effect([FIX1, FIX2, undo2])) == [FIX1.stamp]
    undo1 = run("20240104T000000.000000Z", undid=FIX1.stamp)
    assert in_effect([FIX1, FIX2, undo2, undo1]) == []
    redo = run("20240105T000000.000000Z", undid=undo1.stamp)
    assert stamps(in_effect([FIX1, FIX2, undo2, undo1, redo])) == [FIX1.stamp]
    everything = run("20240106T000000.000000Z", undid=ORIGINAL)
    assert in_effect([FIX1, FIX2, everything]) == []


def test_original_is_the_first_copy_of_each_file():
    first = original([FIX1, FIX2])
    assert first.local == {Path("/m/server.pem"): Path("/b") / FIX1.stamp / "server.pem"}
    assert first.guest == (("/vm/server.pem", ("/vm/backups/1/server.pem",)),)
    assert first.nat_added and first.nat_replaced == ""


def test_describe_one_line_per_run():
    undo2 = run("20240103T000000.000000Z", undid=FIX2.stamp, local={"/m/server.pem": "server.pem"})
    lines = describe([FIX1, FIX2, undo2])
    assert lines == [
        "20240101T000000.000000Z  2024-01-01 00:00:00 UTC  docker-vpn-helper fix: replaced "
        "server.pem; the VM's server.pem; added NAT rule docker,tcp,127.0.0.1,2376,,2376 "
        "[in effect]",
        "20240102T000000.000000Z  2024-01-02 00:00:00 UTC  a run: replaced server.pem "
        "[undone by 20240103T000000.000000Z]",
        "20240103T000000.000000Z  2024-01-03 00:00:00 UTC  restore of 20240102T000000.000000Z: "
        "replaced server.pem",
    ]


KILLED = "/vm/backups/1/server.pem"  # noted by a run stopped before it made its copies
COPY = "/vm/backups/2/server.pem"
LATER = "/vm/backups/3/server.pem"
TARGET = "/vm/server.pem"


@pytest.mark.parametrize(
    "copies, found, pairs, lost",
    [
        # the first run's copy is docker-machine's file
        ((COPY, LATER), {COPY: b"dm", LATER: b"ours", TARGET: b"ours"}, ((COPY, TARGET),), ()),
        # a run stopped before its copies never changed the file: the next run's copy is it
        ((KILLED, COPY), {COPY: b"dm", TARGET: b"ours"}, ((COPY, TARGET),), ()),
        # already as docker-machine left it: nothing to put back
        ((KILLED, COPY), {COPY: b"dm", TARGET: b"dm"}, (), ()),
        # the file did not exist before the first run: it goes
        (("", COPY), {COPY: b"ours", TARGET: b"ours"}, (("", TARGET),), ()),
        (("", COPY), {COPY: b"ours"}, (), ()),
        # no copy left at all: the file stays, said
        ((KILLED,), {TARGET: b"ours"}, (), (TARGET,)),
    ],
)
def test_the_vms_original_is_its_oldest_copy_that_exists(copies, found, pairs, lost):
    assert guest_original([(TARGET, copies)], found) == (pairs, lost)
