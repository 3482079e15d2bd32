"""`VBoxManage` stand-in (VirtualBox 6.1.50 on macOS): the subcommands docker-machine and the helper
use, with VirtualBox's output formats, error texts and exit codes. Run via <lab>/bin/VBoxManage.

Supported: --version; list vms|runningvms|hostonlyifs; showvminfo NAME [--machinereadable];
startvm NAME [--type headless]; controlvm NAME natpf1 RULE | natpf1 delete RULENAME | poweroff |
acpipowerbutton; modifyvm NAME with any of --natpf1 RULE, --natpf1 delete RULENAME,
--natdnsproxy1 on|off, --natdnshostresolver1 on|off (stopped VMs only, as in VirtualBox).

RULE is `name,tcp|udp,hostip,hostport,guestip,guestport`; every rule of a running VM forwards.
Like VirtualBox 6.1, showvminfo does not print the NAT DNS settings: they are in the VM's
settings file (CfgFile), which the stand-in writes whenever a setting changes.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable

from . import state, virtualbox
from .natpf import Rule
from .paths import HOSTONLY_BRIDGE, HOSTONLY_HOST_IP, LabPaths, default_dir
from .virtualbox import VM, VBoxError

VERSION = "6.1.50r161033"
CONTROLVM_SRC = "VBoxManageControlVM.cpp"
MODIFYVM_SRC = "VBoxManageModifyVM.cpp"


class SyntaxErr(Exception):
    """Bad usage: VBoxManage prints `Syntax error: ...` and exits 2."""


def machinereadable(paths: LabPaths, vm: VM) -> str:
    """showvminfo --machinereadable, keys in VirtualBox 6.1's order (NAT rules sorted by name)."""
    name = vm["name"]
    machine = virtualbox.machine_folder(paths, vm)
    folder = machine / name
    q = '"'
    lines = [
        f'name="{name}"',
        'groups="/"',
        'ostype="Linux 2.6 / 3.x / 4.x (64-bit)"',
        f'UUID="{vm["uuid"]}"',
        f'CfgFile="{folder}/{name}.vbox"',
        f'SnapFldr="{folder}/Snapshots"',
        f'LogFldr="{folder}/Logs"',
        f'hardwareuuid="{vm["uuid"]}"',
        "memory=1024",
        'pagefusion="off"',
        "vram=8",
        "cpuexecutioncap=100",
        'hpet="on"',
        'cpu-profile="host"',
        'chipset="piix3"',
        'firmware="BIOS"',
        "cpus=1",
        'pae="on"',
        'longmode="on"',
        'triplefaultreset="off"',
        'apic="on"',
        'x2apic="off"',
        'nested-hw-virt="off"',
        "cpuid-portability-level=0",
        'bootmenu="disabled"',
        'boot1="dvd"',
        'boot2="dvd"',
        'boot3="disk"',
        'boot4="none"',
        'acpi="on"',
        'ioapic="on"',
        'biosapic="apic"',
        "biossystemtimeoffset=0",
        'rtcuseutc="on"',
        'hwvirtex="on"',
        'nestedpaging="on"',
        'largepages="on"',
        'vtxvpid="on"',
        'vtxux="on"',
        'paravirtprovider="default"',
        'effparavirtprovider="kvm"',
        f'VMState="{vm["state"]}"',
        f'VMStateChangeTime="{vm["state_change"]}"',
        'graphicscontroller="vboxvga"',
        "monitorcount=1",
        'accelerate3d="off"',
        'accelerate2dvideo="off"',
        'teleporterenabled="off"',
        "teleporterport=0",
        'teleporteraddress=""',
        'teleporterpassword=""',
        'tracing-enabled="off"',
        'tracing-allow-vm-access="off"',
        'tracing-config=""',
        'autostart-enabled="off"',
        "autostart-delay=0",
        'defaultfrontend=""',
        'vmprocpriority="default"',
        'storagecontrollername0="SATA"',
        'storagecontrollertype0="IntelAhci"',
        'storagecontrollerinstance0="0"',
        'storagecontrollermaxportcount0="30"',
        'storagecontrollerportcount0="30"',
        'storagecontrollerbootable0="on"',
        f'"SATA-0-0"="{machine}/boot2docker.iso"',
        f'"SATA-ImageUUID-0-0"="{vm["uuid"][:-12]}000000000001"',
        '"SATA-tempeject"="off"',
        '"SATA-IsEjected"="off"',
        f'"SATA-1-0"="{machine}/disk.vmdk"',
        f'"SATA-ImageUUID-1-0"="{vm["uuid"][:-12]}000000000002"',
        'natnet1="nat"',
        f'macaddress1="{vm["mac1"]}"',
        'cableconnected1="on"',
        'nic1="nat"',
        'nictype1="82540EM"',
        'nicspeed1="0"',
        'mtu="0"',
        'sockSnd="64"',
        'sockRcv="64"',
        'tcpWndSnd="64"',
        'tcpWndRcv="64"',
    ]
    for i, rule in enumerate(sorted(virtualbox.rules(vm), key=lambda r: r.name)):
        lines.append(f"Forwarding({i})={q}{rule}{q}")
    lines += [
        f'hostonlyadapter2="{HOSTONLY_BRIDGE}"',
        f'macaddress2="{vm["mac2"]}"',
        'cableconnected2="on"',
        'nic2="hostonly"',
        'nictype2="82540EM"',
        'nicspeed2="0"',
    ]
    lines += [f'nic{i}="none"' for i in range(3, 9)]
    lines += [
        'hidpointing="ps2mouse"',
        'hidkeyboard="ps2kbd"',
        'uart1="off"',
        'uart2="off"',
        'uart3="off"',
        'uart4="off"',
        'lpt1="off"',
        'lpt2="off"',
        'audio="coreaudio"',
        'audio_out="off"',
        'audio_in="off"',
        'clipboard="disabled"',
        'draganddrop="disabled"',
    ]
    if virtualbox.running(vm):
        lines += ['SessionName="headless"', 'VideoMode="720,400,0"@0,0 1']
    lines += [
        'vrde="off"',
        'usb="off"',
        'ehci="off"',
        'xhci="off"',
        'SharedFolderNameMachineMapping1="Users"',
        'SharedFolderPathMachineMapping1="/Users"',
        "GuestMemoryBalloon=0",
    ]
    return "\n".join(lines) + "\n"


def human(vm: VM) -> str:
    """The few lines of plain `showvminfo` that people grep (Name, UUID, State, NIC rules)."""
    state_words = {"running": "running", "poweroff": "powered off", "aborted": "aborted"}
    when = vm["state_change"][:23]
    lines = [
        f"Name:                        {vm['name']}",
        f"UUID:                        {vm['uuid']}",
        f"State:                       {state_words.get(vm['state'], vm['state'])} (since {when})",
        f"NIC 1:                       MAC: {vm['mac1']}, Attachment: NAT, Cable connected: on",
    ]
    for i, r in enumerate(sorted(virtualbox.rules(vm), key=lambda r: r.name)):
        lines.append(
            f"NIC 1 Rule({i}):   name = {r.name}, protocol = {r.proto}, host ip = {r.hostip}, "
            f"host port = {r.hostport}, guest ip = {r.guestip}, guest port = {r.guestport}"
        )
    lines.append(
        f"NIC 2:                       MAC: {vm['mac2']}, Attachment: Host-only Interface "
        f"'{HOSTONLY_BRIDGE}', Cable connected: on"
    )
    return "\n".join(lines) + "\n"


def hostonlyifs() -> str:
    return (
        f"Name:            {HOSTONLY_BRIDGE}\n"
        "GUID:            786f6276-656e-4074-8000-0a0027000000\n"
        "DHCP:            Disabled\n"
        f"IPAddress:       {HOSTONLY_HOST_IP}\n"
        "NetworkMask:     255.255.255.0\n"
        "IPV6Address:     \n"
        "IPV6NetworkMaskPrefixLength: 0\n"
        "HardwareAddress: 0a:00:27:00:00:00\n"
        "MediumType:      Ethernet\n"
        "Wireless:        No\n"
        "Status:          Up\n"
        f"VBoxNetworkName: HostInterfaceNetworking-{HOSTONLY_BRIDGE}\n\n"
    )


def _rule(text: str) -> Rule:
    try:
        return Rule.parse(text)
    except ValueError:
        raise VBoxError(f"Invalid NAT rule: '{text}'") from None


def _natpf(paths: LabPaths, vm: VM, args: list[str], source: str) -> None:
    if not args:
        raise SyntaxErr("Missing argument to 'natpf1'")
    if args[0] == "delete":
        if len(args) != 2:
            raise SyntaxErr("Not enough parameters")
        virtualbox.delete_rule(paths, vm, args[1], source)
    else:
        virtualbox.add_rule(paths, vm, _rule(args[0]), source)


def cmd_list(paths: LabPaths, st: dict, args: list[str]) -> str:
    what = args[0] if args else ""
    if what == "vms":
        vms = st["vms"].values()
    elif what == "runningvms":
        vms = [
            vm for vm in st["vms"].values() if virtualbox.running(virtualbox.find(st, vm["name"]))
        ]
    elif what == "hostonlyifs":
        return hostonlyifs()
    else:
        raise SyntaxErr(f"Invalid parameter '{what}'")
    return "".join(f'"{vm["name"]}" {{{vm["uuid"]}}}\n' for vm in vms)


def cmd_showvminfo(paths: LabPaths, st: dict, args: list[str]) -> str:
    if not args:
        raise SyntaxErr("Incorrect number of parameters")
    vm = virtualbox.find(st, args[0])
    return machinereadable(paths, vm) if "--machinereadable" in args[1:] else human(vm)


def cmd_startvm(paths: LabPaths, st: dict, args: list[str]) -> str:
    if not args:
        raise SyntaxErr("Not enough parameters")
    vm = virtualbox.find(st, args[0])
    virtualbox.start(paths, vm)
    return f'Waiting for VM "{vm["name"]}" to power on...\nVM "{vm["name"]}" has been successfully started.\n'


def cmd_controlvm(paths: LabPaths, st: dict, args: list[str]) -> str:
    if len(args) < 2:
        raise SyntaxErr("Not enough parameters")
    vm = virtualbox.find(st, args[0])
    action, rest = args[1], args[2:]
    virtualbox.require_running(vm)
    if action == "natpf1":
        _natpf(paths, vm, rest, CONTROLVM_SRC)
    elif action == "poweroff":
        virtualbox.stop(vm, graceful=False)
        sys.stderr.write("0%...10%...20%...30%...40%...50%...60%...70%...80%...90%...100%\n")
    elif action == "acpipowerbutton":
        virtualbox.stop(vm, graceful=True)
    else:
        raise SyntaxErr(f"Invalid parameter '{action}'")
    return ""


ON_OFF = {"on": True, "off": False}


def _on_off(option: str, value: str | None) -> bool:
    if value not in ON_OFF:
        raise SyntaxErr(f"Invalid {option} argument '{value or ''}' (on|off)")
    return ON_OFF[value]


def cmd_modifyvm(paths: LabPaths, st: dict, args: list[str]) -> str:
    """Options apply in order; nothing is saved if one fails (VBoxManage saves at the end)."""
    if len(args) < 2:
        raise SyntaxErr("Not enough parameters")
    vm = virtualbox.find(st, args[0])
    virtualbox.require_unlocked(vm)
    before = copy.deepcopy(vm)
    try:
        _modify(paths, vm, args[1:])
    except (VBoxError, SyntaxErr):
        virtualbox.save_settings(paths, before)  # the state file is not written either
        raise
    return ""


def _modify(paths: LabPaths, vm: VM, rest: list[str]) -> None:
    while rest:
        option, value = rest[0], rest[1] if len(rest) > 1 else None
        if option == "--natpf1":
            if value == "delete":
                _natpf(paths, vm, rest[1:3], MODIFYVM_SRC)
                rest = rest[3:]
            else:
                _natpf(paths, vm, rest[1:2], MODIFYVM_SRC)
                rest = rest[2:]
        elif option == "--natdnsproxy1":
            virtualbox.set_nat_dns(paths, vm, proxy=_on_off(option, value))
            rest = rest[2:]
        elif option == "--natdnshostresolver1":
            virtualbox.set_nat_dns(paths, vm, host_resolver=_on_off(option, value))
            rest = rest[2:]
        else:
            raise SyntaxErr(
                f"Invalid parameter '{option}' (the lab simulates only --natpf1, "
                "--natdnsproxy1 and --natdnshostresolver1)"
            )


COMMANDS: dict[str, Callable[[LabPaths, dict, list[str]], str]] = {
    "list": cmd_list,
    "showvminfo": cmd_showvminfo,
    "startvm": cmd_startvm,
    "controlvm": cmd_controlvm,
    "modifyvm": cmd_modifyvm,
}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["--version"], ["-v"], ["-version"]):
        print(VERSION)
        return 0
    command = COMMANDS.get(args[0]) if args else None
    if command is None:
        sys.stderr.write(f"Syntax error: Invalid command '{args[0] if args else ''}'\n")
        return 2
    paths = LabPaths(default_dir())
    if not paths.state.exists():
        sys.stderr.write(
            "VBoxManage: error: Failed to create the VirtualBox object!\n"
            "VBoxManage: error: Code NS_ERROR_FACTORY_NOT_REGISTERED (0x80040154) - Class not "
            "registered (extended info not available)\n"
            "VBoxManage: error: Most likely, the VirtualBox COM server is not running or failed to start.\n"
        )
        return 1
    try:
        with state.locked(paths) as st:
            out = command(paths, st, args[1:])
    except VBoxError as err:
        sys.stderr.write("".join(f"VBoxManage: error: {line}\n" for line in err.lines))
        return 1
    except SyntaxErr as err:
        sys.stderr.write(f"Syntax error: {err}\n")
        return 2
    sys.stdout.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
