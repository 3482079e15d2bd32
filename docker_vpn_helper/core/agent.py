"""The login agent that keeps `ports.watch --machine NAME` running: its file and commands. Pure.

macOS: a LaunchAgent, `~/Library/LaunchAgents/<label>.plist` (RunAtLoad, KeepAlive, output in
`~/Library/Logs/docker-vpn-helper/`), loaded with `launchctl bootstrap gui/<uid> <plist>` and
removed with `launchctl bootout gui/<uid>/<label>` (as Lima's `start-at-login` does). Linux: a
systemd user unit in `~/.config/systemd/user/` (or $XDG_CONFIG_HOME), `systemctl --user`.

Both start the program with a bare environment (launchd's PATH is /usr/bin:/bin:/usr/sbin:/sbin,
without /usr/local/bin where VirtualBox puts VBoxManage), so the caller passes the PATH and
MACHINE_STORAGE_PATH the agent must see.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import HelperError
from .store import validate_machine_name
from .templating import render

LABEL_PREFIX = "io.github.docker-vpn-helper.ports"
UNIT_PREFIX = "docker-vpn-helper-ports"
LOG_FOLDER = ("Library", "Logs", "docker-vpn-helper")
RESTART_SEC = 5  # systemd's pause before a restart; launchd waits 10 s (ThrottleInterval)
#: The executor's status for a run ended by SIGTERM (128 + 15). The watch itself ends with 0 on
#: SIGTERM; one that arrives before the watch has started (Python and invoke loading) ends
#: the run with 143, which is a stop too, not a failure.
STOPPED_STATUS = 143
KINDS = ("launchd", "systemd")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def kind_for(sys_platform: str) -> str:
    """`launchd` on macOS, `systemd` on Linux (`sys.platform`)."""
    if sys_platform == "darwin":
        return "launchd"
    if sys_platform.startswith("linux"):
        return "systemd"
    raise HelperError(f"the agent runs on macOS (launchd) and Linux (systemd), not {sys_platform}")


def label(machine: str) -> str:
    """The LaunchAgent's label, `io.github.docker-vpn-helper.ports.<machine>`."""
    return f"{LABEL_PREFIX}.{validate_machine_name(machine)}"


def unit_name(machine: str) -> str:
    """The systemd user unit, `docker-vpn-helper-ports-<machine>.service`."""
    return f"{UNIT_PREFIX}-{validate_machine_name(machine)}.service"


def plist_path(home: Path, machine: str) -> Path:
    return home / "Library" / "LaunchAgents" / f"{label(machine)}.plist"


def log_path(home: Path, machine: str) -> Path:
    """Where launchd sends the watcher's stdout and stderr (the folder must exist first)."""
    return home.joinpath(*LOG_FOLDER) / f"ports-{validate_machine_name(machine)}.log"


def unit_path(home: Path, machine: str, config_home: Path | None = None) -> Path:
    """`$XDG_CONFIG_HOME/systemd/user/<unit>`, `~/.config/...` when XDG_CONFIG_HOME is unset."""
    return (config_home or home / ".config") / "systemd" / "user" / unit_name(machine)


def arguments(command: Sequence[str], machine: str, storage_path: Path | None) -> list[str]:
    """`<command> ports.watch --machine NAME --wait-for-machine [--storage-path PATH]`.

    `--wait-for-machine`: a machine removed (or a store not mounted yet at login) is waited
    for with a growing pause inside the watch; exiting instead would have systemd start it
    again every RESTART_SEC, and launchd every 10 s, for as long as the machine is missing.

    `command` is how to start this tool, first word absolute (`/usr/local/bin/docker-vpn-helper`,
    or `/usr/bin/python3 -m docker_vpn_helper`): an agent has no useful PATH to find it with.
    """
    if not command or not Path(command[0]).is_absolute():
        raise HelperError(f"the agent needs the tool's absolute path, not {command[:1]}")
    argv = [*command, "ports.watch", "--machine", validate_machine_name(machine)]
    argv.append("--wait-for-machine")
    if storage_path is not None:
        argv += ["--storage-path", str(storage_path)]
    return argv


def environment(storage_path: Path | None, search_path: str | None) -> dict[str, str]:
    """The variables the agent sets: MACHINE_STORAGE_PATH if given, PATH if given."""
    env = {}
    if storage_path is not None:
        env["MACHINE_STORAGE_PATH"] = str(storage_path)
    if search_path:
        env["PATH"] = search_path
    return env


def _writable(values: Sequence[str], where: str) -> None:
    for value in values:
        if _CONTROL.search(value):
            raise HelperError(f"{value!r} has a control character: it cannot go into {where}")


def render_plist(machine: str, argv: Sequence[str], env: Mapping[str, str], log_file: Path) -> str:
    """The LaunchAgent's plist; every value XML-escaped (`&`, `<` in a path)."""
    _writable([*argv, *env, *env.values(), str(log_file)], "a LaunchAgent")
    return render(
        "agent/launchd.plist.j2",
        machine=machine,
        label=label(machine),
        arguments=list(argv),
        environment=sorted(env.items()),
        log_file=str(log_file),
    )


def systemd_word(word: str) -> str:
    """One word for a unit file: double-quoted, `\\` and `"` escaped, `%` doubled (specifiers)."""
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%") + '"'


def exec_line(argv: Sequence[str]) -> str:
    """ExecStart's value: systemd expands `$VAR` in the arguments (so `$` is doubled there), not
    in the program's path, which must not hold a quote or a backslash (systemd refuses it)."""
    program, *rest = argv
    if any(c in program for c in "\"'\\"):
        raise HelperError(
            f"systemd cannot start a program whose path has a quote or a backslash: {program}"
        )
    return " ".join([systemd_word(program), *(systemd_word(a.replace("$", "$$")) for a in rest)])


def render_unit(machine: str, argv: Sequence[str], env: Mapping[str, str]) -> str:
    """The systemd user unit; ExecStart and Environment= quoted the way systemd reads them."""
    _writable([*argv, *env, *env.values()], "a systemd unit")
    for name in env:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise HelperError(f"{name!r} is not a variable name systemd takes")
    return render(
        "agent/systemd.service.j2",
        machine=machine,
        exec_start=exec_line(argv),
        # Environment= expands no variables: `$` stays as it is.
        environment=[systemd_word(f"{name}={value}") for name, value in sorted(env.items())],
        restart_sec=RESTART_SEC,
        stopped_status=STOPPED_STATUS,
    )


@dataclass(frozen=True)
class Agent:
    """One machine's agent on this platform: the file to write and the commands around it.

    install: create `folders`, write `text` to `path` (mode 0644), run `install_commands()`.
    A second install with the same `text` and `status_command()` succeeding changes nothing; with
    another `text` (a new path to the tool), write it and run `reload_commands()`.
    uninstall: run `uninstall_commands()` (failing when it was not loaded is fine), remove `path`,
    run `after_removal_commands()`. The log file is left for the user to read.
    """

    kind: str  # launchd | systemd
    machine: str
    name: str  # the launchd label, or the systemd unit
    path: Path
    text: str
    folders: tuple[Path, ...]  # to create before writing `path` and starting the agent
    uid: int

    def install_commands(self) -> list[list[str]]:
        if self.kind == "launchd":
            return [["launchctl", "bootstrap", f"gui/{self.uid}", str(self.path)]]
        return [
            ["systemctl", "--user", "daemon-reload"],
            ["systemctl", "--user", "enable", "--now", self.name],
        ]

    def reload_commands(self) -> list[list[str]]:
        """After `text` changed under a loaded agent: run the new definition."""
        if self.kind == "launchd":  # launchd reads a plist only when it is bootstrapped
            return [
                ["launchctl", "bootout", f"gui/{self.uid}/{self.name}"],
                *self.install_commands(),
            ]
        return [
            ["systemctl", "--user", "daemon-reload"],
            ["systemctl", "--user", "enable", self.name],
            ["systemctl", "--user", "restart", self.name],
        ]

    def uninstall_commands(self) -> list[list[str]]:
        if self.kind == "launchd":
            return [["launchctl", "bootout", f"gui/{self.uid}/{self.name}"]]
        return [["systemctl", "--user", "disable", "--now", self.name]]

    def after_removal_commands(self) -> list[list[str]]:
        return [] if self.kind == "launchd" else [["systemctl", "--user", "daemon-reload"]]

    def forget_commands(self) -> list[list[str]]:
        """Last, their failure fine: systemd keeps a unit that failed once (a crash, a kill)
        listed as failed, and the user manager "degraded", after its file is gone, until
        `reset-failed`; a unit that never failed is unloaded once stopped, and `reset-failed`
        then fails with "not loaded". launchd keeps no such state."""
        return (
            [] if self.kind == "launchd" else [["systemctl", "--user", "reset-failed", self.name]]
        )

    def status_command(self) -> list[str]:
        """Exit status 0 when the agent is loaded (launchd) or running (systemd)."""
        if self.kind == "launchd":
            return ["launchctl", "print", f"gui/{self.uid}/{self.name}"]
        return ["systemctl", "--user", "is-active", self.name]


def agent(
    kind: str,
    machine: str,
    command: Sequence[str],
    *,
    home: Path,
    uid: int,
    storage_path: Path | None = None,
    search_path: str | None = None,
    config_home: Path | None = None,
) -> Agent:
    """The agent of `kind` (`kind_for(sys.platform)`) for `machine`, running `command`."""
    argv = arguments(command, machine, storage_path)
    env = environment(storage_path, search_path)
    if kind == "launchd":
        log_file = log_path(home, machine)
        return Agent(
            kind,
            machine,
            label(machine),
            plist_path(home, machine),
            render_plist(machine, argv, env, log_file),
            (plist_path(home, machine).parent, log_file.parent),
            uid,
        )
    if kind == "systemd":
        path = unit_path(home, machine, config_home)
        return Agent(
            kind,
            machine,
            unit_name(machine),
            path,
            render_unit(machine, argv, env),
            (path.parent,),
            uid,
        )
    raise HelperError(f"unknown agent kind {kind!r} (one of {', '.join(KINDS)})")


# --- plans: what agent.install and agent.uninstall find and do --------------------------------


@dataclass(frozen=True)
class Found:
    """The agent as the user's login session has it: its file and its state."""

    text: str | None  # the file's content; None: no file
    loaded: bool  # launchd has it bootstrapped; systemd has it active
    running: bool  # its program runs now

    @classmethod
    def read(cls, kind: str, text: str | None, exited: int, stdout: str) -> Found:
        """From the file and `status_command()`'s answer: `launchctl print` exits 0 for a loaded
        agent and says `state = running` while its program runs (KeepAlive restarts it 10 s
        after it exits); `systemctl is-active` exits 0 for an active unit only."""
        loaded = exited == 0
        running = loaded and (
            kind == "systemd" or re.search(r"^\s*state = running$", stdout, re.M) is not None
        )
        return cls(text, loaded, running)


def status_lines(agent: Agent, found: Found, log: str) -> list[str]:
    """agent.status's report; `log`: where the watcher's output goes."""
    if found.text is None:
        installed = "no"
    elif found.text == agent.text:
        installed = f"yes, {agent.path}"
    else:
        installed = f"yes, {agent.path} (differs from what agent.install writes now)"
    running = "yes" if found.running else ("loaded, not running" if found.loaded else "no")
    return [
        f"agent for machine {agent.machine!r}: {agent.kind} {agent.name}",
        f"  installed: {installed}",
        f"  running:   {running}",
        f"  log:       {log}",
    ]
