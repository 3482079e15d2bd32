"""KextPlan: a restart to run as root, or nothing."""

from __future__ import annotations

from docker_vpn_helper.core.commands import Command
from docker_vpn_helper.core.plans.kexts import KextPlan


def test_a_restart_runs_as_root_exactly_as_printed():
    restart = Command(("systemctl", "restart", "vboxdrv"), "sudo")
    plan = KextPlan(restart)
    assert plan.changes == ("kexts",) and plan.commands == (restart,)
    assert plan.actions() == ["run: sudo systemctl restart vboxdrv"]


def test_virtualbox_7_on_macos_has_nothing_to_restart():
    plan = KextPlan(None)
    assert plan.changes == () and plan.commands == () and plan.actions() == []
    assert plan.seen().startswith("VirtualBox 7 on macOS has no kernel extensions")
