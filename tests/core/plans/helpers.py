"""Plain values the planners' tables share: VMs, rules, and commands built like the adapters'."""

from __future__ import annotations

from docker_vpn_helper.core.commands import Command, RuleEdits
from docker_vpn_helper.core.vbox import NatRule, VMInfo

SSH = NatRule("ssh", "tcp", "127.0.0.1", 50157, "", 22)
WANTED = NatRule("docker", "tcp", "127.0.0.1", 2376, "", 2376)


def vm(state: str = "running", *rules: NatRule, name: str = "default") -> VMInfo:
    return VMInfo(name, state, {1: "nat", 2: "hostonly"}, {2: "vboxnet0"}, {1: (SSH, *rules)})


def edits(running: bool = True) -> RuleEdits:
    """VBoxManage's commands for the default VM's NIC 1 (as VBoxManage.rule_edits builds them)."""
    verb = ("controlvm", "default", "natpf1") if running else ("modifyvm", "default", "--natpf1")
    return RuleEdits(
        add=lambda rule: Command(("VBoxManage", *verb, rule.spec())),
        delete=lambda rule: Command(("VBoxManage", *verb, "delete", rule.name)),
    )


def lines(commands) -> list[str]:
    return [command.line() for command in commands]
