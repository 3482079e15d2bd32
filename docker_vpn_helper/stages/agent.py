"""agent.install, agent.uninstall, agent.status: `ports.watch --machine NAME` run at every login
by launchd (macOS) or systemd (Linux), restarted when it exits. The file and commands come from
core/agent.py; this module observes (the file, the service manager's answer) and acts.

The agent starts this very installation: the `docker-vpn-helper` the user ran, by its absolute
path, else this interpreter with `-m docker_vpn_helper` (run through invoke from a clone). It
gets the user's PATH of the moment, so that the watch finds VBoxManage (launchd's PATH lacks
/usr/local/bin), and the store's path.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from ..adapters.host import run
from ..core import agent as agents
from ..core.commands import Command
from ..core.fsutil import atomic_write, read_optional
from ..core.plans.agent import InstallPlan, UninstallPlan
from ..errors import PROGRAM, HelperError
from ..report import say
from ..session import Session
from . import Stage


def kind() -> str:
    return agents.kind_for(sys.platform)


def tool_command() -> list[str]:
    """How the agent starts this tool: the `docker-vpn-helper` script the user ran (its path
    kept as typed or found on PATH, not resolved: a pipx or Homebrew link outlives upgrades),
    else `python -m docker_vpn_helper` with this interpreter."""
    called = sys.argv[0] if sys.argv else ""
    if os.path.basename(called) == PROGRAM:
        found = called if os.sep in called else shutil.which(called)
        if found:
            return [os.path.abspath(found)]
    return [sys.executable, "-m", "docker_vpn_helper"]


def agent_for(s: Session) -> agents.Agent:
    config_home = os.environ.get("XDG_CONFIG_HOME")
    return agents.agent(
        kind(),
        s.name,
        tool_command(),
        home=Path.home(),
        uid=os.getuid(),
        storage_path=s.settings.storage_path,
        search_path=os.environ.get("PATH"),
        config_home=Path(config_home) if config_home else None,
    )


def find(s: Session, agent: agents.Agent) -> agents.Found:
    """The agent's file and what launchd/systemd says of it."""
    raw = read_optional(agent.path, "the agent's file")
    answer = run(s.c, agent.status_command(), timeout=s.settings.command_timeout)
    text = raw.decode(errors="replace") if raw is not None else None
    return agents.Found.read(agent.kind, text, answer.exited, answer.stdout)


def command(s: Session, planned: Command, *, check: bool = True) -> None:
    done = run(s.c, planned.argv, timeout=s.settings.command_timeout)
    if check and not done.ok:
        raise HelperError(f"{planned.shell()} failed: {done.last_line()}")


def log_of(s: Session, agent: agents.Agent) -> str:
    if agent.kind == "launchd":
        return str(agents.log_path(Path.home(), s.name))
    return f"journalctl --user -u {agent.name}"


def plan_install(s: Session) -> InstallPlan:
    if not s.view.exists():
        raise HelperError(
            f"no machine {s.name!r} in {s.settings.storage_path}: the agent would watch nothing"
        )
    agent = agent_for(s)
    return InstallPlan(agent, find(s, agent))


def apply_install(s: Session, plan: InstallPlan) -> None:
    agent = plan.agent
    for folder in agent.folders:  # launchd needs the log's folder, even for an unchanged plist
        folder.mkdir(parents=True, exist_ok=True)
    if plan.write:
        atomic_write(agent.path, agent.text.encode(), 0o644)
        say(f"wrote {agent.path}")
    for planned in plan.commands:
        command(s, planned)
    say(
        f"the agent {agent.name} runs `ports.watch --machine {s.name}` at every login "
        f"(log: {log_of(s, agent)})"
    )


def plan_uninstall(s: Session) -> UninstallPlan:
    agent = agent_for(s)
    return UninstallPlan(agent, find(s, agent))


def apply_uninstall(s: Session, plan: UninstallPlan) -> None:
    """Stopping an agent that is not loaded fails, and that is fine; one that is must stop."""
    for planned in plan.commands:
        command(s, planned, check=plan.found.loaded)
    if plan.present:
        plan.agent.path.unlink(missing_ok=True)
        say(f"removed {plan.agent.path}")
        for planned in plan.after_removal:
            command(s, planned)
    for planned in plan.forget:
        command(s, planned, check=False)
    if plan.agent.kind == "launchd":
        say(f"the watch's log stays: {log_of(s, plan.agent)}")


def status(s: Session) -> tuple[list[str], bool]:
    """agent.status's lines, and whether the agent is installed and running."""
    agent = agent_for(s)
    found = find(s, agent)
    return agents.status_lines(
        agent, found, log_of(s, agent)
    ), found.text is not None and found.running


INSTALL = Stage("agent.install", "Running ports.watch at every login", plan_install, apply_install)
UNINSTALL = Stage("agent.uninstall", "Removing the login agent", plan_uninstall, apply_uninstall)
