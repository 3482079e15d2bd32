"""The lab's VirtualBox: a registry of VMs in the state file, and what powering them and editing their
NAT rules really does (guest processes, links, forwarders). Both the Lab and the VBoxManage
stand-in act through here, so the two never disagree.

Functions take the state dict obtained from `state.locked()`; callers hold the lock.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from typing import Any

from . import natpf, net, proc
from .paths import LabPaths

VM = dict[str, Any]


class VBoxError(Exception):
    """A VBoxManage failure: `lines` are printed as `VBoxManage: error: <line>` on stderr, exit 1."""

    def __init__(self, *lines: str) -> None:
        super().__init__(lines[0])
        self.lines = lines


def not_found(name: str) -> VBoxError:
    return VBoxError(
        f"Could not find a registered machine named '{name}'",
        "Details: code VBOX_E_OBJECT_NOT_FOUND (0x80bb0001), component VirtualBoxWrap, "
        "interface IVirtualBox, callee nsISupports",
        'Context: "FindMachine(Bstr(a->argv[0]).raw(), machine.asOutParam())" at line 2621 '
        "of file VBoxManageInfo.cpp",
    )


def now_stamp() -> str:
    """VMStateChangeTime's format: UTC, nanoseconds."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000"


def new_mac() -> str:
    return "080027" + secrets.token_hex(3).upper()


def register(
    st: dict[str, Any], machine: str, address: str, index: int, variant: dict[str, Any]
) -> VM:
    vm: VM = {
        "name": machine,
        "uuid": str(uuid.uuid4()),
        "index": index,
        "ip": address,
        "mac1": new_mac(),
        "mac2": new_mac(),
        "state": "poweroff",
        "state_change": now_stamp(),
        "variant": variant,
        "rules": [],
        "pid": None,
        "forwarders": {},
    }
    st["vms"][machine] = vm
    return vm


def find(st: dict[str, Any], name: str) -> VM:
    """A VM by name or UUID, with its state refreshed (a VM whose process died is `aborted`)."""
    for vm in st["vms"].values():
        if name in (vm["name"], vm["uuid"]):
            if vm["state"] == "running" and not proc.alive(vm["pid"]):
                vm["state"] = "aborted"
                vm["state_change"] = now_stamp()
            return vm
    raise not_found(name)


def rules(vm: VM) -> list[natpf.Rule]:
    return [natpf.Rule(**r) for r in vm["rules"]]


def running(vm: VM) -> bool:
    return vm["state"] == "running"


def start(paths: LabPaths, vm: VM, wait: bool = False) -> None:
    """`VBoxManage startvm`: power on, bring the NICs up, start every NAT forward."""
    if running(vm):
        raise VBoxError(
            f"The machine '{vm['name']}' is already locked by a session (or being locked or unlocked)",
            "Details: code VBOX_E_INVALID_OBJECT_STATE (0x80bb0007), component MachineWrap, "
            "interface IMachine, callee nsISupports",
            'Context: "LaunchVMProcess(a->session, sessionType.raw(), '
            'ComSafeArrayAsInParam(aBstrEnv), progress.asOutParam())" at line 726 of file '
            "VBoxManageMisc.cpp",
        )
    # Only powering a VM needs the guest module (and the cryptography it imports), so
    # showvminfo and the other VBoxManage calls start fast.
    from . import guest

    net.set_guest_links(vm["name"], up=True)
    vm["pid"] = guest.power_on(paths, vm["name"])
    vm["state"] = "running"
    vm["state_change"] = now_stamp()
    for rule in rules(vm):
        vm["forwarders"][rule.name] = natpf.start(paths, vm["name"], rule)
    if wait:
        guest.wait_booted(vm["pid"])


def stop(vm: VM, graceful: bool) -> None:
    """`controlvm poweroff` (hard) or an ACPI shutdown (graceful): forwards stop, NICs go down."""
    for pid in vm["forwarders"].values():
        natpf.stop(pid)
    vm["forwarders"] = {}
    from . import guest

    guest.power_off(vm["pid"], graceful)
    vm["pid"] = None
    net.set_guest_links(vm["name"], up=False)
    vm["state"] = "poweroff"
    vm["state_change"] = now_stamp()


def require_running(vm: VM) -> None:
    if not running(vm):
        raise VBoxError(f"Machine '{vm['name']}' is not currently running")


def require_unlocked(vm: VM) -> None:
    if running(vm):
        raise VBoxError(
            f"The machine '{vm['name']}' is already locked for a session (or being unlocked)",
            "Details: code VBOX_E_INVALID_OBJECT_STATE (0x80bb0007), component MachineWrap, "
            "interface IMachine, callee nsISupports",
            'Context: "LockMachine(a->session, LockType_Write)" at line 554 of file '
            "VBoxManageModifyVM.cpp",
        )


def add_rule(paths: LabPaths, vm: VM, rule: natpf.Rule, source: str) -> None:
    """Save a NAT rule and, if the VM runs, start forwarding it. `source` names the VBoxManage file."""
    if any(r.name == rule.name for r in rules(vm)):
        raise VBoxError(
            "A NAT rule of this name already exists",
            "Details: code NS_ERROR_INVALID_ARG (0x80070057), component NATEngineWrap, "
            "interface INATEngine, callee nsISupports",
            'Context: "AddRedirect(Bstr(strName).raw(), proto, Bstr(strHostIp).raw(), '
            'RTStrToUInt16(strHostPort), Bstr(strGuestIp).raw(), RTStrToUInt16(strGuestPort))" '
            f"at line 1851 of file {source}",
        )
    vm["rules"].append(rule.to_json())
    if running(vm):
        vm["forwarders"][rule.name] = natpf.start(paths, vm["name"], rule)


def delete_rule(vm: VM, name: str, source: str) -> None:
    remaining = [r for r in vm["rules"] if r["name"] != name]
    if len(remaining) == len(vm["rules"]):
        raise VBoxError(
            "Code NS_ERROR_INVALID_ARG (0x80070057) - Invalid argument value (extended info not available)",
            f'Context: "RemoveRedirect(Bstr(ValueUnion.psz).raw())" at line 1766 of file {source}',
        )
    vm["rules"] = remaining
    natpf.stop(vm["forwarders"].pop(name, None))
