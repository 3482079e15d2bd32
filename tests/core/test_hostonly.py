import pytest

from docker_vpn_helper.core.hostonly import (
    HostOnlyNetwork,
    Link,
    adapter_broken,
    hostonly_refusal,
    parse_link,
    parse_networks_conf,
    route_add_argv,
    route_delete_argv,
)

NET = HostOnlyNetwork.from_cidr("192.168.99.1/24")


def test_cidr_gives_network_and_host_address():
    assert (str(NET.network), str(NET.host_ip)) == ("192.168.99.0/24", "192.168.99.1")


@pytest.mark.parametrize("cidr", ["192.168.99.0/24", "192.168.99.1/32", "fe80::1/64", "nonsense"])
def test_cidr_that_is_not_a_host_on_a_network_is_refused(cidr):
    with pytest.raises(ValueError):
        HostOnlyNetwork.from_cidr(cidr)


@pytest.mark.parametrize(
    ("vm_ip", "probe"),
    [("192.168.99.101", "192.168.99.101"), (None, "192.168.99.2"), ("10.0.0.5", "192.168.99.2"),
     ("192.168.99.1", "192.168.99.2"), ("garbage", "192.168.99.2")],
)  # fmt: skip
def test_probe_address_is_the_vm_when_it_is_on_the_network(vm_ip, probe):
    assert NET.probe_address(vm_ip) == probe


@pytest.mark.parametrize(
    ("text", "link"),
    [
        ("5: utun0: <NO-CARRIER,POINTOPOINT,MULTICAST,NOARP,UP> mtu 1500 state DOWN\\    link/none",
         Link("utun0", True, up=True, carrier=False)),
        ("5: utun0: <POINTOPOINT,MULTICAST,NOARP,UP,LOWER_UP> mtu 1500 state UNKNOWN",
         Link("utun0", True, up=True, carrier=True)),
        ('Device "utun0" does not exist.\n', Link("utun0", False)),
        ("utun0: flags=8051<UP,POINTOPOINT,RUNNING,MULTICAST> mtu 1380\n\tinet 10.1.2.3 --> 10.1.2.3",
         Link("utun0", True, up=True, carrier=True)),
        ("utun0: flags=8010<POINTOPOINT,MULTICAST> mtu 1380\n", Link("utun0", True)),
        ("ifconfig: interface utun0 does not exist\n", Link("utun0", False)),
    ],
)  # fmt: skip
def test_parse_link_linux_and_macos(text, link):
    assert parse_link(text, "utun0") == link
    assert parse_link(text, "utun0").alive == (link.up and link.carrier)


def test_parse_link_wants_the_named_interface():
    with pytest.raises(ValueError):
        parse_link("2: vboxnet0: <BROADCAST,UP,LOWER_UP> mtu 1500", "utun0")


def test_route_commands_per_platform():
    assert route_add_argv("linux", NET, "vboxnet1") == [
        "ip",
        "route",
        "replace",
        "192.168.99.0/24",
        "dev",
        "vboxnet1",
        "proto",
        "kernel",
        "scope",
        "link",
        "src",
        "192.168.99.1",
    ]
    assert route_add_argv("macos", NET, "vboxnet1") == (
        ["route", "-n", "add", "-net", "192.168.99.0/24", "-interface", "vboxnet1"]
    )
    assert route_delete_argv(NET) == ["route", "-n", "delete", "-net", "192.168.99.0/24"]


@pytest.mark.parametrize(
    ("text", "broken"),
    [("route: writing to routing socket: Network is unreachable", True),
     ('Cannot find device "vboxnet0"', True), ("SIOCADDRT: No such device", True),
     ("Error: Nexthop device is not up.", True), ("Error: Invalid prefsrc address.", False),
     ("route: writing to routing socket: File exists", False)],
)  # fmt: skip
def test_adapter_broken_markers(text, broken):
    assert adapter_broken(text) is broken


# --- VirtualBox 6.1.28+: host-only ranges and /etc/vbox/networks.conf ------------------------

VBOX_7 = (7, 0, 14)


@pytest.mark.parametrize(
    "conf, allowed, malformed",
    [
        (None, ["192.168.56.0/21"], []),  # no file: the default range only
        ("", [], []),  # an empty file allows nothing
        ("* 192.168.99.0/24\n", ["192.168.99.0/24"], []),
        (
            "# comment\n* 10.0.0.0/8 192.168.0.0/16\n* 2001::/64\n",
            ["10.0.0.0/8", "192.168.0.0/16"],
            [],
        ),
        ("192.168.99.0/8\n", [], ["192.168.99.0/8"]),  # what users write: no leading `*`
        ("*192.168.99.0/24\n", [], ["*192.168.99.0/24"]),
        ("* 192.168.99.300/24\n", [], ["* 192.168.99.300/24"]),
        ("* 192.168.99.1/24\n", ["192.168.99.0/24"], []),  # host bits allowed
    ],
)
def test_parse_networks_conf(conf, allowed, malformed):
    ranges = parse_networks_conf(conf)
    assert [str(n) for n in ranges.networks] == allowed
    assert list(ranges.malformed) == malformed
    assert ranges.from_file is (conf is not None)


@pytest.mark.parametrize(
    "cidr, version, conf, refused",
    [
        ("192.168.99.1/24", (6, 1, 26), None, False),  # before the limit
        ("192.168.99.1/24", (6, 1, 28), None, True),
        ("192.168.99.1/24", VBOX_7, None, True),
        ("192.168.56.1/24", VBOX_7, None, False),  # docker-machine's --virtualbox-hostonly-cidr way
        ("192.168.99.1/24", VBOX_7, "* 192.168.99.0/24\n", False),
        ("192.168.99.1/24", VBOX_7, "* 192.168.0.0/16\n", False),
        ("192.168.99.1/24", VBOX_7, "* 0.0.0.0/0 ::/0\n", False),
        ("192.168.99.1/24", VBOX_7, "* 192.168.99.0/25\n", True),  # narrower than the network
        ("192.168.56.1/24", VBOX_7, "* 192.168.99.0/24\n", True),  # the file replaces the default
        ("192.168.99.1/24", VBOX_7, "192.168.99.0/8\n", True),
    ],
)
def test_hostonly_refusal(cidr, version, conf, refused):
    assert (hostonly_refusal(cidr, version, conf) is not None) is refused


def test_the_refusal_names_the_file_the_line_and_the_other_way():
    line = hostonly_refusal("192.168.99.1/24", (7, 1, 4), None, path="/tmp/x/networks.conf")
    assert "\n" not in line
    assert "VirtualBox 7.1.4 refuses host-only network 192.168.99.0/24" in line
    assert "/tmp/x/networks.conf does not exist" in line
    assert (
        "sudo mkdir -p /tmp/x && echo '* 192.168.99.0/24' | sudo tee -a /tmp/x/networks.conf"
        in line
    )
    assert "--virtualbox-hostonly-cidr 192.168.56.1/24" in line


def test_a_line_without_the_star_is_named_malformed():
    line = hostonly_refusal("192.168.99.1/24", VBOX_7, "192.168.99.0/8\n")
    assert "line '192.168.99.0/8' is malformed" in line
    assert "'* <range>'" in line
