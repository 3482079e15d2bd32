"""Parse what `VBoxManage` prints, and find the daemon's NAT rule in it. Pure: no processes.

Formats handled (checked against VirtualBox's own VBoxManageInfo.cpp and real dumps from
docker-machine / Vagrant bug reports, VirtualBox 4.3 to 7.x):

* `VBoxManage showvminfo NAME --machinereadable`: one `key=value` per line. Values are usually
  double-quoted with `\\"` and `\\\\` escaped (`CfgFile="C:\\\\Users\\\\..."`), numbers are not
  (`memory=1024`); a few keys are quoted too (`"SATA Controller-0-0"="..."`); one odd line carries
  text after the closing quote (`VideoMode="640,480,32"@0,0`). A quoted value may span lines
  (a VM description), so an unclosed quote swallows the following lines.
* `VBoxManage list vms`: `"NAME" {UUID}` per line.
* `VBoxManage --version`: `7.0.14r161095`, `6.1.50_Debianr161033`, possibly after a multi-line
  `WARNING: The vboxdrv kernel module is not loaded ...` banner (printed on stdout).

How NAT rules are told apart per NIC: VBoxManage prints each adapter as one block,
`natnetN`/`hostonlyadapterN`/`bridgeadapterN`/... (the attachment line), then `macaddressN`,
`cableconnectedN`, `nicN`, `nictypeN`, `nicspeedN`, and, for a NAT adapter only, the unnumbered
`mtu`/`sockSnd`/... lines and its rules `Forwarding(0)`, `Forwarding(1)`, ...; the next adapter's
block then begins. The index in `Forwarding(i)` restarts at 0 for every NAT adapter, so it says
nothing about the NIC: a rule belongs to the adapter whose numbered keys were seen last before it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

VALID_PROTOCOLS = ("tcp", "udp")
LOOPBACK = "127.0.0.1"  # the only host address a daemon forward listens on: no VPN re-routes it

#: Machine states in which a VM has a live session: `controlvm` works, `modifyvm` is refused.
#: Short names as printed by `showvminfo --machinereadable` (machineStateToName, fShort).
RUNNING_STATES = frozenset(
    {
        "running",
        "paused",
        "gurumeditation",
        "stuck",
        "teleporting",
        "teleportingpausedvm",
        "livesnapshotting",
        "onlinesnapshotting",
        "deletingsnapshotlive",
        "deletingsnapshotlivepaused",
    }
)

#: Texts VBoxManage prints on stderr, e.g.
#: `VBoxManage: error: Could not find a registered machine named 'default'`.
NOT_FOUND_MARKER = "Could not find a registered machine"
#: `VBoxManage: error: Machine 'default' is not currently running`.
NOT_RUNNING_MARKER = "is not currently running"
#: `VBoxManage: error: A NAT rule of this name already exists`.
RULE_EXISTS_MARKER = "A NAT rule of this name already exists"

# Keys that carry the number of the adapter whose block they belong to.
_NIC_KEY = re.compile(
    r"^(?:natnet|macaddress|cableconnected|nic|nictype|nicspeed|nicbootprio|nicpromisc"
    r"|nicbandwidthgroup|nictrace|nictracefile|hostonlyadapter|bridgeadapter|intnet|generic"
    r"|nat-network|hostonly-network|cloud-network)(\d+)$"
)
_FORWARDING_KEY = re.compile(r"^Forwarding\((\d+)\)$")
_LIST_VMS_LINE = re.compile(r'^"(?P<name>.*)"\s+\{(?P<uuid>[0-9A-Fa-f-]+)\}$')
_VERSION_LINE = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:[_A-Za-z0-9.~+-]*r\d+)?[_A-Za-z0-9.~+-]*$")


@dataclass(frozen=True)
class NatRule:
    """One NAT port-forwarding rule: `name,proto,hostip,hostport,guestip,guestport`."""

    name: str
    proto: str
    host_ip: str
    host_port: int
    guest_ip: str
    guest_port: int

    @classmethod
    def parse(cls, text: str) -> NatRule:
        """Parse `docker,tcp,127.0.0.1,2376,,2376`; raise ValueError on anything else.

        Surrounding whitespace and one pair of surrounding double quotes are tolerated.
        """
        raw = text.strip()
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            raw = raw[1:-1]
        parts = raw.split(",")
        if len(parts) != 6:
            raise ValueError(f"not a NAT rule (want 6 comma-separated fields): {text!r}")
        name, proto, host_ip, host_port, guest_ip, guest_port = (p.strip() for p in parts)
        if not name:
            raise ValueError(f"NAT rule without a name: {text!r}")
        proto = proto.lower()
        if proto not in VALID_PROTOCOLS:
            raise ValueError(f"NAT rule protocol must be tcp or udp: {text!r}")
        return cls(
            name=name,
            proto=proto,
            host_ip=host_ip,
            host_port=_port(host_port, text),
            guest_ip=guest_ip,
            guest_port=_port(guest_port, text),
        )

    def holds_loopback_port(self, proto: str = "tcp") -> bool:
        """Whether it listens on 127.0.0.1:host_port (an empty or 0.0.0.0 host IP means every
        host address, 127.0.0.1 included)."""
        return self.proto == proto and self.host_ip in ("", "0.0.0.0", LOOPBACK)

    def spec(self) -> str:
        """The rule text `controlvm NAME natpf1 "<spec>"` / `modifyvm --natpf1 "<spec>"` take."""
        return ",".join(
            (
                self.name,
                self.proto,
                self.host_ip,
                str(self.host_port),
                self.guest_ip,
                str(self.guest_port),
            )
        )


def _port(value: str, text: str) -> int:
    if not value.isdigit():
        raise ValueError(f"NAT rule port is not a number: {text!r}")
    port = int(value)
    if not 1 <= port <= 65535:
        raise ValueError(f"NAT rule port out of range: {text!r}")
    return port


@dataclass(frozen=True)
class VMInfo:
    """What we need from `showvminfo --machinereadable`; `raw` keeps every key as printed."""

    name: str
    state: str
    nics: dict[int, str]
    hostonly_adapters: dict[int, str]
    forwarding: dict[int, tuple[NatRule, ...]]
    raw: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def running(self) -> bool:
        """True when the VM has a live session (use `controlvm`, not `modifyvm`)."""
        return self.state in RUNNING_STATES

    @property
    def nat_nic(self) -> int | None:
        """The lowest-numbered NIC attached to NAT (docker-machine's NIC1), or None."""
        nat = sorted(n for n, kind in self.nics.items() if kind == "nat")
        return nat[0] if nat else None

    def rules(self, nic: int | None = None) -> tuple[NatRule, ...]:
        """The NAT rules of `nic` (default: `nat_nic`); empty when there is none."""
        number = self.nat_nic if nic is None else nic
        if number is None:
            return ()
        return self.forwarding.get(number, ())


def forwards_daemon(rule: NatRule, wanted: NatRule) -> bool:
    """A loopback TCP rule to the daemon's guest port (on any host port: compare that apart)."""
    return rule.proto == "tcp" and rule.host_ip == LOOPBACK and rule.guest_port == wanted.guest_port


def current_forward(rules: Iterable[NatRule], wanted: NatRule, port_source: str) -> NatRule | None:
    """The rule among `rules` (VMInfo.rules()) that already forwards the daemon as `wanted` asks.

    One on `wanted`'s host port, else, when that port is only the configured default
    (`port_source == "config"`), one named like `wanted`: the machine was forwarded before its
    port was remembered (or by hand), and keeps that port. A port from --port ("flag") or
    remembered ("remembered") is kept: a rule on another port is not adopted.
    """
    daemon_rules = [r for r in rules if forwards_daemon(r, wanted)]
    present = next((r for r in daemon_rules if r.host_port == wanted.host_port), None)
    if present is None and port_source == "config":
        present = next((r for r in daemon_rules if r.name == wanted.name), None)
    return present


def _read_quoted(text: str, start: int) -> tuple[str, int] | None:
    """Read a double-quoted, backslash-escaped string starting at text[start] == '"'.

    Returns (value, index after the closing quote), or None when the quote never closes.
    """
    out = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if ch == '"':
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    return None


def _iter_pairs(text: str) -> Iterable[tuple[str, str]]:
    """Yield (key, value) in order from machine-readable text; skip lines that are not pairs."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line or "=" not in line:
            continue
        if line.startswith('"'):
            got = _read_quoted(line, 0)
            if got is None or got[1] >= len(line) or line[got[1]] != "=":
                continue
            key, pos = got[0], got[1] + 1
        else:
            pos = line.index("=")
            key = line[:pos].strip()
            pos += 1
            if not key or " " in key:
                continue
        rest = line[pos:].lstrip()
        if rest.startswith('"'):
            got = _read_quoted(rest, 0)
            while got is None and i < len(lines):  # a value spanning lines
                rest += "\n" + lines[i].rstrip("\r")
                i += 1
                got = _read_quoted(rest, 0)
            if got is None:
                continue
            value = got[0]
        else:
            value = rest.strip()
        yield key, value


def parse_showvminfo(text: str) -> VMInfo:
    """Parse `VBoxManage showvminfo NAME --machinereadable` (stdout).

    Raises ValueError when the text has neither `name=` nor `VMState=` (not such a dump).
    NICs whose type is `none` are left out of `nics`. Rules that cannot be parsed are skipped.
    A rule seen before any adapter block is given to the lowest NAT adapter.
    """
    raw: dict[str, str] = {}
    nics: dict[int, str] = {}
    hostonly: dict[int, str] = {}
    rules: dict[int, list[NatRule]] = {}
    orphans: list[NatRule] = []
    current_nic: int | None = None
    for key, value in _iter_pairs(text):
        raw.setdefault(key, value)
        nic_key = _NIC_KEY.match(key)
        if nic_key:
            current_nic = int(nic_key.group(1))
            if key.startswith("nic") and key[3:].isdigit():
                if value != "none":
                    nics[current_nic] = value
            elif key.startswith("hostonlyadapter"):
                hostonly[current_nic] = value
            continue
        if _FORWARDING_KEY.match(key):
            try:
                rule = NatRule.parse(value)
            except ValueError:
                continue
            if current_nic is None:
                orphans.append(rule)
            else:
                rules.setdefault(current_nic, []).append(rule)
    if "name" not in raw and "VMState" not in raw:
        raise ValueError("not `showvminfo --machinereadable` output (no name= or VMState=)")
    if orphans:
        nat = sorted(n for n, kind in nics.items() if kind == "nat")
        if nat:
            rules[nat[0]] = orphans + rules.get(nat[0], [])
    # A rule under an adapter known not to be NAT cannot be real: drop it rather than guess.
    forwarding = {n: tuple(r) for n, r in sorted(rules.items()) if nics.get(n, "nat") == "nat"}
    return VMInfo(
        name=raw.get("name", ""),
        state=raw.get("VMState", "").strip().lower(),
        nics=dict(sorted(nics.items())),
        hostonly_adapters={
            n: a for n, a in sorted(hostonly.items()) if nics.get(n, "hostonly") == "hostonly"
        },
        forwarding=forwarding,
        raw=raw,
    )


def parse_list_vms(text: str) -> dict[str, str]:
    """Parse `VBoxManage list vms` (or `list runningvms`): `"NAME" {UUID}` -> {NAME: UUID}.

    Other lines (warnings) are ignored, and so are `"<inaccessible>"` placeholders.
    """
    vms: dict[str, str] = {}
    for line in text.splitlines():
        match = _LIST_VMS_LINE.match(line.strip())
        if not match or match.group("name") == "<inaccessible>":
            continue
        vms[match.group("name")] = match.group("uuid").lower()
    return vms


def parse_version(text: str) -> tuple[int, int, int]:
    """Parse `VBoxManage --version` output: the last line that looks like `7.0.14r161095`.

    Warning banners before it are skipped; raise ValueError if no version line is found.
    """
    for line in reversed(text.splitlines()):
        match = _VERSION_LINE.match(line.strip())
        if match:
            return int(match.group(1)), int(match.group(2)), int(match.group(3))
    raise ValueError(f"no VirtualBox version in {text.strip()[:200]!r}")


def is_vm_not_found(stderr: str) -> bool:
    """True for `Could not find a registered machine named 'X'` (or `with UUID {...}`)."""
    return NOT_FOUND_MARKER.lower() in stderr.lower()


def is_not_running(stderr: str) -> bool:
    """True for `Machine 'X' is not currently running` (controlvm on a stopped VM)."""
    return NOT_RUNNING_MARKER in stderr.lower()


def is_rule_exists(stderr: str) -> bool:
    """True for `A NAT rule of this name already exists`."""
    return RULE_EXISTS_MARKER.lower() in stderr.lower()


@dataclass(frozen=True)
class NatDns:
    """The NAT engine's DNS settings of one adapter, as the VM's settings file records them:
    `<NAT><DNS use-proxy=.. use-host-resolver=../>`, each attribute written only where it
    differs from the default (off). `showvminfo --machinereadable` does not print them
    (VBoxManageInfo.cpp leaves them out)."""

    proxy: bool
    host_resolver: bool


#: NIC types (showvminfo's `nictypeN`, the .vbox's `Adapter type=`) -> the device whose
#: configuration tree (`VBoxInternal/Devices/<device>/<instance>/...`) extradata reaches.
NIC_DEVICES = {
    "Am79C970A": "pcnet",
    "Am79C973": "pcnet",
    "Am79C960": "pcnet",
    "82540EM": "e1000",
    "82543GC": "e1000",
    "82545EM": "e1000",
    "virtio": "virtio-net",
}
#: Settings files from VirtualBox 7.0 on (format 1.19): the NAT reaches the host's loopback
#: only where `localhost-reachable="true"` says so; older files meant it always did.
LOCALHOST_SWITCH_FORMAT = (1, 19)


@dataclass(frozen=True)
class AdapterSettings:
    """One network adapter of the machine's own (current) hardware, as its .vbox records it."""

    slot: int  # 0-based: slot 0 is NIC 1 (`natpf1`, `nic1`)
    kind: str  # "82540EM", ...; VirtualBox writes no type for its default, Am79C970A
    attachment: str  # "nat", "hostonly", "bridged", ... ("" when the adapter is not attached)
    dns: NatDns
    localhost_reachable: bool
    rules: tuple[NatRule, ...]

    @property
    def device(self) -> str:
        """The device name extradata uses for this adapter (`e1000` for docker-machine's NICs)."""
        return NIC_DEVICES.get(self.kind, "pcnet")


@dataclass(frozen=True)
class VMSettings:
    """What the tool reads from a VM's settings file (showvminfo's CfgFile)."""

    format: tuple[int, int]  # `version="1.19-linux"` -> (1, 19)
    adapters: dict[int, AdapterSettings]
    extradata: dict[str, str]

    def adapter(self, nic: int) -> AdapterSettings | None:
        """NIC `nic` (1-based, as VBoxManage numbers them)."""
        return self.adapters.get(nic - 1)


_ATTACHMENTS = {
    "NAT": "nat",
    "HostOnlyInterface": "hostonly",
    "BridgedInterface": "bridged",
    "InternalNetwork": "intnet",
    "NATNetwork": "natnetwork",
    "GenericInterface": "generic",
}
_PROTOCOLS = {"0": "udp", "1": "tcp"}


def _local(element: Any) -> str:
    """An element's name without its namespace (VirtualBox 3.x files use innotek's)."""
    return str(element.tag).rpartition("}")[2]


def _child(element: Any, name: str) -> Any:
    return next((c for c in element if _local(c) == name), None)


def _settings_rule(element: Any) -> NatRule | None:
    """`<Forwarding name= proto= hostip= hostport= guestip= guestport=/>`; VirtualBox leaves out
    empty addresses and zero ports. A rule we cannot read is skipped, as in parse_showvminfo."""
    try:
        return NatRule(
            element.get("name", ""),
            _PROTOCOLS[element.get("proto", "1")],
            element.get("hostip", ""),
            _port(element.get("hostport", ""), element.get("name", "")),
            element.get("guestip", ""),
            _port(element.get("guestport", ""), element.get("name", "")),
        )
    except (KeyError, ValueError):
        return None


def _adapter(element: Any, file_format: tuple[int, int]) -> AdapterSettings:
    attached = [c for c in element if _local(c) in _ATTACHMENTS]
    nat = next((c for c in attached if _local(c) == "NAT"), None)
    dns = _child(nat, "DNS") if nat is not None else None
    reachable = nat.get("localhost-reachable") if nat is not None else None
    rules = [_settings_rule(c) for c in nat if _local(c) == "Forwarding"] if nat is not None else []
    return AdapterSettings(
        slot=int(element.get("slot", "0")),
        kind=element.get("type", "Am79C970A"),
        attachment=_ATTACHMENTS[_local(attached[0])] if attached else "",
        dns=NatDns(
            dns is not None and dns.get("use-proxy") == "true",
            dns is not None and dns.get("use-host-resolver") == "true",
        ),
        localhost_reachable=(
            reachable == "true" if reachable is not None else file_format < LOCALHOST_SWITCH_FORMAT
        ),
        rules=tuple(r for r in rules if r is not None),
    )


def parse_settings(settings_xml: str) -> VMSettings:
    """A VM's settings file: the adapters of `Machine/Hardware/Network` and `Machine/ExtraData`.

    Only the machine's own `Hardware` counts: each snapshot keeps its own copy under
    `Machine/Snapshot/.../Hardware`, written BEFORE the machine's (hashicorp/vagrant#13044), so
    the first adapter in document order can be a snapshot's. Raise ValueError for a file that
    is not a VirtualBox settings file.
    """
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(settings_xml)
    except ET.ParseError as exc:
        raise ValueError(f"not a VirtualBox settings file: {exc}") from None
    machine = _child(root, "Machine")
    if _local(root) != "VirtualBox" or machine is None:
        raise ValueError("not a VirtualBox settings file: no <VirtualBox><Machine>")
    found = re.match(r"(\d+)\.(\d+)", root.get("version", ""))
    file_format = (int(found.group(1)), int(found.group(2))) if found else (0, 0)
    hardware = _child(machine, "Hardware")
    network = _child(hardware, "Network") if hardware is not None else None
    network = network if network is not None else ()
    adapters = [_adapter(a, file_format) for a in network if _local(a) == "Adapter"]
    extradata = _child(machine, "ExtraData")
    return VMSettings(
        format=file_format,
        adapters={a.slot: a for a in adapters},
        extradata={
            item.get("name", ""): item.get("value", "")
            for item in (extradata if extradata is not None else ())
            if _local(item) == "ExtraDataItem"
        },
    )


#: VirtualBox 7.0.0 and 7.0.1 print no `Forwarding(n)` line for a NAT adapter that has more than
#: one rule (fixed in 7.0.2; Vagrant reads the rules from the settings file instead, PR #12950).
RULES_UNLISTED = ((7, 0, 0), (7, 0, 1))


def rules_unlisted(info: VMInfo, version: tuple[int, int, int] | None) -> bool:
    """Whether showvminfo's rules cannot be taken as they are: a version that leaves them out
    (`version`: None when not asked), or a NAT adapter with no rule listed (docker-machine's
    always have `ssh`). 7.0.0/7.0.1 leave out all of an adapter's rules or none, so the second
    test alone finds every adapter they cut: the version need not be asked for it."""
    unlisted = any(kind == "nat" and not info.forwarding.get(n) for n, kind in info.nics.items())
    return version in RULES_UNLISTED or unlisted


def with_settings_rules(info: VMInfo, settings: VMSettings) -> VMInfo:
    """`info` with every NAT adapter's rules as its settings file has them."""
    forwarding = dict(info.forwarding)
    for nic, kind in info.nics.items():
        adapter = settings.adapter(nic)
        if kind == "nat" and adapter is not None:
            forwarding[nic] = adapter.rules
    return replace(info, forwarding=dict(sorted(forwarding.items())))


#: The names Docker Desktop gives containers for the host, and where VirtualBox's NAT reaches
#: the host's loopback (the NAT gateway).
HOST_NAMES = "host.docker.internal|gateway.docker.internal"
NAT_HOST_IP = "10.0.2.2"
#: The mapping's id in `HostResolverMappings/<id>`: ours, so restore removes only what we set.
MAPPING_ID = "docker-vpn-helper"
#: `modifyvm --nat-localhostreachableN` exists from VirtualBox 7.0 on; older versions reject it
#: and always let the NAT gateway reach the host's loopback.
LOCALHOST_SWITCH_FROM = (7, 0, 0)


def mapping_keys(device: str, mapping: str = MAPPING_ID) -> tuple[str, str]:
    """The extradata keys of a NAT host-resolver mapping for the adapter's `device` (instance
    0: the first adapter of that type, docker-machine's NIC 1): (HostIP, HostNamePattern)."""
    base = f"VBoxInternal/Devices/{device}/0/LUN#0/Config/HostResolverMappings/{mapping}"
    return f"{base}/HostIP", f"{base}/HostNamePattern"


@dataclass(frozen=True)
class HostNames:
    """What the VM's settings say about reaching the host as `host.docker.internal`."""

    device: str
    mapped: bool  # our mapping names HOST_NAMES -> NAT_HOST_IP
    host_resolver: bool  # the mapping works only through the NAT's host resolver
    localhost_reachable: bool


def host_names(settings: VMSettings, nic: int) -> HostNames | None:
    """NIC `nic`'s state for host.docker.internal; None when it is not a NAT adapter."""
    adapter = settings.adapter(nic)
    if adapter is None or adapter.attachment != "nat":
        return None
    ip_key, pattern_key = mapping_keys(adapter.device)
    mapped = (
        settings.extradata.get(ip_key) == NAT_HOST_IP
        and settings.extradata.get(pattern_key) == HOST_NAMES
    )
    return HostNames(adapter.device, mapped, adapter.dns.host_resolver, adapter.localhost_reachable)
