"""agent.install and agent.uninstall's plans: the file to write, the commands to run."""

from __future__ import annotations

from docker_vpn_helper.core import agent
from docker_vpn_helper.core.plans.agent import InstallPlan, UninstallPlan

from ..test_agent import launch_agent, systemd_unit


def argvs(commands) -> list[list[str]]:
    return [list(command.argv) for command in commands]


def test_install_plans():
    unit = systemd_unit()
    fresh = InstallPlan(unit, agent.Found(None, False, False))
    assert fresh.write and argvs(fresh.commands) == unit.install_commands()
    assert fresh.actions()[0] == f"write {unit.path}"
    same = InstallPlan(unit, agent.Found(unit.text, True, True))
    assert same.changes == () and same.actions() == []
    assert same.seen() == f"the agent {unit.name} is installed and running ({unit.path})"
    stale = InstallPlan(unit, agent.Found("old", True, True))
    assert argvs(stale.commands) == unit.reload_commands()
    assert stale.actions()[0] == f"rewrite (it differs) {unit.path}"
    stopped = InstallPlan(unit, agent.Found(unit.text, False, False))
    assert not stopped.write and argvs(stopped.commands) == unit.install_commands()


def test_uninstall_plans():
    la = launch_agent()
    loaded = UninstallPlan(la, agent.Found(la.text, True, True))
    assert loaded.actions() == [
        f"run: launchctl bootout gui/501/{la.name}",
        f"remove {la.path}",
    ]
    gone = UninstallPlan(la, agent.Found(None, False, False))
    assert gone.changes == () and gone.actions() == []
    unit = systemd_unit()
    inactive = UninstallPlan(unit, agent.Found(unit.text, False, False))
    assert inactive.actions() == [  # disabled even when inactive: its link goes too
        f"run: systemctl --user disable --now {unit.name}",
        f"remove {unit.path}",
        "run: systemctl --user daemon-reload",
        f"run: systemctl --user reset-failed {unit.name}",
    ]
