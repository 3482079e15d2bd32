"""What one run sees of one machine: the store's entry, VirtualBox's VM, the daemon's answer.

Each is read once and kept; a stage that changes the machine calls `refresh()`, and the next
reader asks again. Nothing here decides anything: the planners in core/plans/ do.
"""

from __future__ import annotations

from pathlib import Path

from invoke import Context

from .adapters import daemon
from .adapters.vboxmanage import VBoxManage
from .core import store, vbox
from .settings import Settings


class MachineView:
    def __init__(self, c: Context, settings: Settings) -> None:
        self.settings = settings
        self.vbox = VBoxManage(c, settings.vboxmanage, settings.vboxmanage_timeout)
        self._machine: store.Machine | None = None
        self._vm: vbox.VMInfo | None = None
        self._vm_read = False  # None is an answer too: VirtualBox has no such VM
        self._served: dict[int, daemon.Probe] = {}

    @property
    def name(self) -> str:
        return self.settings.machine

    @property
    def folder(self) -> Path:
        return store.machine_folder(self.settings.storage_path, self.name)

    def exists(self) -> bool:
        return store.machine_exists(self.settings.storage_path, self.name)

    @property
    def machine(self) -> store.Machine:
        if self._machine is None:
            self._machine = store.load_machine(self.settings.storage_path, self.name)
        return self._machine

    def vm(self) -> vbox.VMInfo | None:
        """The VM as VirtualBox describes it (None: not registered)."""
        if not self._vm_read:
            self._vm = self.vbox.showvminfo(self.name)
            self._vm_read = True
        return self._vm

    def served(self, port: int) -> daemon.Probe:
        """What the daemon answers through tcp://localhost:`port`, like the docker client."""
        if port not in self._served:
            auth = self.machine.auth
            self._served[port] = daemon.probe(port, auth.ca_cert, auth.client_cert, auth.client_key)
        return self._served[port]

    def serves_store_certificate(self, port: int) -> bool:
        """The daemon answers through the forward presenting exactly the store's server.pem:
        the VM has it and its key, and the client can use it. Nothing else proves that."""
        from .core.certs import to_der
        from .core.fsutil import read_optional

        probe = self.served(port)
        current = read_optional(self.machine.auth.server_cert)
        return probe.ok and current is not None and probe.served_cert == to_der(current)

    def nat_dns(self) -> vbox.NatDns | None:
        """NIC 1's DNS settings from the VM's settings file (None: VirtualBox names no file we
        can read); showvminfo does not print them."""
        settings = self.vm_settings()
        adapter = settings.adapter(1) if settings is not None else None
        return adapter.dns if adapter is not None else None

    def vm_settings(self) -> vbox.VMSettings | None:
        """The VM's settings file as it is now (None: no VM, or no file we can read)."""
        info = self.vm()
        return self.vbox.settings(info) if info is not None else None

    def loopback_reachable(self) -> bool | None:
        """Whether the NAT adapter lets 10.0.2.2 reach the host's loopback, from the VM's
        settings file (VirtualBox 7's new VMs do not, unless --nat-localhostreachableN is on);
        None when no settings file can be read."""
        info = self.vm()
        path = info.raw.get("CfgFile") if info is not None else None
        if not path:
            return None
        try:
            settings = vbox.parse_settings(Path(path).read_text(errors="replace"))
        except (OSError, ValueError):
            return None
        adapter = settings.adapter(info.nat_nic or 1) if info is not None else None
        return adapter.localhost_reachable if adapter is not None else None

    def ssh_port(self) -> int:
        """The live NAT `ssh` rule wins over config.json's SSHPort, which can be stale."""
        info = self.vm()
        for rule in info.rules() if info is not None else ():
            if rule.name == "ssh" and rule.guest_port == 22:
                return rule.host_port
        return self.machine.ssh_port

    def claimed_ports(self) -> dict[tuple[str, int], str]:
        """{(proto, host port): who holds it}: other VMs' rules on 127.0.0.1 and other machines'
        remembered daemon ports (this VM's own rules are the planners' to judge)."""
        claims = {
            ("tcp", port): f"machine {name!r} (its remembered port)"
            for port, name in store.remembered_ports(self.settings.storage_path, self.name).items()
        }
        for name in self.vbox.list_vms():
            other = self.vbox.showvminfo(name) if name != self.name else None
            for rules in other.forwarding.values() if other else ():
                for rule in rules:
                    if rule.holds_loopback_port(rule.proto):
                        holder = f"VM {name!r} (NAT rule {rule.name!r}, {other.state})"
                        claims[rule.proto, rule.host_port] = holder
        return claims

    def forget_answers(self) -> None:
        """After a change to the forward: ask the daemon again when next asked."""
        self._served.clear()

    def refresh(self, vm: bool = True) -> None:
        """After a change to the machine: read it again when next asked. `vm=False`: only the
        store's files changed (config.json), VirtualBox's VM and the daemon did not."""
        self._machine = None
        if vm:
            self._vm_read = False
            self._served.clear()
