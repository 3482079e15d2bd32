"""`VBoxManage` stand-in (VirtualBox on macOS; 6.1.50 unless the lab is set to another version,
virtualbox.VERSIONS): the subcommands docker-machine and the helper use, with VirtualBox's output
formats, error texts and exit codes. Run via <lab>/bin/VBoxManage.

Supported: --version; list vms|runningvms|hostonlyifs; showvminfo NAME [--machinereadable];
startvm NAME [--type headless]; controlvm NAME natpf1 RULE | natpf1 delete RULENAME | poweroff |
acpipowerbutton; modifyvm NAME with any of --natpf1 RULE, --natpf1 delete RULENAME,
--natdnsproxy1 on|off, --natdnshostresolver1 on|off, --nat-localhostreachable1 on|off (7.0+;
stopped VMs only, as in VirtualBox); setextradata NAME KEY [VALUE]; getextradata NAME
KEY|enumerate; hostonlyif ipconfig IF --ip IP [--netmask MASK].

RULE is `name,tcp|udp,hostip,hostport,guestip,guestport`; every rule of a running VM forwards.
Like VirtualBox, showvminfo does not print the NAT DNS settings: they are in the VM's
settings file (CfgFile), which the stand-in writes whenever a setting changes. showvminfo's
keys follow the version the lab is (shapes of the real dumps in shared/corpus/showvminfo: 5.2's
`vcp*` keys, 7.0's `Encryption:` line, `BIOS NVRAM File=` and `rec_screen0`; 7.1 as 7.0, for
want of a 7.1 sample), and 7.0.0/7.0.1 print no `Forwarding(n)` line for a NIC with more than
one rule, as those versions did.
"""

from __future__ import annotations

import contextlib
import copy
import ipaddress
import sys
from collections.abc import Callable

from . import state, virtualbox
from .natpf import Rule
from .paths import HOSTONLY_BRIDGE, HOSTONLY_HOST_IP, LabPaths, default_dir
from .virtualbox import VM, VBoxError

CONTROLVM_SRC = "VBoxManageControlVM.cpp"
MODIFYVM_SRC = "VBoxManageModifyVM.cpp"


class SyntaxErr(Exception):
    """Bad usage: VBoxManage prints `Syntax error: ...` and exits 2."""


class UnknownOption(Exception):
    """An option this version does not have: `VBoxManage: error: Unknown option: X`, exit 2."""


def machinereadable(paths: LabPaths, vm: VM, version: tuple[int, int, int]) -> str:
    """showvminfo --machinereadable, keys in the order of the lab's VirtualBox version (NAT rules
    sorted by name)."""
    lines = _machinereadable_61(paths, vm, version)
    if version < (6, 0, 0):
        lines = _as_52(lines)
    elif version >= (7, 0, 0):
        lines = _as_70(paths, vm, lines)
    return "\n".join(lines) + "\n"


#: Keys VirtualBox 5.2 did not print yet (shared/corpus/showvminfo/4.txt).
_NEWER_THAN_52 = ("cpu-profile=", "nested-hw-virt=", "graphicscontroller=", "vmprocpriority=")
_NEWER_THAN_52 += ("audio_out=", "audio_in=")
_VCP_52 = [
    'vcpenabled="off"',
    "vcpscreens=0",
    "vcpwidth=1024",
    "vcpheight=768",
    "vcprate=512",
    "vcpfps=25",
]


def _as_52(lines: list[str]) -> list[str]:
    kept = [line for line in lines if not line.startswith(_NEWER_THAN_52)]
    at = kept.index('xhci="off"') + 1
    return kept[:at] + _VCP_52 + kept[at:]


def _as_70(paths: LabPaths, vm: VM, lines: list[str]) -> list[str]:
    """7.0's additions (shared/corpus/showvminfo/5.txt and 7.txt)."""
    name = vm["name"]
    folder = virtualbox.machine_folder(paths, vm) / name
    out: list[str] = []
    for line in lines:
        out.append(line)
        if line.startswith("name="):
            out.append("Encryption:     disabled")
        elif line.startswith("biossystemtimeoffset="):
            out.append(f'BIOS NVRAM File="{folder}/{name}.nvram"')
        elif line.startswith("vtxux="):
            out += ['virtvmsavevmload="on"', 'iommu="none"']
        elif line.startswith("xhci="):
            out += [
                'recording_enabled="off"',
                "recording_screens=1",
                " rec_screen0",
                'rec_screen_enabled="off"',
                "rec_screen_id=0",
                'rec_screen_video_enabled="on"',
                'rec_screen_audio_enabled="off"',
                'rec_screen_dest="File"',
                f'rec_screen_dest_filename="{folder}/{name}-screen0.webm"',
            ]
    return out


def _forwarding(vm: VM, version: tuple[int, int, int]) -> list[str]:
    """NIC 1's `Forwarding(n)` lines; none at all from 7.0.0 and 7.0.1 once the NIC has more than
    one rule (fixed in 7.0.2; hashicorp/vagrant PR #12950 reads the .vbox because of it)."""
    listed = sorted(virtualbox.rules(vm), key=lambda r: r.name)
    if version in ((7, 0, 0), (7, 0, 1)) and len(listed) > 1:
        return []
    return [f'Forwarding({i})="{rule}"' for i, rule in enumerate(listed)]


def _machinereadable_61(paths: LabPaths, vm: VM, version: tuple[int, int, int]) -> list[str]:
    """VirtualBox 6.1's keys, in its order."""
    return _machine_61(paths, vm) + _network_and_devices_61(vm, version)


def _machine_61(paths: LabPaths, vm: VM) -> list[str]:
    """6.1's keys before the network adapters."""
    name = vm["name"]
    machine = virtualbox.machine_folder(paths, vm)
    folder = machine / name
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
    ]
    return lines


def _network_and_devices_61(vm: VM, version: tuple[int, int, int]) -> list[str]:
    """6.1's keys from the network adapters on."""
    lines = [
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
    lines += _forwarding(vm, version)
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
    return lines


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
    if "--machinereadable" in args[1:]:
        return machinereadable(paths, vm, virtualbox.version(st))
    return human(vm)


def cmd_startvm(paths: LabPaths, st: dict, args: list[str]) -> str:
    if not args:
        raise SyntaxErr("Not enough parameters")
    vm = virtualbox.find(st, args[0])
    virtualbox.start(paths, st, vm)
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
        _modify(paths, vm, args[1:], virtualbox.version(st))
    except (VBoxError, SyntaxErr, UnknownOption):
        virtualbox.save_settings(paths, before)  # the state file is not written either
        raise
    return ""


def _modify(paths: LabPaths, vm: VM, rest: list[str], version: tuple[int, int, int]) -> None:
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
        elif option == "--nat-localhostreachable1" and version >= (7, 0, 0):
            virtualbox.set_localhost_reachable(paths, vm, _on_off(option, value))
            rest = rest[2:]
        elif option == "--nat-localhostreachable1":  # new in 7.0: RTGetOpt does not know it
            raise UnknownOption(option)
        else:
            raise SyntaxErr(
                f"Invalid parameter '{option}' (the lab simulates only --natpf1, "
                "--natdnsproxy1, --natdnshostresolver1 and --nat-localhostreachable1)"
            )


def cmd_setextradata(paths: LabPaths, st: dict, args: list[str]) -> str:
    """`setextradata NAME KEY [VALUE]`: no value (or an empty one) deletes the key; a running
    VM takes it too (its devices read `VBoxInternal/...` keys at the next start)."""
    if len(args) < 2:
        raise SyntaxErr("Not enough parameters")
    vm = virtualbox.find(st, args[0])
    virtualbox.set_extradata(paths, vm, args[1], args[2] if len(args) > 2 else "")
    return ""


def cmd_getextradata(paths: LabPaths, st: dict, args: list[str]) -> str:
    if len(args) != 2:
        raise SyntaxErr("Incorrect number of parameters")
    extradata = virtualbox.find(st, args[0]).get("extradata", {})
    if args[1] == "enumerate":
        return "".join(f"Key: {k}, Value: {v}\n" for k, v in sorted(extradata.items()))
    return f"Value: {extradata[args[1]]}\n" if args[1] in extradata else "No value set!\n"


#: VirtualBox 6.1.28 and later (Linux, macOS, Solaris hosts): host-only adapters get only these
#: ranges unless /etc/vbox/networks.conf lists others as `* <cidr> [<cidr>...]` lines.
HOSTONLY_LIMIT_FROM = (6, 1, 28)
DEFAULT_HOSTONLY_RANGE = "192.168.56.0/21"


def _allowed_ranges(paths: LabPaths) -> list[ipaddress.IPv4Network]:
    """What VirtualBox reads from networks.conf: only `*` lines count; no file, the default."""
    try:
        text = paths.networks_conf.read_text()
    except FileNotFoundError:
        return [ipaddress.IPv4Network(DEFAULT_HOSTONLY_RANGE)]
    ranges = []
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["*"]:
            for word in words[1:]:
                with contextlib.suppress(ValueError):
                    network = ipaddress.ip_network(word, strict=False)
                    if network.version == 4:
                        ranges.append(network)
    return ranges


def cmd_hostonlyif(paths: LabPaths, st: dict, args: list[str]) -> str:
    """`hostonlyif ipconfig IF --ip IP [--netmask MASK]`, as docker-machine's driver runs it."""
    if len(args) < 4 or args[0] != "ipconfig" or args[2] != "--ip":
        raise SyntaxErr("the lab simulates only: hostonlyif ipconfig IF --ip IP [--netmask MASK]")
    if args[1] != HOSTONLY_BRIDGE:
        raise VBoxError(
            f"The host network interface named '{args[1]}' could not be found",
            'Context: "FindHostNetworkInterfaceByName(...)" at line 230 of file '
            "VBoxManageHostonly.cpp",
        )
    mask = args[args.index("--netmask") + 1] if "--netmask" in args[:-1] else "255.255.255.0"
    network = ipaddress.IPv4Network(f"{args[3]}/{mask}", strict=False)
    if virtualbox.version(st) >= HOSTONLY_LIMIT_FROM and not any(
        network.subnet_of(allowed) for allowed in _allowed_ranges(paths)
    ):
        raise VBoxError(
            "Code E_ACCESSDENIED (0x80070005) - Access denied (extended info not available)",
            'Context: "EnableStaticIPConfig(Bstr(pszIp).raw(), Bstr(pszNetmask).raw())" at line '
            "242 of file VBoxManageHostonly.cpp",
        )
    return ""


COMMANDS: dict[str, Callable[[LabPaths, dict, list[str]], str]] = {
    "list": cmd_list,
    "showvminfo": cmd_showvminfo,
    "startvm": cmd_startvm,
    "controlvm": cmd_controlvm,
    "modifyvm": cmd_modifyvm,
    "setextradata": cmd_setextradata,
    "getextradata": cmd_getextradata,
    "hostonlyif": cmd_hostonlyif,
}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    paths = LabPaths(default_dir())
    if args[:1] in (["--version"], ["-v"], ["-version"]):
        print(virtualbox.version_text(state.load(paths)))
        return 0
    command = COMMANDS.get(args[0]) if args else None
    if command is None:
        sys.stderr.write(f"Syntax error: Invalid command '{args[0] if args else ''}'\n")
        return 2
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
    except UnknownOption as err:
        sys.stderr.write(f"VBoxManage: error: Unknown option: {err}\n")
        return 2
    sys.stdout.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
