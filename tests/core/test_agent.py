"""The login agent's files, read back by the programs that will read them: plistlib for launchd,
`systemd-analyze verify` for systemd (it also checks that ExecStart names an executable)."""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import xml.dom.minidom
from pathlib import Path

import pytest

from docker_vpn_helper.core import agent
from docker_vpn_helper.errors import HelperError

HOME = Path("/Users/jane")
TOOL = "/usr/local/bin/docker-vpn-helper"
STORE = Path("/Volumes/Data & Co/<docker>/machine's store")
WATCH = ["ports.watch", "--machine", "dev", "--wait-for-machine"]
PATH = "/usr/local/bin:/opt/homebrew/bin:/usr/bin:/bin"


def launch_agent(command=(TOOL,), **kwargs) -> agent.Agent:
    return agent.agent("launchd", "dev", list(command), home=HOME, uid=501, **kwargs)


def systemd_unit(command=(TOOL,), home=Path("/home/jane"), **kwargs) -> agent.Agent:
    return agent.agent("systemd", "dev", list(command), home=home, uid=1000, **kwargs)


# --- names and places --------------------------------------------------------------------------


def test_names_and_paths():
    assert agent.label("dev.1") == "io.github.docker-vpn-helper.ports.dev.1"
    assert agent.unit_name("dev.1") == "docker-vpn-helper-ports-dev.1.service"
    assert agent.plist_path(HOME, "dev") == Path(
        "/Users/jane/Library/LaunchAgents/io.github.docker-vpn-helper.ports.dev.plist"
    )
    assert agent.log_path(HOME, "dev") == Path(
        "/Users/jane/Library/Logs/docker-vpn-helper/ports-dev.log"
    )
    assert agent.unit_path(Path("/home/jane"), "dev") == Path(
        "/home/jane/.config/systemd/user/docker-vpn-helper-ports-dev.service"
    )
    assert agent.unit_path(Path("/home/jane"), "dev", Path("/cfg")) == Path(
        "/cfg/systemd/user/docker-vpn-helper-ports-dev.service"
    )


@pytest.mark.parametrize("name", ["", "-x", "a b", "a/b", "dev\n", "ä"])
def test_names_docker_machine_would_refuse_are_refused(name):
    with pytest.raises(HelperError, match="invalid machine name"):
        agent.label(name)
    with pytest.raises(HelperError, match="invalid machine name"):
        agent.unit_name(name)


@pytest.mark.parametrize(
    "platform, kind", [("darwin", "launchd"), ("linux", "systemd"), ("linux2", "systemd")]
)
def test_kind_for_the_platform(platform, kind):
    assert agent.kind_for(platform) == kind


def test_no_agent_elsewhere():
    with pytest.raises(HelperError, match="not win32"):
        agent.kind_for("win32")
    with pytest.raises(HelperError, match="unknown agent kind 'cron'"):
        agent.agent("cron", "dev", [TOOL], home=HOME, uid=1)


def test_the_command_is_ports_watch_by_absolute_path():
    watch = ["ports.watch", "--machine", "dev", "--wait-for-machine"]
    assert agent.arguments([TOOL], "dev", None) == [TOOL, *watch]
    assert agent.arguments(["/usr/bin/python3", "-m", "docker_vpn_helper"], "dev", STORE) == [
        "/usr/bin/python3",
        "-m",
        "docker_vpn_helper",
        *watch,
        "--storage-path",
        str(STORE),
    ]
    for relative in (["docker-vpn-helper"], []):
        with pytest.raises(HelperError, match="absolute path"):
            agent.arguments(relative, "dev", None)


# --- launchd -----------------------------------------------------------------------------------


def test_the_plist_parses_and_says_what_launchd_needs():
    la = launch_agent(storage_path=STORE, search_path=PATH)
    assert la.path == agent.plist_path(HOME, "dev")
    assert plistlib.loads(la.text.encode()) == {
        "Label": "io.github.docker-vpn-helper.ports.dev",
        "ProgramArguments": [TOOL, *WATCH, "--storage-path", str(STORE)],
        "EnvironmentVariables": {"MACHINE_STORAGE_PATH": str(STORE), "PATH": PATH},
        "RunAtLoad": True,
        "KeepAlive": True,
        "StandardOutPath": "/Users/jane/Library/Logs/docker-vpn-helper/ports-dev.log",
        "StandardErrorPath": "/Users/jane/Library/Logs/docker-vpn-helper/ports-dev.log",
    }
    assert "&amp;" in la.text and "&lt;docker&gt;" in la.text  # escaped, not just parseable


def test_the_plist_without_a_store_or_path_sets_no_environment():
    parsed = plistlib.loads(launch_agent().text.encode())
    assert "EnvironmentVariables" not in parsed
    assert parsed["ProgramArguments"] == [TOOL, *WATCH]


def test_a_home_and_a_tool_with_xml_characters_survive():
    home = Path("/Users/Tom & Jerry <dev>")
    tool = '/Applications/"Tools" & Co/bin/docker-vpn-helper'
    la = agent.agent("launchd", "dev", [tool], home=home, uid=501)
    parsed = plistlib.loads(la.text.encode())
    assert parsed["ProgramArguments"][0] == tool
    assert parsed["StandardOutPath"] == f"{home}/Library/Logs/docker-vpn-helper/ports-dev.log"


def test_the_plist_is_a_valid_xml_document_with_a_doctype():
    text = launch_agent(storage_path=Path("/a--b")).text  # `--` may not appear in an XML comment
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist')
    xml.dom.minidom.parseString(text.encode())


def test_launchd_folders_and_commands():
    la = launch_agent()
    assert la.folders == (
        Path("/Users/jane/Library/LaunchAgents"),
        Path("/Users/jane/Library/Logs/docker-vpn-helper"),
    )
    target = "gui/501/io.github.docker-vpn-helper.ports.dev"
    assert la.install_commands() == [["launchctl", "bootstrap", "gui/501", str(la.path)]]
    assert la.reload_commands() == [
        ["launchctl", "bootout", target],
        ["launchctl", "bootstrap", "gui/501", str(la.path)],
    ]
    assert la.uninstall_commands() == [["launchctl", "bootout", target]]
    assert la.after_removal_commands() == []
    assert la.status_command() == ["launchctl", "print", target]


@pytest.mark.parametrize("kind", agent.KINDS)
def test_a_control_character_cannot_be_written(kind):
    with pytest.raises(HelperError, match="control character"):
        agent.agent(kind, "dev", [TOOL], home=HOME, uid=1, storage_path=Path("/a\nb"))


@pytest.mark.parametrize("kind", agent.KINDS)
def test_the_same_inputs_give_the_same_file(kind):
    # How `agent.install` run twice knows it has nothing to change.
    first = agent.agent(kind, "dev", [TOOL], home=HOME, uid=1, storage_path=STORE, search_path=PATH)
    again = agent.agent(kind, "dev", [TOOL], home=HOME, uid=1, storage_path=STORE, search_path=PATH)
    assert first == again


# --- systemd -----------------------------------------------------------------------------------


def test_the_unit_runs_the_watcher_and_restarts_it():
    unit = systemd_unit(storage_path=Path("/home/jane/.docker/machine"), search_path=PATH)
    assert unit.path == Path("/home/jane/.config/systemd/user/docker-vpn-helper-ports-dev.service")
    assert unit.folders == (unit.path.parent,)
    lines = unit.text.splitlines()
    assert (
        'ExecStart="/usr/local/bin/docker-vpn-helper" "ports.watch" "--machine" "dev" '
        '"--wait-for-machine" "--storage-path" "/home/jane/.docker/machine"'
    ) in lines
    assert 'Environment="MACHINE_STORAGE_PATH=/home/jane/.docker/machine"' in lines
    assert f'Environment="PATH={PATH}"' in lines
    # A stop is no failure: the watch ends with 0 on SIGTERM, the executor with 143 before it.
    for line in ("[Service]", "Restart=always", "RestartSec=5", "SuccessExitStatus=143"):
        assert line in lines
    assert lines[-1] == "WantedBy=default.target"


def test_systemd_quoting():
    # %: specifiers, everywhere; $: variables, in ExecStart's arguments only; \ and ": escapes.
    assert agent.exec_line(["/opt/my tools/dvh", "a b", "100%", "$HOME", 'say "hi"', "c:\\x"]) == (
        '"/opt/my tools/dvh" "a b" "100%%" "$$HOME" "say \\"hi\\"" "c:\\\\x"'
    )
    assert agent.exec_line(["/opt/$x/100%/dvh"]) == '"/opt/$x/100%%/dvh"'
    assert agent.systemd_word("A=$B %h") == '"A=$B %%h"'
    for program in ('/opt/"q"/dvh', "/opt/it's/dvh", "/opt/a\\b/dvh"):
        with pytest.raises(HelperError, match="quote or a backslash"):
            agent.exec_line([program])


def test_systemd_commands():
    unit = systemd_unit()
    name = "docker-vpn-helper-ports-dev.service"
    assert unit.install_commands() == [
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", "--now", name],
    ]
    assert unit.reload_commands() == [
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", name],
        ["systemctl", "--user", "restart", name],
    ]
    assert unit.uninstall_commands() == [["systemctl", "--user", "disable", "--now", name]]
    assert unit.forget_commands() == [["systemctl", "--user", "reset-failed", name]]
    assert unit.after_removal_commands() == [["systemctl", "--user", "daemon-reload"]]
    assert unit.status_command() == ["systemctl", "--user", "is-active", name]


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        if os.environ.get("DVH_LAB_REQUIRED") == "1":
            pytest.fail("needs systemd-analyze (Debian package systemd)")
        pytest.skip("needs systemd-analyze (Debian package systemd)")
    return found


def verify(unit: agent.Agent) -> subprocess.CompletedProcess[str]:
    unit.path.parent.mkdir(parents=True, exist_ok=True)
    unit.path.write_text(unit.text)
    return subprocess.run(
        [systemd_analyze(), "verify", str(unit.path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0"},
    )


@pytest.fixture
def odd_tool(tmp_path) -> Path:
    """A real executable under a folder with a space, %, $, &, <, > and ; in its name."""
    folder = tmp_path / "My Tools %n $HOME & <x> ;"
    folder.mkdir()
    tool = folder / "docker-vpn-helper"
    tool.write_text("#!/bin/sh\nexit 0\n")
    tool.chmod(0o755)
    return tool


def test_systemd_analyze_verify_accepts_the_unit(tmp_path, odd_tool):
    store = Path('/home/jane/machine store/%h $X "q" \\ b')
    unit = systemd_unit([str(odd_tool)], home=tmp_path, storage_path=store, search_path=PATH)
    done = verify(unit)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr


def test_systemd_analyze_verify_finds_the_executable_through_the_quoting(tmp_path, odd_tool):
    # The check above means something: an ExecStart that names no executable is refused.
    unit = systemd_unit([f"{odd_tool}-missing"], home=tmp_path)
    done = verify(unit)
    assert done.returncode != 0
    assert f"{odd_tool}-missing is not executable" in done.stderr


# --- plans -------------------------------------------------------------------------------------


def test_found_reads_what_launchctl_and_systemctl_answer():
    running = "gui/501/x = {\n\tactive count = 1\n\tstate = running\n}\n"
    waiting = "gui/501/x = {\n\tstate = not running\n}\n"
    assert agent.Found.read("launchd", "t", 0, running) == agent.Found("t", True, True)
    assert agent.Found.read("launchd", "t", 0, waiting) == agent.Found("t", True, False)
    assert agent.Found.read("launchd", None, 113, "") == agent.Found(None, False, False)
    assert agent.Found.read("systemd", "t", 0, "active\n") == agent.Found("t", True, True)
    assert agent.Found.read("systemd", "t", 3, "failed\n") == agent.Found("t", False, False)


def test_status_lines():
    unit = systemd_unit()
    lines = agent.status_lines(unit, agent.Found("old", True, True), "journalctl")
    assert lines[1] == f"  installed: yes, {unit.path} (differs from what agent.install writes now)"
    assert lines[2] == "  running:   yes"
