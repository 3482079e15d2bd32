from __future__ import annotations

import pytest

from docker_vpn_helper.core import vbox
from docker_vpn_helper.core.vbox import (
    NatRule,
    VMInfo,
    current_forward,
    forwards_daemon,
    is_not_running,
    is_rule_exists,
    is_vm_not_found,
    parse_list_vms,
    parse_showvminfo,
    parse_version,
)

from .fixtures import load

# --- NatRule ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("docker,tcp,127.0.0.1,2376,,2376", NatRule("docker", "tcp", "127.0.0.1", 2376, "", 2376)),
        ("ssh,tcp,127.0.0.1,53770,,22", NatRule("ssh", "tcp", "127.0.0.1", 53770, "", 22)),
        ("tcp5432,tcp,,5432,,5432", NatRule("tcp5432", "tcp", "", 5432, "", 5432)),
        (
            "dns,udp,0.0.0.0,5353,10.0.2.15,53",
            NatRule("dns", "udp", "0.0.0.0", 5353, "10.0.2.15", 53),
        ),
        (
            '"docker,tcp,127.0.0.1,2376,,2376"',
            NatRule("docker", "tcp", "127.0.0.1", 2376, "", 2376),
        ),
        (
            "  docker,TCP,127.0.0.1,2376,,2376\r\n",
            NatRule("docker", "tcp", "127.0.0.1", 2376, "", 2376),
        ),
        ("my rule,tcp,,8080,,80", NatRule("my rule", "tcp", "", 8080, "", 80)),
    ],
)
def test_nat_rule_parse(text, expected):
    assert NatRule.parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "docker,tcp,127.0.0.1,2376,2376",  # 5 fields
        "docker,tcp,127.0.0.1,2376,,2376,x",  # 7 fields
        ",tcp,127.0.0.1,2376,,2376",  # no name
        "docker,unk,127.0.0.1,2376,,2376",  # VBoxManage prints unk for unknown protocols
        "docker,tcp,127.0.0.1,http,,2376",
        "docker,tcp,127.0.0.1,0,,2376",
        "docker,tcp,127.0.0.1,2376,,65536",
        "docker,tcp,127.0.0.1,-1,,2376",
    ],
)
def test_nat_rule_parse_rejects(text):
    with pytest.raises(ValueError):
        NatRule.parse(text)


@pytest.mark.parametrize(
    "text",
    ["docker,tcp,127.0.0.1,2376,,2376", "tcp5432,tcp,,5432,,5432", "dns,udp,,53,10.0.2.3,53"],
)
def test_nat_rule_spec_round_trips(text):
    assert NatRule.parse(text).spec() == text


# --- showvminfo ------------------------------------------------------------------------------


def test_running_vm_with_docker_and_ssh_rules():
    info = parse_showvminfo(load("showvminfo_running.txt"))
    assert info.name == "default"
    assert info.state == "running"
    assert info.running is True
    assert info.nics == {1: "nat", 2: "hostonly"}
    assert info.hostonly_adapters == {2: "vboxnet0"}
    assert info.nat_nic == 1
    assert [r.name for r in info.forwarding[1]] == ["docker", "ssh"]
    assert info.forwarding[1][1] == NatRule("ssh", "tcp", "127.0.0.1", 64045, "", 22)
    assert set(info.forwarding) == {1}
    assert info.rules() == info.forwarding[1]


def test_raw_keeps_quoted_keys_and_odd_values():
    info = parse_showvminfo(load("showvminfo_running.txt"))
    assert info.raw["SATA-0-0"].endswith("boot2docker.iso")
    assert info.raw["VideoMode"] == "640,480,32"
    assert info.raw["memory"] == "1024"
    assert info.raw["teleporteraddress"] == ""
    assert info.raw["ostype"] == "Linux 2.6 / 3.x / 4.x (64-bit)"


def test_stopped_windows_vm_with_crlf():
    text = load("showvminfo_poweroff_windows_crlf.txt")
    assert "\r\n" in text
    info = parse_showvminfo(text)
    assert info.state == "poweroff"
    assert info.running is False
    assert info.hostonly_adapters == {2: "VirtualBox Host-Only Ethernet Adapter #11"}
    assert info.forwarding == {1: (NatRule("ssh", "tcp", "127.0.0.1", 53770, "", 22),)}
    # escaped backslashes are unescaped, and no \r sticks to any value
    assert (
        info.raw["CfgFile"]
        == r"C:\Users\admin\.docker\machine\machines\default\default\default.vbox"
    )
    assert not any(v.endswith("\r") for v in info.raw.values())


def test_second_nat_nic_has_its_own_forwarding_zero():
    info = parse_showvminfo(load("showvminfo_two_nat.txt"))
    assert info.nics == {1: "nat", 2: "nat", 3: "hostonly"}
    assert info.nat_nic == 1
    assert info.forwarding[1] == (NatRule("ssh", "tcp", "127.0.0.1", 2222, "", 22),)
    assert [r.name for r in info.forwarding[2]] == ["docker", "dns"]
    assert info.rules(2)[1].guest_ip == "10.0.3.15"
    assert info.hostonly_adapters == {3: "vboxnet1"}
    assert info.state == "saved"
    assert info.running is False


def test_vagrant_dump_with_bridged_nic_and_keys_in_other_order():
    info = parse_showvminfo(load("showvminfo_vagrant_bridged.txt"))
    assert info.name == "drm-erp"
    assert info.running
    assert info.nics == {1: "nat", 2: "bridged"}
    assert info.hostonly_adapters == {}
    assert len(info.forwarding[1]) == 4
    assert info.forwarding[1][3] == NatRule("tcp8080", "tcp", "", 8080, "", 80)


def test_unquoted_values_are_accepted():
    text = "name=default\nVMState=running\nnic1=nat\nForwarding(0)=ssh,tcp,127.0.0.1,2222,,22\n"
    info = parse_showvminfo(text)
    assert info.state == "running"
    assert info.forwarding == {1: (NatRule("ssh", "tcp", "127.0.0.1", 2222, "", 22),)}


def test_escaped_quote_in_value_and_multiline_description():
    text = (
        'name="we\\"ird"\ndescription="line one\nname=not-a-key\nline three"\nVMState="aborted"\n'
    )
    info = parse_showvminfo(text)
    assert info.name == 'we"ird'
    assert info.raw["description"] == "line one\nname=not-a-key\nline three"
    assert info.state == "aborted"


@pytest.mark.parametrize(
    "state, running",
    [
        ("running", True),
        ("paused", True),
        ("gurumeditation", True),
        ("livesnapshotting", True),
        ("poweroff", False),
        ("saved", False),
        ("aborted", False),
        ("starting", False),
        ("stopping", False),
        ("aborted-saved", False),
    ],
)
def test_running_states(state, running):
    info = parse_showvminfo(f'name="x"\nVMState="{state}"\n')
    assert info.state == state
    assert info.running is running


def test_vm_without_nat_nic():
    info = parse_showvminfo(
        'name="x"\nVMState="poweroff"\nnic1="hostonly"\nhostonlyadapter1="vboxnet3"\n'
    )
    assert info.nat_nic is None
    assert info.rules() == ()
    assert info.hostonly_adapters == {1: "vboxnet3"}


def test_forwarding_under_non_nat_nic_is_dropped_and_bad_rules_skipped():
    text = (
        'name="x"\nVMState="running"\n'
        'natnet1="nat"\nnic1="nat"\nForwarding(0)="broken"\nForwarding(1)="ok,tcp,,1,,2"\n'
        'bridgeadapter2="en0"\nnic2="bridged"\nForwarding(0)="ghost,tcp,,3,,4"\n'
    )
    info = parse_showvminfo(text)
    assert info.forwarding == {1: (NatRule("ok", "tcp", "", 1, "", 2),)}


def test_forwarding_before_any_nic_goes_to_lowest_nat_nic():
    text = 'name="x"\nVMState="running"\nForwarding(0)="a,tcp,,1,,2"\nnic1="hostonly"\nnic2="nat"\n'
    info = parse_showvminfo(text)
    assert info.forwarding == {2: (NatRule("a", "tcp", "", 1, "", 2),)}


@pytest.mark.parametrize(
    "text",
    ["", "VBoxManage: error: Could not find a registered machine named 'nope'\n", "garbage\n"],
)
def test_showvminfo_rejects_non_dumps(text):
    with pytest.raises(ValueError):
        parse_showvminfo(text)


def test_vminfo_is_frozen():
    info = parse_showvminfo('name="x"\nVMState="running"\n')
    assert isinstance(info, VMInfo)
    with pytest.raises(AttributeError):
        info.state = "poweroff"  # type: ignore[misc]


# --- list vms ------------------------------------------------------------------------------


def test_parse_list_vms():
    text = (
        '"default" {38faa80d-b4fe-42cb-8076-d641008d3b7d}\r\n'
        '"dev box" {0B4F2F4E-6C1A-4A57-9A55-8D1B7E0C2A11}\r\n'
        '"<inaccessible>" {11111111-2222-3333-4444-555555555555}\r\n'
        "WARNING: something\r\n"
    )
    assert parse_list_vms(text) == {
        "default": "38faa80d-b4fe-42cb-8076-d641008d3b7d",
        "dev box": "0b4f2f4e-6c1a-4a57-9a55-8d1b7e0c2a11",
    }


def test_parse_list_vms_empty():
    assert parse_list_vms("") == {}


# --- version -------------------------------------------------------------------------------

VBOXDRV_WARNING = (
    "WARNING: The vboxdrv kernel module is not loaded. Either there is no module\n"
    "         available for the current kernel (5.13.19-200.fc34.x86_64) or it failed to\n"
    "         load. Please try load the kernel module by executing as root\n"
    "\n"
    "           dnf install akmod-VirtualBox kernel-devel-5.13.19-200.fc34.x86_64\n"
    "\n"
    "         You will not be able to start VMs until this problem is fixed.\n"
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("7.0.14r161095\n", (7, 0, 14)),
        ("5.2.44r139111", (5, 2, 44)),
        ("6.1.50_Debianr161033\n", (6, 1, 50)),
        ("6.1.10_Ubuntur138449\r\n", (6, 1, 10)),
        ("4.1.2_Ubuntur38459\n", (4, 1, 2)),
        (VBOXDRV_WARNING + "6.0.12r133076\n", (6, 0, 12)),
        ("7.1.0_BETA1r164697\n", (7, 1, 0)),
        ("7.0.14\n", (7, 0, 14)),
    ],
)
def test_parse_version(text, expected):
    assert parse_version(text) == expected


@pytest.mark.parametrize("text", ["", VBOXDRV_WARNING, "VBoxManage: command not found\n", "7.0\n"])
def test_parse_version_rejects(text):
    with pytest.raises(ValueError):
        parse_version(text)


# --- rules on a host port --------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule, proto, holds",
    [
        (NatRule("docker", "tcp", "127.0.0.1", 2376, "", 2376), "tcp", True),
        (NatRule("any", "tcp", "", 2376, "", 2376), "tcp", True),  # every host address
        (NatRule("wild", "tcp", "0.0.0.0", 2376, "", 2376), "tcp", True),
        (NatRule("lo2", "tcp", "127.0.0.2", 2376, "", 2376), "tcp", False),
        (NatRule("other", "tcp", "192.168.1.5", 2376, "", 2376), "tcp", False),
        (NatRule("dns", "udp", "", 2376, "", 53), "tcp", False),
        (NatRule("dns", "udp", "", 2376, "", 53), "udp", True),
    ],
)
def test_a_rule_holds_the_loopback_port_on_any_host_address_that_includes_127_0_0_1(
    rule, proto, holds
):
    assert rule.holds_loopback_port(proto) is holds


# --- the daemon's forward ----------------------------------------------------------------------

WANTED = NatRule("docker", "tcp", "127.0.0.1", 2376, "", 2376)
SSH = NatRule("ssh", "tcp", "127.0.0.1", 53770, "", 22)


@pytest.mark.parametrize(
    "rule, forwards",
    [
        (WANTED, True),
        (NatRule("mine", "tcp", "127.0.0.1", 2380, "", 2376), True),  # any name, any host port
        (NatRule("docker", "tcp", "", 2376, "", 2376), False),  # every address: not loopback-only
        (NatRule("docker", "tcp", "0.0.0.0", 2376, "", 2376), False),
        (NatRule("docker", "udp", "127.0.0.1", 2376, "", 2376), False),
        (NatRule("docker", "tcp", "127.0.0.1", 2376, "", 2375), False),  # the plain-text port
        (SSH, False),
    ],
)
def test_a_rule_forwards_the_daemon_from_loopback_tcp_to_its_guest_port(rule, forwards):
    assert forwards_daemon(rule, WANTED) is forwards


@pytest.mark.parametrize("source", ["config", "flag", "remembered"])
def test_the_forward_on_the_wanted_port_is_current_under_any_name(source):
    mine = NatRule("by-hand", "tcp", "127.0.0.1", 2376, "", 2376)
    assert current_forward((SSH, mine), WANTED, source) == mine


def test_a_forward_of_the_same_name_on_another_port_is_kept_for_a_default_port():
    # Forwarded before its port was remembered: the machine keeps that port.
    earlier = NatRule("docker", "tcp", "127.0.0.1", 2377, "", 2376)
    assert current_forward((SSH, earlier), WANTED, "config") == earlier


@pytest.mark.parametrize("source", ["flag", "remembered"])
def test_a_port_asked_for_or_remembered_is_not_moved(source):
    earlier = NatRule("docker", "tcp", "127.0.0.1", 2377, "", 2376)
    assert current_forward((SSH, earlier), WANTED, source) is None


def test_no_current_forward():
    other_name = NatRule("mine", "tcp", "127.0.0.1", 2377, "", 2376)  # not ours to adopt
    assert current_forward((), WANTED, "config") is None
    assert current_forward((SSH, other_name), WANTED, "config") is None


def test_the_rules_of_a_dump_say_whether_the_daemon_is_forwarded():
    info = parse_showvminfo(load("showvminfo_running.txt"))
    assert current_forward(info.rules(), WANTED, "config") == info.rules()[0]


# --- stderr markers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stderr, not_found, not_running, exists",
    [
        (
            "VBoxManage: error: Could not find a registered machine named 'nope'\n"
            "VBoxManage: error: Details: code VBOX_E_OBJECT_NOT_FOUND (0x80bb0001)",
            True,
            False,
            False,
        ),
        ("VBoxManage: error: Machine 'default' is not currently running\n", False, True, False),
        ("VBoxManage: error: A NAT rule of this name already exists\n", False, False, True),
        ("", False, False, False),
        ("VBoxManage: error: The machine 'default' is already locked\n", False, False, False),
    ],
)
def test_stderr_markers(stderr, not_found, not_running, exists):
    assert is_vm_not_found(stderr) is not_found
    assert is_not_running(stderr) is not_running
    assert is_rule_exists(stderr) is exists


NETWORK = """<?xml version="1.0"?>
<VirtualBox xmlns="http://www.virtualbox.org/" version="1.19-macosx">
  <Machine uuid="{{0b2c}}" name="default" OSType="Linux26_64">
    <Hardware>
      <Network>
        <Adapter slot="0" enabled="true" type="82540EM">
          <NAT{nat}
        </Adapter>
        <Adapter slot="1" enabled="true" type="82540EM">
          <HostOnlyInterface name="vboxnet0"/>
        </Adapter>
      </Network>
    </Hardware>
  </Machine>
</VirtualBox>
"""


@pytest.mark.parametrize(
    "nat, proxy, host_resolver",
    [
        ("/>", False, False),  # VirtualBox writes nothing where the defaults hold
        ('>\n<DNS use-proxy="true"/>\n</NAT>', True, False),  # docker-machine's VMs
        ('>\n<DNS use-proxy="true" use-host-resolver="true"/>\n</NAT>', True, True),
        ('>\n<DNS pass-domain="false" use-host-resolver="true"/>\n</NAT>', False, True),
    ],
)
def test_nat_dns_settings_come_from_the_settings_file(nat, proxy, host_resolver):
    assert vbox.parse_settings(NETWORK.format(nat=nat)).adapter(1).dns == vbox.NatDns(
        proxy, host_resolver
    )


def test_an_unreadable_settings_file_is_a_value_error():
    with pytest.raises(ValueError):
        vbox.parse_settings("<VirtualBox")
    assert vbox.parse_settings(NETWORK.format(nat="/>")).adapter(4) is None


# --- the settings file (.vbox): the machine's own hardware, not a snapshot's -----------------


def adapter_xml(slot: int, nat: str, kind: str = "82540EM") -> str:
    return (
        f'<Adapter slot="{slot}" enabled="true" MACAddress="0800271" type="{kind}">{nat}</Adapter>'
    )


def hardware_xml(nat: str, kind: str = "82540EM") -> str:
    hostonly = '<HostOnlyInterface name="vboxnet0"/>'
    return (
        '<Hardware><CPU count="1"/><Memory RAMSize="1024"/><Network>'
        f"{adapter_xml(0, nat, kind)}{adapter_xml(1, hostonly)}"
        "</Network></Hardware>"
    )


def settings_xml(live: str, snapshots: tuple[str, ...], version: str = "1.16-macosx") -> str:
    """A VM file shaped as VirtualBox writes one with snapshots: each snapshot's Hardware first
    (a child snapshot nested under its parent's <Snapshots>), then the machine's own."""
    nested = ""
    for i, nat in reversed(list(enumerate(snapshots))):
        children = f"<Snapshots>{nested}</Snapshots>" if nested else ""
        nested = (
            f'<Snapshot uuid="{{{i}}}" name="Snapshot {i + 1}" timeStamp="2024-01-0{i + 1}T10:00:00Z">'
            f"{hardware_xml(nat)}<StorageControllers/>{children}</Snapshot>"
        )
    return (
        '<?xml version="1.0"?>\n'
        f'<VirtualBox xmlns="http://www.virtualbox.org/" version="{version}">'
        '<Machine uuid="{7}" name="default" OSType="Linux26_64" currentSnapshot="{1}">'
        '<MediaRegistry/><ExtraData><ExtraDataItem name="GUI/LastCloseAction" value="PowerOff"/>'
        f"</ExtraData>{nested}{hardware_xml(live)}<StorageControllers/></Machine></VirtualBox>"
    )


SSH_XML = '<Forwarding name="ssh" proto="1" hostip="127.0.0.1" hostport="50123" guestport="22"/>'
DOCKER_XML = (
    '<Forwarding name="docker" proto="1" hostip="127.0.0.1" hostport="2376" guestport="2376"/>'
)
DNS_PROXY = '<DNS use-proxy="true"/>'
DNS_BOTH = '<DNS use-proxy="true" use-host-resolver="true"/>'


def test_a_snapshot_taken_before_the_change_does_not_hide_the_live_dns_setting():
    """Snapshots taken with the host resolver off, then switched on: the live setting is on."""
    text = settings_xml(
        f"<NAT>{DNS_BOTH}{SSH_XML}{DOCKER_XML}</NAT>",
        (f"<NAT>{DNS_PROXY}{SSH_XML}</NAT>", f"<NAT>{DNS_PROXY}{SSH_XML}</NAT>"),
    )
    assert text.index("use-host-resolver") > text.index("<Snapshot ")  # real files' order
    assert vbox.parse_settings(text).adapter(1).dns == vbox.NatDns(proxy=True, host_resolver=True)
    nic1 = vbox.parse_settings(text).adapter(1)
    assert [r.name for r in nic1.rules] == ["ssh", "docker"]


def test_a_snapshot_with_the_resolver_on_does_not_stand_for_a_vm_switched_off_since():
    text = settings_xml(f"<NAT>{SSH_XML}</NAT>", (f"<NAT>{DNS_BOTH}{SSH_XML}{DOCKER_XML}</NAT>",))
    assert vbox.parse_settings(text).adapter(1).dns == vbox.NatDns(proxy=False, host_resolver=False)
    assert vbox.parse_settings(text).adapter(1).rules == (
        NatRule("ssh", "tcp", "127.0.0.1", 50123, "", 22),
    )


def test_settings_rules_proto_addresses_and_ports():
    nat = (
        '<NAT><Forwarding name="web" proto="1" hostport="8080" guestport="80"/>'
        '<Forwarding name="dns" proto="0" hostip="127.0.0.1" hostport="5353" guestip="10.0.2.15"'
        ' guestport="53"/><Forwarding name="odd" proto="7" hostport="1" guestport="1"/>'
        '<Forwarding name="noport" proto="1" guestport="1"/></NAT>'
    )
    rules = vbox.parse_settings(settings_xml(nat, ())).adapter(1).rules
    assert rules == (
        NatRule("web", "tcp", "", 8080, "", 80),
        NatRule("dns", "udp", "127.0.0.1", 5353, "10.0.2.15", 53),
    )


@pytest.mark.parametrize(
    "version, nat, reachable",
    [
        ("1.16-macosx", "<NAT/>", True),  # before 7.0 the NAT always reached the host's loopback
        ("1.19-macosx", "<NAT/>", False),  # a VM made by 7.0+: off unless switched on
        ("1.19-macosx", '<NAT localhost-reachable="true"/>', True),
        ("1.18-macosx", '<NAT localhost-reachable="false"/>', False),
    ],
)
def test_localhost_reachable_by_settings_format(version, nat, reachable):
    adapter = vbox.parse_settings(settings_xml(nat, (), version)).adapter(1)
    assert adapter.localhost_reachable is reachable


@pytest.mark.parametrize(
    "kind, device",
    [("82540EM", "e1000"), ("82545EM", "e1000"), ("Am79C973", "pcnet"), ("virtio", "virtio-net")],
)
def test_adapter_device_for_extradata(kind, device):
    adapter = vbox.parse_settings(settings_xml("<NAT/>", ())).adapter(1)
    assert vbox.AdapterSettings(0, kind, "nat", adapter.dns, True, ()).device == device


def test_settings_attachments_and_extradata():
    settings = vbox.parse_settings(settings_xml("<NAT/>", ("<NAT/>",)))
    assert settings.format == (1, 16)
    assert {n: a.attachment for n, a in settings.adapters.items()} == {0: "nat", 1: "hostonly"}
    assert settings.extradata == {"GUI/LastCloseAction": "PowerOff"}
    assert settings.adapter(3) is None


@pytest.mark.parametrize(
    "text",
    [
        "<VirtualBox",
        '<Other version="1.16"/>',
        '<VirtualBox xmlns="http://www.virtualbox.org/" version="1.16"/>',
    ],
)
def test_not_a_settings_file(text):
    with pytest.raises(ValueError, match="not a VirtualBox settings file"):
        vbox.parse_settings(text)


# --- VirtualBox 7.0.0/7.0.1 leave rules out of showvminfo -----------------------------------

TWO_NICS = (
    'name="default"\nVMState="running"\nnatnet1="nat"\nnic1="nat"\nnictype1="82540EM"\n'
    '{rules}hostonlyadapter2="vboxnet0"\nnic2="hostonly"\n'
)
LISTED = (
    'Forwarding(0)="docker,tcp,127.0.0.1,2376,,2376"\nForwarding(1)="ssh,tcp,127.0.0.1,50123,,22"\n'
)


@pytest.mark.parametrize(
    "rules, version, unlisted",
    [
        (LISTED, (7, 0, 2), False),
        (LISTED, (6, 1, 50), False),
        (LISTED, None, False),
        (LISTED, (7, 0, 0), True),  # even a listing it printed is not trusted
        (LISTED, (7, 0, 1), True),
        ("", (7, 0, 2), True),  # a NAT adapter without any rule: docker-machine's have `ssh`
        ("", None, True),
    ],
)
def test_when_showvminfo_rules_cannot_be_trusted(rules, version, unlisted):
    info = parse_showvminfo(TWO_NICS.format(rules=rules))
    assert vbox.rules_unlisted(info, version) is unlisted


def test_the_settings_file_gives_the_rules_showvminfo_left_out():
    info = parse_showvminfo(TWO_NICS.format(rules=""))
    settings = vbox.parse_settings(settings_xml(f"<NAT>{DNS_PROXY}{SSH_XML}{DOCKER_XML}</NAT>", ()))
    fixed = vbox.with_settings_rules(info, settings)
    assert [r.spec() for r in fixed.rules()] == [
        "ssh,tcp,127.0.0.1,50123,,22",
        "docker,tcp,127.0.0.1,2376,,2376",
    ]
    assert fixed.rules(2) == () and fixed.state == "running"


# --- host.docker.internal -------------------------------------------------------------------


def test_mapping_keys_per_device():
    assert vbox.mapping_keys("e1000") == (
        "VBoxInternal/Devices/e1000/0/LUN#0/Config/HostResolverMappings/docker-vpn-helper/HostIP",
        "VBoxInternal/Devices/e1000/0/LUN#0/Config/HostResolverMappings/docker-vpn-helper/"
        "HostNamePattern",
    )


def test_host_names_read_from_the_live_settings():
    ip_key, pattern_key = vbox.mapping_keys("e1000")
    text = settings_xml(
        f'<NAT localhost-reachable="true">{DNS_BOTH}{SSH_XML}</NAT>', (), "1.19-linux"
    )
    text = text.replace(
        "</ExtraData>",
        f'<ExtraDataItem name="{ip_key}" value="10.0.2.2"/><ExtraDataItem name="{pattern_key}"'
        ' value="host.docker.internal|gateway.docker.internal"/></ExtraData>',
    )
    assert vbox.host_names(vbox.parse_settings(text), 1) == vbox.HostNames(
        "e1000", True, True, True
    )
    assert vbox.host_names(vbox.parse_settings(text), 2) is None  # host-only
    bare = vbox.parse_settings(settings_xml(f"<NAT>{SSH_XML}</NAT>", (), "1.19-linux"))
    assert vbox.host_names(bare, 1) == vbox.HostNames("e1000", False, False, False)
