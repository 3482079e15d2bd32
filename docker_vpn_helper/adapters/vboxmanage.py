"""VBoxManage, the only way the tool touches VirtualBox."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..core import vbox
from ..core.commands import Command, RuleEdits
from ..errors import HelperError
from .host import NotInstalled, Output, run

START_TIMEOUT = 120.0  # seconds `startvm` may take to power a VM on

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
        """The VM's state and NAT rules, or None when VirtualBox has no VM of that name.

        Where showvminfo's rules cannot be trusted (VirtualBox 7.0.0/7.0.1 print none for an
        adapter with several, vbox.rules_unlisted), the rules are the settings file's."""
        output = self._run("showvminfo", name, "--machinereadable")
        if not output.ok and vbox.is_vm_not_found(output.stderr):
            return None
        self._check(output, f"describe VM {name!r}")
        info = vbox.parse_showvminfo(output.stdout)
        if vbox.rules_unlisted(info, self._version):  # the version only when already asked
            settings = self.settings(info)
            if settings is not None:
                return vbox.with_settings_rules(info, settings)
        return info

    def settings(self, info: vbox.VMInfo) -> vbox.VMSettings | None:
        """The VM's settings file, which showvminfo names as CfgFile (None: none we can read)."""
        path = info.raw.get("CfgFile")
        if not path:
            return None
        try:
            return vbox.parse_settings(Path(path).read_text(errors="replace"))
        except (OSError, ValueError):
            return None

    def list_vms(self) -> dict[str, str]:
        output = self._run("list", "vms")
        self._check(output, "list VMs")
        return vbox.parse_list_vms(output.stdout)

    def version(self) -> tuple[int, int, int]:
        if self._version is None:
            output = self._run("--version")
            self._check(output, "tell its version")
            try:
                self._version = vbox.parse_version(output.stdout)
            except ValueError as exc:
                raise HelperError(f"VBoxManage --version: {exc}") from None
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

    def host_resolver_command(self, name: str, on: bool) -> Command:
        """`modifyvm --natdnshostresolver1`: only a stopped VM takes it."""
        words = ("modifyvm", name, "--natdnshostresolver1", "on" if on else "off")
        return Command((self._binary, *words), what=f"switch the host DNS resolver of {name!r}",
                       timeout=self._timeout)  # fmt: skip

    def extradata_command(self, name: str, key: str, value: str = "") -> Command:
        """`setextradata NAME KEY VALUE`; no value deletes the key. A running VM takes it too
        (its devices read `VBoxInternal/...` keys at its next start)."""
        words = ("setextradata", name, key, *((value,) if value else ()))
        what = f"set {key} of {name!r}" if value else f"remove {key} from {name!r}"
        return Command((self._binary, *words), what=what, timeout=self._timeout)

    def localhost_reachable_command(self, name: str, on: bool, nic: int = 1) -> Command:
        """`modifyvm --nat-localhostreachableN` (VirtualBox 7.0+; only a stopped VM takes it):
        whether the NAT's gateway 10.0.2.2 reaches the host's 127.0.0.1."""
        words = ("modifyvm", name, f"--nat-localhostreachable{nic}", "on" if on else "off")
        what = f"let {name!r} reach the host's loopback" if on else f"close {name!r}'s way to it"
        return Command((self._binary, *words), what=what, timeout=self._timeout)

    def start_command(self, name: str) -> Command:
        """`startvm NAME --type headless`: boots the VM as it is on disk (minikube's VMs, which
        `minikube start` would provision again over the host-only network, behind the VPN)."""
        words = ("startvm", name, "--type", "headless")
        return Command((self._binary, *words), what=f"start the VM {name!r}", timeout=START_TIMEOUT)

    def add_rule_command(self, name: str, rule: vbox.NatRule, nic: int, running: bool) -> Command:
        """A running VM takes `controlvm natpfN`, a stopped one `modifyvm --natpfN`; both persist."""
        what = f"add NAT rule {rule.spec()!r} to {name!r}"
        return self._rule_command(name, nic, running, (rule.spec(),), what)

    def delete_rule_command(self, name: str, rule_name: str, nic: int, running: bool) -> Command:
        what = f"delete NAT rule {rule_name!r} of {name!r}"
        return self._rule_command(name, nic, running, ("delete", rule_name), what)

    def rule_edits(self, name: str, nic: int, running: bool) -> RuleEdits:
        """The commands that change VM `name`'s rules on NAT adapter `nic`, in its state."""
        return RuleEdits(
            add=lambda rule: self.add_rule_command(name, rule, nic, running),
            delete=lambda rule: self.delete_rule_command(name, rule.name, nic, running),
        )

    def _rule_command(
        self, name: str, nic: int, running: bool, words: tuple[str, ...], what: str
    ) -> Command:
        verb = (
            ("controlvm", name, f"natpf{nic}") if running else ("modifyvm", name, f"--natpf{nic}")
        )
        return Command((self._binary, *verb, *words), what=what, timeout=self._timeout)

    def set_host_resolver(self, name: str, on: bool) -> None:
        self.execute(self.host_resolver_command(name, on))

    def add_rule(self, name: str, rule: vbox.NatRule, nic: int, running: bool) -> None:
        self.execute(self.add_rule_command(name, rule, nic, running))

    def delete_rule(self, name: str, rule_name: str, nic: int, running: bool) -> None:
        self.execute(self.delete_rule_command(name, rule_name, nic, running))

    def execute(self, command: Command) -> None:
        """Run a change built here. A `controlvm` refused because the VM stopped since it was
        planned is done with the same change's `modifyvm` form (what a stopped VM takes)."""
        output = self._run(*command.argv[1:])
        _, verb, name, nic, *words = command.argv
        if verb == "controlvm" and not output.ok and vbox.is_not_running(output.stderr):
            output = self._run("modifyvm", name, f"--{nic}", *words)
        self._raise_for(output, command.what)

    def _raise_for(self, output: Output, what: str) -> None:
        if vbox.is_rule_exists(output.stderr):
            raise HelperError(
                f"VBoxManage could not {what}: a rule of that name exists, which VirtualBox "
                "did not list when this run read the VM's rules"
            )
        self._check(output, what)
