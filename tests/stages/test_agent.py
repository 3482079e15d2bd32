"""agent.install / agent.uninstall / agent.status through the stand-ins: launchctl and systemctl
answered by MockContext, HOME a temporary folder (tests/conftest.py: the real ~ is never
touched)."""

from __future__ import annotations

import os
import plistlib
import sys
from pathlib import Path

import pytest
from invoke import Result
from invoke.exceptions import Exit

from docker_vpn_helper.errors import HelperError
from docker_vpn_helper.stages import agent as stage
from docker_vpn_helper.tasks import agent as tasks

from ..support.runs import close_all
from .standins import cmd, commands, context, fail, ok

TOOL = "/opt/tools/bin/docker-vpn-helper"
UNIT = "docker-vpn-helper-ports-default.service"
LABEL = "io.github.docker-vpn-helper.ports.default"
IS_ACTIVE = cmd("systemctl", "--user", "is-active", UNIT)
RELOAD = cmd("systemctl", "--user", "daemon-reload")
ENABLE_NOW = cmd("systemctl", "--user", "enable", "--now", UNIT)
DISABLE_NOW = cmd("systemctl", "--user", "disable", "--now", UNIT)
RESET_FAILED = cmd("systemctl", "--user", "reset-failed", UNIT)
INACTIVE = Result(stdout="inactive\n", exited=3)
PRINT = cmd("launchctl", "print", f"gui/{os.getuid()}/{LABEL}")
BOOTOUT = cmd("launchctl", "bootout", f"gui/{os.getuid()}/{LABEL}")
NOT_LOADED = fail(f'Bad request.\nCould not find service "{LABEL}" in domain for port', 113)
LOADED = ok(f"gui/{os.getuid()}/{LABEL} = {{\n\tactive count = 1\n\tstate = running\n}}\n")


@pytest.fixture
def home(isolated_home, monkeypatch) -> Path:
    """HOME (a temporary folder for every test, tests/conftest.py); no XDG_CONFIG_HOME; the
    tool was run as /opt/tools/bin/docker-vpn-helper."""
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("PATH", "/usr/local/bin:/usr/bin:/bin")
    monkeypatch.setattr(sys, "argv", [TOOL, "agent.install"])
    return isolated_home


@pytest.fixture
def launchd(monkeypatch):
    monkeypatch.setattr(stage, "kind", lambda: "launchd")


@pytest.fixture
def systemd(monkeypatch):
    monkeypatch.setattr(stage, "kind", lambda: "systemd")


def unit_file(home: Path) -> Path:
    return home / ".config" / "systemd" / "user" / UNIT


def plist_file(home: Path) -> Path:
    return home / "Library" / "LaunchAgents" / f"{LABEL}.plist"


def install(store, answers, dry_run=False):
    """One `agent.install` command: its own run."""
    c = context(answers)
    tasks.install(c, machine="default", storage_path=str(store), dry_run=dry_run)
    close_all()
    return c


def uninstall(store, answers):
    c = context(answers)
    tasks.uninstall(c, machine="default", storage_path=str(store))
    close_all()
    return c


def test_systemd_install_writes_the_unit_and_starts_it(store, home, systemd, capsys):
    c = install(store, {IS_ACTIVE: INACTIVE, RELOAD: ok(), ENABLE_NOW: ok()})
    assert commands(c) == [IS_ACTIVE, RELOAD, ENABLE_NOW]
    unit = unit_file(home)
    assert unit.stat().st_mode & 0o777 == 0o644
    lines = unit.read_text().splitlines()
    assert (
        f'ExecStart="{TOOL}" "ports.watch" "--machine" "default" "--wait-for-machine" '
        f'"--storage-path" "{store}"'
    ) in lines
    assert 'Environment="PATH=/usr/local/bin:/usr/bin:/bin"' in lines  # VBoxManage is found
    err = capsys.readouterr().err
    assert f"wrote {unit}" in err
    assert (
        f"runs `ports.watch --machine default` at every login (log: journalctl --user -u {UNIT})"
        in err
    )


def test_a_second_install_changes_nothing_and_says_so(store, home, systemd, capsys):
    install(store, {IS_ACTIVE: INACTIVE, RELOAD: ok(), ENABLE_NOW: ok()})
    written = unit_file(home).stat().st_mtime_ns
    capsys.readouterr()
    c = install(store, {IS_ACTIVE: ok("active\n")})
    assert commands(c) == [IS_ACTIVE]
    assert unit_file(home).stat().st_mtime_ns == written
    assert (
        f"the agent {UNIT} is installed and running ({unit_file(home)}): nothing to do"
        in capsys.readouterr().err
    )


def test_a_changed_unit_is_rewritten_and_restarted(store, home, systemd, monkeypatch, capsys):
    install(store, {IS_ACTIVE: INACTIVE, RELOAD: ok(), ENABLE_NOW: ok()})
    monkeypatch.setenv("PATH", "/opt/homebrew/bin:/usr/bin:/bin")
    enable = cmd("systemctl", "--user", "enable", UNIT)
    restart = cmd("systemctl", "--user", "restart", UNIT)
    c = install(store, {IS_ACTIVE: ok("active\n"), RELOAD: ok(), enable: ok(), restart: ok()})
    assert commands(c) == [IS_ACTIVE, RELOAD, enable, restart]
    assert 'Environment="PATH=/opt/homebrew/bin:/usr/bin:/bin"' in unit_file(home).read_text()
    assert f"wrote {unit_file(home)}" in capsys.readouterr().err


def test_an_installed_unit_that_stopped_is_started_again_without_a_write(store, home, systemd):
    install(store, {IS_ACTIVE: INACTIVE, RELOAD: ok(), ENABLE_NOW: ok()})
    written = unit_file(home).stat().st_mtime_ns
    c = install(
        store, {IS_ACTIVE: Result(stdout="failed\n", exited=3), RELOAD: ok(), ENABLE_NOW: ok()}
    )
    assert commands(c) == [IS_ACTIVE, RELOAD, ENABLE_NOW]
    assert unit_file(home).stat().st_mtime_ns == written


def test_xdg_config_home_is_where_the_unit_goes(store, home, systemd, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    install(store, {IS_ACTIVE: INACTIVE, RELOAD: ok(), ENABLE_NOW: ok()})
    assert (tmp_path / "config" / "systemd" / "user" / UNIT).is_file()
    assert not unit_file(home).exists()


def test_a_failing_command_is_one_line(store, home, systemd):
    refused = fail("Failed to connect to bus: No medium found")
    with pytest.raises(
        HelperError, match=r"^systemctl --user daemon-reload failed: Failed to connect to bus"
    ):
        install(store, {IS_ACTIVE: INACTIVE, RELOAD: refused})


def test_launchd_install_writes_a_plist_launchd_reads_and_bootstraps_it(store, home, launchd):
    bootstrap = cmd("launchctl", "bootstrap", f"gui/{os.getuid()}", str(plist_file(home)))
    c = install(store, {PRINT: NOT_LOADED, bootstrap: ok()})
    assert commands(c) == [PRINT, bootstrap]
    logs = home / "Library" / "Logs" / "docker-vpn-helper"
    assert logs.is_dir()  # launchd does not create the log's folder
    plist = plistlib.loads(plist_file(home).read_bytes())
    assert plist["ProgramArguments"] == [
        TOOL, "ports.watch", "--machine", "default", "--wait-for-machine", "--storage-path",
        str(store)
    ]  # fmt: skip
    assert plist["EnvironmentVariables"]["PATH"] == "/usr/local/bin:/usr/bin:/bin"
    assert plist["StandardErrorPath"] == str(logs / "ports-default.log")
    assert plist["RunAtLoad"] is True and plist["KeepAlive"] is True
    # Loaded and running from the same file: nothing to do.
    assert commands(install(store, {PRINT: LOADED})) == [PRINT]


def test_launchd_reloads_a_loaded_agent_whose_plist_changed(store, home, launchd, monkeypatch):
    bootstrap = cmd("launchctl", "bootstrap", f"gui/{os.getuid()}", str(plist_file(home)))
    install(store, {PRINT: NOT_LOADED, bootstrap: ok()})
    monkeypatch.setattr(sys, "argv", ["/usr/local/bin/python3", "-m", "invoke"])  # via a clone
    c = install(store, {PRINT: LOADED, BOOTOUT: ok(), bootstrap: ok()})
    assert commands(c) == [PRINT, BOOTOUT, bootstrap]
    program = plistlib.loads(plist_file(home).read_bytes())["ProgramArguments"][:3]
    assert program == [sys.executable, "-m", "docker_vpn_helper"]


def test_dry_run_says_what_it_would_do_and_does_nothing(store, home, systemd, capsys):
    c = install(store, {IS_ACTIVE: INACTIVE}, dry_run=True)
    assert commands(c) == [IS_ACTIVE]
    assert not unit_file(home).parent.exists()
    err = capsys.readouterr().err
    assert f"would write {unit_file(home)}" in err
    assert f"would run: systemctl --user enable --now {UNIT}" in err


def test_install_needs_the_machine(store, home, systemd):
    with pytest.raises(
        HelperError, match=r"no machine 'nope' in .*: the agent would watch nothing"
    ):
        tasks.install(context({}), machine="nope", storage_path=str(store))


def test_uninstall_removes_what_install_wrote_and_a_second_one_changes_nothing(
    store, home, systemd, capsys
):
    install(store, {IS_ACTIVE: INACTIVE, RELOAD: ok(), ENABLE_NOW: ok()})
    # reset-failed fails for a unit that never failed (unloaded once stopped): that is fine.
    not_loaded = fail(f"Failed to reset failed state of unit {UNIT}: Unit {UNIT} not loaded.")
    answers = {IS_ACTIVE: ok("active\n"), DISABLE_NOW: ok(), RESET_FAILED: not_loaded, RELOAD: ok()}
    c = uninstall(store, answers)
    assert commands(c) == [IS_ACTIVE, DISABLE_NOW, RELOAD, RESET_FAILED]
    assert not unit_file(home).exists()
    assert f"removed {unit_file(home)}" in capsys.readouterr().err
    c = uninstall(store, {IS_ACTIVE: INACTIVE})
    assert commands(c) == [IS_ACTIVE]
    assert f"no agent {UNIT} ({unit_file(home)}): nothing to do" in capsys.readouterr().err
    assert sorted(p.name for p in home.rglob("*") if p.is_file()) == []


def test_uninstall_of_an_agent_launchd_no_longer_has_still_removes_its_file(
    store, home, launchd, capsys
):
    bootstrap = cmd("launchctl", "bootstrap", f"gui/{os.getuid()}", str(plist_file(home)))
    install(store, {PRINT: NOT_LOADED, bootstrap: ok()})
    c = uninstall(store, {PRINT: NOT_LOADED, BOOTOUT: NOT_LOADED})
    assert commands(c) == [PRINT, BOOTOUT]
    assert not plist_file(home).exists()
    assert "the watch's log stays: " in capsys.readouterr().err


def test_uninstall_stops_when_a_loaded_agent_will_not_stop(store, home, launchd):
    bootstrap = cmd("launchctl", "bootstrap", f"gui/{os.getuid()}", str(plist_file(home)))
    install(store, {PRINT: NOT_LOADED, bootstrap: ok()})
    with pytest.raises(HelperError, match=r"launchctl bootout .* failed: Operation not permitted"):
        uninstall(store, {PRINT: LOADED, BOOTOUT: fail("Boot-out failed: Operation not permitted")})
    assert plist_file(home).exists()


def test_status_says_installed_and_running_and_exits_1_unless_both(store, home, systemd, capsys):
    with pytest.raises(Exit) as exit_:
        tasks.status(context({IS_ACTIVE: INACTIVE}), machine="default", storage_path=str(store))
    assert exit_.value.code == 1
    assert capsys.readouterr().out.splitlines() == [
        f"agent for machine 'default': systemd {UNIT}",
        "  installed: no",
        "  running:   no",
        f"  log:       journalctl --user -u {UNIT}",
    ]
    install(store, {IS_ACTIVE: INACTIVE, RELOAD: ok(), ENABLE_NOW: ok()})
    capsys.readouterr()
    tasks.status(context({IS_ACTIVE: ok("active\n")}), machine="default", storage_path=str(store))
    out = capsys.readouterr().out.splitlines()
    assert out[1:3] == [f"  installed: yes, {unit_file(home)}", "  running:   yes"]


def test_launchd_status_tells_loaded_from_running(store, home, launchd, capsys):
    waiting = ok(f"gui/{os.getuid()}/{LABEL} = {{\n\tstate = not running\n}}\n")
    with pytest.raises(Exit):
        tasks.status(context({PRINT: waiting}), machine="default", storage_path=str(store))
    assert "  running:   loaded, not running" in capsys.readouterr().out.splitlines()


@pytest.mark.parametrize(
    ("argv0", "command"),
    [
        (TOOL, [TOOL]),
        ("/usr/lib/python3/site-packages/docker_vpn_helper/__main__.py", None),  # python -m
        ("/home/jane/clone/.venv/bin/invoke", None),
    ],
)
def test_the_command_the_agent_runs(argv0, command, monkeypatch):
    monkeypatch.setattr(sys, "argv", [argv0])
    assert stage.tool_command() == (command or [sys.executable, "-m", "docker_vpn_helper"])


def test_a_bare_program_name_is_found_on_path(tmp_path, monkeypatch):
    script = tmp_path / "docker-vpn-helper"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["docker-vpn-helper"])
    assert stage.tool_command() == [str(script)]
