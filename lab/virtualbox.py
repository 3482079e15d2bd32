"""The lab's VirtualBox: a registry of VMs in the state file, and what powering them and editing their
NAT rules really does (guest processes, links, forwarders). Both the Lab and the VBoxManage
stand-in act through here, so the two never disagree.

Each VM's settings also go to its settings file, `<store>/machines/NAME/NAME/NAME.vbox` (the
`CfgFile` that showvminfo names), whenever they change: its network part and extradata as
VirtualBox writes them (NAT rules, the NAT engine's DNS settings, localhost-reachable), the only
place VirtualBox shows `--natdnsproxy1`/`--natdnshostresolver1` (showvminfo does not print them).

Which VirtualBox the lab is (`VERSIONS`, a lab setting kept in the state file, 6.1 unless set)
changes what VirtualBox changed between versions: the settings file's format of new VMs
(1.19 from 7.0: the NAT reaches the host's loopback only with localhost-reachable on),
`showvminfo`'s keys (lab/vboxmanage.py), 7.0.0/7.0.1's missing `Forwarding(n)` lines,
7.1's refusal to start a VM whose forwarded host port cannot be bound, and 6.1.28's
host-only ranges (`networks.conf`).

Functions take the state dict obtained from `state.locked()`; callers hold the lock.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from . import natpf, net, proc
from .paths import HOSTONLY_BRIDGE, LabPaths

VM = dict[str, Any]

#: The VirtualBox versions the lab can be (`Lab.set_virtualbox`), as `VBoxManage --version` prints
#: them. 6.1 is the default: the last version with macOS kernel extensions and docker-machine's
#: host-only adapters.
VERSIONS = {
    "5.2": "5.2.44r139111",
    "6.1": "6.1.50r161033",
    "7.0.0": "7.0.0r153978",
    "7.0.2": "7.0.2r154219",
    "7.1": "7.1.4r165100",
}
DEFAULT_VERSION = "6.1"
#: Settings file format a VM created by each version has (VirtualBox's SettingsVersion).
_FORMATS = {"5": (1, 15), "6": (1, 16), "7": (1, 19)}
LOCALHOST_SWITCH_FORMAT = (1, 19)


def version(st: dict[str, Any]) -> tuple[int, int, int]:
    """The VirtualBox the lab is: (7, 0, 0) for "7.0.0r153978"."""
    text = VERSIONS[st.get("virtualbox") or DEFAULT_VERSION]
    major, minor, patch = text.split("r")[0].split(".")
    return int(major), int(minor), int(patch)


def version_text(st: dict[str, Any]) -> str:
    return VERSIONS[st.get("virtualbox") or DEFAULT_VERSION]


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
    paths: LabPaths,
    st: dict[str, Any],
    machine: str,
    address: str,
    index: int,
    variant: dict[str, Any],
    folder: Path | None = None,
) -> VM:
    """A new VM as docker-machine v0.16 leaves it: DNS proxy on, host resolver off. `folder`:
    its libmachine machine folder when not the docker-machine store's (minikube's)."""
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
        "dns_proxy": True,
        "dns_host_resolver": False,
        "localhost_reachable": None,  # not set: as the settings format's default
        "extradata": {},
        "format": list(_FORMATS[str(version(st)[0])]),
        "created": now_stamp(),
    }
    if folder is not None:
        vm["folder"] = str(folder)
    st["vms"][machine] = vm
    save_settings(paths, vm)
    return vm


def machine_folder(paths: LabPaths, vm: VM) -> Path:
    """The VM's libmachine machine folder: docker-machine's store, or minikube's home."""
    return Path(vm.get("folder") or paths.machine_dir(vm["name"]))


def settings_file(paths: LabPaths, vm: VM) -> Path:
    """The VM's settings file (showvminfo's CfgFile)."""
    return machine_folder(paths, vm) / vm["name"] / f"{vm['name']}.vbox"


def nat_dns(vm: VM) -> dict[str, bool]:
    """The NAT engine's DNS settings of NIC 1 (a VM recorded before they existed: as created)."""
    return {"proxy": vm.get("dns_proxy", True), "host_resolver": vm.get("dns_host_resolver", False)}


def settings_format(vm: VM) -> tuple[int, int]:
    return tuple(vm.get("format") or _FORMATS["6"])  # type: ignore[return-value]


def localhost_reachable(vm: VM) -> bool:
    """Whether NIC 1's NAT lets 10.0.2.2 reach the host's loopback: as set, else as the VM's
    settings format says (files from before 7.0 always did; 7.0's new VMs do not)."""
    chosen = vm.get("localhost_reachable")
    return chosen if chosen is not None else settings_format(vm) < LOCALHOST_SWITCH_FORMAT


def settings_xml(vm: VM) -> str:
    """The VM's settings file, its network part written as VirtualBox does (Settings.cpp
    buildNetworkXML): DNS attributes only where they differ from the NAT engine's defaults
    (pass-domain on, proxy off, host resolver off), rules sorted by name, proto 1 = TCP, 0 = UDP,
    `localhost-reachable` once set; then `Machine/ExtraData` (setextradata)."""
    dns = nat_dns(vm)
    nat = []
    flags = (' use-proxy="true"' if dns["proxy"] else "") + (
        ' use-host-resolver="true"' if dns["host_resolver"] else ""
    )
    if flags:
        nat.append(f"            <DNS{flags}/>")
    for rule in sorted(rules(vm), key=lambda r: r.name):
        attrs = f'name={quoteattr(rule.name)} proto="{1 if rule.proto == "tcp" else 0}"'
        if rule.hostip:
            attrs += f" hostip={quoteattr(rule.hostip)}"
        if rule.hostport:
            attrs += f' hostport="{rule.hostport}"'
        if rule.guestip:
            attrs += f" guestip={quoteattr(rule.guestip)}"
        if rule.guestport:
            attrs += f' guestport="{rule.guestport}"'
        nat.append(f"            <Forwarding {attrs}/>")
    reachable = vm.get("localhost_reachable")
    nat_attrs = "" if reachable is None else f' localhost-reachable="{str(reachable).lower()}"'
    nat_element = (
        f"          <NAT{nat_attrs}>\n" + "\n".join(nat) + "\n          </NAT>"
        if nat
        else f"          <NAT{nat_attrs}/>"
    )
    items = "".join(
        f"      <ExtraDataItem name={quoteattr(k)} value={quoteattr(v)}/>\n"
        for k, v in sorted(vm.get("extradata", {}).items())
    )
    extradata = f"    <ExtraData>\n{items}    </ExtraData>\n" if items else ""
    major, minor = settings_format(vm)
    created = vm.get("created", vm["state_change"])[:19] + "Z"
    return (
        '<?xml version="1.0"?>\n'
        "<!--\n"
        "** DO NOT EDIT THIS FILE.\n"
        "** If you make changes to this file while any VirtualBox related application\n"
        "** is running, your changes will be overwritten later, without taking effect.\n"
        "** Use VBoxManage or the VirtualBox Manager GUI to make changes.\n"
        "-->\n"
        f'<VirtualBox xmlns="http://www.virtualbox.org/" version="{major}.{minor}-macosx">\n'
        f'  <Machine uuid="{{{vm["uuid"]}}}" name={quoteattr(vm["name"])} OSType="Linux26_64" '
        f'snapshotFolder="Snapshots" lastStateChange="{created}">\n'
        f"{extradata}"
        "    <Hardware>\n"
        "      <Network>\n"
        f'        <Adapter slot="0" enabled="true" MACAddress="{vm["mac1"]}" type="{NIC1_TYPE}">\n'
        f"{nat_element}\n"
        "        </Adapter>\n"
        f'        <Adapter slot="1" enabled="true" MACAddress="{vm["mac2"]}" type="82540EM">\n'
        f'          <HostOnlyInterface name="{HOSTONLY_BRIDGE}"/>\n'
        "        </Adapter>\n"
        "      </Network>\n"
        "    </Hardware>\n"
        "  </Machine>\n"
        "</VirtualBox>\n"
    )


def save_settings(paths: LabPaths, vm: VM) -> None:
    """Write the VM's settings file, as VirtualBox does whenever a setting changes."""
    path = settings_file(paths, vm)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(settings_xml(vm))


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


#: VirtualBox 7.1 aborts a VM's start when a forwarded host port cannot be bound (mirror/vbox
#: issue #9, "Can't establish port forwarding"); older versions log it and start.
REFUSES_UNBOUND_FROM = (7, 1, 0)


def start(paths: LabPaths, st: dict[str, Any], vm: VM, wait: bool = False) -> None:
    """`VBoxManage startvm`: start every NAT forward, bring the NICs up, power on."""
    if running(vm):
        raise VBoxError(
            f"The machine '{vm['name']}' is already locked by a session (or being locked or unlocked)",
            "Details: code VBOX_E_INVALID_OBJECT_STATE (0x80bb0007), component MachineWrap, "
            "interface IMachine, callee nsISupports",
            'Context: "LaunchVMProcess(a->session, sessionType.raw(), '
            'ComSafeArrayAsInParam(aBstrEnv), progress.asOutParam())" at line 726 of file '
            "VBoxManageMisc.cpp",
        )
    forwarders = {rule.name: natpf.start(paths, vm["name"], rule) for rule in rules(vm)}
    unbound = [r for r in rules(vm) if forwarders[r.name] is None]
    if unbound and version(st) >= REFUSES_UNBOUND_FROM:
        for pid in forwarders.values():
            natpf.stop(pid)
        rule = unbound[0]
        raise VBoxError(
            f"NAT#0: configuration error: failed to set up redirection of {rule.hostport} to "
            f"{rule.guestport}. Probably a conflict with existing services or other rules "
            "(VERR_NAT_REDIR_SETUP).",
            "Details: code NS_ERROR_FAILURE (0x80004005), component ConsoleWrap, "
            "interface IConsole",
        )
    # Only powering a VM needs the guest module (and the cryptography it imports), so
    # showvminfo and the other VBoxManage calls start fast.
    from . import guest

    net.set_guest_links(vm["name"], up=True)
    vm["pid"] = guest.power_on(paths, vm["name"])
    vm["state"] = "running"
    vm["state_change"] = now_stamp()
    vm["forwarders"] = forwarders
    reachable = version(st) < (7, 0, 0) or localhost_reachable(vm)
    mappings = host_mappings(vm)
    vm["gateway"] = natpf.start_gateway(paths, vm["name"], vm["pid"], reachable, mappings)
    if wait:
        guest.wait_booted(vm["pid"], log=guest.console_log(paths, vm["name"]))


def stop(vm: VM, graceful: bool) -> None:
    """`controlvm poweroff` (hard) or an ACPI shutdown (graceful): forwards stop, NICs go down."""
    for pid in vm["forwarders"].values():
        natpf.stop(pid)
    vm["forwarders"] = {}
    natpf.stop(vm.pop("gateway", None))
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
    save_settings(paths, vm)
    if running(vm):
        vm["forwarders"][rule.name] = natpf.start(paths, vm["name"], rule)


def delete_rule(paths: LabPaths, vm: VM, name: str, source: str) -> None:
    """Remove a NAT rule and stop its forwarder, if it runs."""
    remaining = [r for r in vm["rules"] if r["name"] != name]
    if len(remaining) == len(vm["rules"]):
        raise VBoxError(
            "Code NS_ERROR_INVALID_ARG (0x80070057) - Invalid argument value (extended info not available)",
            f'Context: "RemoveRedirect(Bstr(ValueUnion.psz).raw())" at line 1766 of file {source}',
        )
    vm["rules"] = remaining
    save_settings(paths, vm)
    natpf.stop(vm["forwarders"].pop(name, None))


def set_nat_dns(
    paths: LabPaths, vm: VM, proxy: bool | None = None, host_resolver: bool | None = None
) -> None:
    """`modifyvm --natdnsproxy1/--natdnshostresolver1`: stopped VMs only (the caller checks).

    The NAT engine reads them when the VM starts; the guest's resolver itself is not simulated.
    """
    if proxy is not None:
        vm["dns_proxy"] = proxy
    if host_resolver is not None:
        vm["dns_host_resolver"] = host_resolver
    save_settings(paths, vm)


#: NIC types -> the device whose configuration extradata's `VBoxInternal/Devices/<device>/...`
#: reaches (DevE1000, DevPCNet, DevVirtioNet).
NIC_DEVICES = {"82540EM": "e1000", "82543GC": "e1000", "82545EM": "e1000", "virtio": "virtio-net"}
NIC1_TYPE = "82540EM"  # docker-machine's


def host_mappings(vm: VM) -> list[list[str]]:
    """[[HostNamePattern or HostName, HostIP], ...] NIC 1's NAT answers at its DNS address, read
    at power-on as VirtualBox's NAT driver reads its `HostResolverMappings` configuration; none
    without the host resolver, the only mode that uses them."""
    if not nat_dns(vm)["host_resolver"]:
        return []
    base = f"VBoxInternal/Devices/{NIC_DEVICES.get(NIC1_TYPE, 'pcnet')}/0/LUN#0/Config/"
    base += "HostResolverMappings/"
    found: dict[str, dict[str, str]] = {}
    for key, value in vm.get("extradata", {}).items():
        if key.startswith(base) and key.count("/", len(base)) == 1:
            mapping, field = key[len(base) :].split("/")
            found.setdefault(mapping, {})[field] = value
    return [
        [m.get("HostNamePattern") or m["HostName"], m["HostIP"]]
        for _, m in sorted(found.items())
        if "HostIP" in m and ("HostNamePattern" in m or "HostName" in m)
    ]


def set_localhost_reachable(paths: LabPaths, vm: VM, on: bool) -> None:
    """`modifyvm --nat-localhostreachable1` (7.0+, stopped VMs): saved with the explicit
    attribute, which needs the 7.0 format (VirtualBox bumps an older file's version)."""
    vm["localhost_reachable"] = on
    vm["format"] = list(max(settings_format(vm), LOCALHOST_SWITCH_FORMAT))
    save_settings(paths, vm)


def set_extradata(paths: LabPaths, vm: VM, key: str, value: str) -> None:
    """`setextradata NAME KEY [VALUE]`: an empty value removes the key. Devices read their
    `VBoxInternal/...` keys when the VM starts."""
    extradata = vm.setdefault("extradata", {})
    if value:
        extradata[key] = value
    else:
        extradata.pop(key, None)
    save_settings(paths, vm)
