"""VBoxManage, the only way the tool touches VirtualBox."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core import vbox
from ..errors import HelperError
from .host import NotInstalled, Output, run

if TYPE_CHECKING:
    from invoke import Context


class VBoxManage:
    def __init__(self, c: Context, binary: str, timeout: float) -> None:
        self._c = c
        self._binary = binary
        self._timeout = timeout
        self._version: tuple[int, int, int] | None = None

    def _run(self, *args: str) -> Output:
        return run(self._c, [self._binary, *args], timeout=self._timeout, what="VBoxManage")

    def _check(self, output: Output, action: str) -> None:
        if not output.ok:
            raise HelperError(f"VBoxManage could not {action}: {output.last_line()}")

    def showvminfo(self, name: str) -> vbox.VMInfo | None:
        """The VM's state and NAT rules, or None when VirtualBox has no VM of that name."""
        output = self._run("showvminfo", name, "--machinereadable")
        if not output.ok and vbox.is_vm_not_found(output.stderr):
            return None
        self._check(output, f"describe VM {name!r}")
        return vbox.parse_showvminfo(output.stdout)

    def list_vms(self) -> dict[str, str]:
        output = self._run("list", "vms")
        self._check(output, "list VMs")
        return vbox.parse_list_vms(output.stdout)

    def version(self) -> tuple[int, int, int]:
        if self._version is None:
            output = self._run("--version")
            self._check(output, "tell its version")
            self._version = vbox.parse_version(output.stdout)
        return self._version

    def require(self) -> tuple[int, int, int]:
        """VirtualBox's version; a host without VBoxManage is told so in those words."""
        try:
            return self.version()
        except NotInstalled:
            raise HelperError(
                f"VirtualBox is not installed here: there is no {self._binary} on PATH "
                "(docker-machine's virtualbox driver needs it; install VirtualBox, or set "
                "vpnhelper.vboxmanage to where it is)"
            ) from None

    def set_host_resolver(self, name: str, on: bool) -> None:
        """`modifyvm --natdnshostresolver1`: only a stopped VM takes it."""
        output = self._run("modifyvm", name, "--natdnshostresolver1", "on" if on else "off")
        self._check(output, f"switch the host DNS resolver of {name!r}")

    def add_rule(self, name: str, rule: vbox.NatRule, nic: int, running: bool) -> None:
        """A running VM takes `controlvm natpfN`, a stopped one `modifyvm --natpfN`; both persist."""
        what = f"add NAT rule {rule.spec()!r} to {name!r}"
        self._change_rules(name, nic, running, (rule.spec(),), what)

    def delete_rule(self, name: str, rule_name: str, nic: int, running: bool) -> None:
        what = f"delete NAT rule {rule_name!r} of {name!r}"
        self._change_rules(name, nic, running, ("delete", rule_name), what)

    def _change_rules(
        self, name: str, nic: int, running: bool, words: tuple[str, ...], what: str
    ) -> None:
        """controlvm on a running VM; modifyvm on a stopped one, or one that stopped since we looked."""
        if running:
            output = self._run("controlvm", name, f"natpf{nic}", *words)
            if output.ok or not vbox.is_not_running(output.stderr):
                self._raise_for(output, what)
                return
        self._raise_for(self._run("modifyvm", name, f"--natpf{nic}", *words), what)

    def _raise_for(self, output: Output, what: str) -> None:
        if vbox.is_rule_exists(output.stderr):
            raise HelperError(
                f"VBoxManage could not {what}: a rule of that name exists (added meanwhile?); "
                "run the command again"
            )
        self._check(output, what)
