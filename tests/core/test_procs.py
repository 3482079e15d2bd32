from __future__ import annotations

import pytest

from docker_vpn_helper.core.procs import (
    VIRTUALBOX_PROCESS_NAMES,
    Process,
    describe,
    parse_ps,
    virtualbox_processes,
)

from .fixtures import load


def test_parse_ps_macos_full_paths():
    procs = {p.pid: p for p in parse_ps(load("ps_macos.txt"))}
    assert procs[812] == Process(
        812, "VBoxHeadless", "/Applications/VirtualBox.app/Contents/MacOS/VBoxHeadless"
    )
    assert procs[1042].name == "Google Chrome"  # path with spaces
    assert procs[4410].name == "-zsh"
    assert procs[4501].name == "VBoxManage"  # zombie shown as (name)
    assert len(procs) == 13


def test_parse_ps_linux_task_names():
    procs = {p.pid: p for p in parse_ps(load("ps_linux.txt"))}
    assert procs[2410] == Process(2410, "VBoxHeadless", "VBoxHeadless")
    assert procs[4].name == "kworker/R-rcu_gp"  # a slash that is not a path
    assert procs[2603].name == "tmux: server"
    assert procs[2602].name == "VBoxManage"  # "VBoxManage <defunct>"
    assert procs[2602].command == "VBoxManage <defunct>"


@pytest.mark.parametrize(
    "fixture, expected",
    [
        (
            "ps_macos.txt",
            [
                (790, "VBoxSVC"),
                (791, "VBoxXPCOMIPCD"),
                (812, "VBoxHeadless"),
                (830, "VBoxNetDHCP"),
                (4501, "VBoxManage"),
            ],
        ),
        (
            "ps_linux.txt",
            [
                (655, "vboxwebsrv"),
                (2301, "VBoxXPCOMIPCD"),
                (2307, "VBoxSVC"),
                (2410, "VBoxHeadless"),
                (2417, "VirtualBoxVM"),
                (2602, "VBoxManage"),
            ],
        ),
    ],
)
def test_virtualbox_processes(fixture, expected):
    found = virtualbox_processes(parse_ps(load(fixture)))
    assert [(p.pid, p.name) for p in found] == expected


@pytest.mark.parametrize(
    "comm",
    [
        "/usr/local/bin/VBoxManageHelper",
        "/Users/jane/bin/myVirtualBox",
        "VBoxManageHelpe",  # Linux truncation of VBoxManageHelper
        "virtualbox",  # case matters
        "VBOXSVC",
        "/Applications/VirtualBox.app",
        "VirtualBox Helper",
    ],
)
def test_no_false_positives(comm):
    assert virtualbox_processes(parse_ps(f"  77 {comm}\n")) == []


@pytest.mark.parametrize("name", VIRTUALBOX_PROCESS_NAMES)
def test_every_name_matches_as_path_and_as_task_name(name):
    text = f" 10 /Applications/VirtualBox.app/Contents/MacOS/{name}\n 11 {name}\n"
    assert [p.pid for p in virtualbox_processes(parse_ps(text))] == [10, 11]
    assert len(name) <= 15  # Linux comm never truncates one of ours


def test_exclude_pids():
    procs = parse_ps("  5 VBoxManage\n  6 VBoxSVC\n")
    assert [p.pid for p in virtualbox_processes(procs, exclude_pids={5})] == [6]
    assert [p.pid for p in virtualbox_processes(procs, exclude_pids=[5, 6])] == []


def test_parse_ps_liberal_input():
    text = (
        "  PID COMMAND\r\n"
        "  812 /Applications/VirtualBox.app/Contents/MacOS/VBoxHeadless  \r\n\r\nnoise\n"
    )
    assert parse_ps(text) == [
        Process(812, "VBoxHeadless", "/Applications/VirtualBox.app/Contents/MacOS/VBoxHeadless")
    ]
    assert parse_ps("") == []


def test_describe():
    procs = [Process(812, "VBoxHeadless", "x"), Process(790, "VBoxSVC", "y")]
    assert describe(procs) == "VBoxHeadless (pid 812), VBoxSVC (pid 790)"
    assert describe([]) == ""
    assert describe(iter(procs[:1])) == "VBoxHeadless (pid 812)"
