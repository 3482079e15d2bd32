from __future__ import annotations

import pytest

from docker_vpn_helper.core.routes import (
    Route,
    anyconnect_connected,
    is_tunnel_interface,
    judge_route,
    parse_ip_route_get,
    parse_netstat_routes,
    parse_route_get,
    select_route,
)

from .fixtures import load

VM = "192.168.99.100"

# --- macOS netstat ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fixture, address, interface, destination, hijacked",
    [
        ("netstat_old_healthy.txt", VM, "vboxnet0", "192.168.99.0/24", False),
        ("netstat_new_healthy.txt", VM, "vboxnet0", "192.168.99.0/24", False),
        ("netstat_old_anyconnect.txt", VM, "utun0", "192.168.99.0/24", True),
        ("netstat_new_anyconnect.txt", VM, "utun3", "192.168.99.0/24", True),
        ("netstat_truncated_netif.txt", "192.168.59.103", "vboxnet", "192.168.59.0/24", False),
        ("netstat_default_via_utun.txt", VM, "utun3", "default", True),
        ("netstat_old_anyconnect.txt", "8.8.8.8", "utun0", "0.0.0.0/1", True),
        ("netstat_old_anyconnect.txt", "200.1.1.1", "utun0", "128.0.0.0/1", True),
        ("netstat_old_healthy.txt", "127.0.0.1", "lo0", "127.0.0.1/32", False),
    ],
)
def test_netstat_end_to_end(fixture, address, interface, destination, hijacked):
    routes = parse_netstat_routes(load(fixture))
    route = select_route(routes, address)
    assert route is not None
    assert route.interface == interface
    assert route.destination == destination
    expected = "vboxnet0" if fixture != "netstat_truncated_netif.txt" else "vboxnet2"
    verdict = judge_route(route, address, expected)
    assert verdict.hijacked is hijacked
    assert verdict.interface == interface


def test_netstat_old_columns_parsed_by_header():
    routes = parse_netstat_routes(load("netstat_old_healthy.txt"))
    by_dest = {r.destination: r for r in routes if not r.scoped}
    assert by_dest["default"] == Route("default", "en0", "192.168.1.1", "unicast", "UGSc")
    assert by_dest["192.168.99.0/24"].gateway is None  # link#11
    assert by_dest["192.168.99.0/24"].interface == "vboxnet0"
    assert by_dest["127.0.0.0/8"].interface == "lo0"
    assert by_dest["169.254.0.0/16"].interface == "en0"
    assert by_dest["224.0.0.0/4"].interface == "en0"
    host = [r for r in routes if r.destination == "192.168.99.100/32"]
    assert host and host[0].gateway == "8:0:27:ba:8f:ba" and host[0].interface == "vboxnet0"


def test_netstat_new_columns_and_bang_expire():
    routes = parse_netstat_routes(load("netstat_new_healthy.txt"))
    assert all(r.interface != "!" for r in routes)
    dests = [r.destination for r in routes]
    assert "192.168.68.1/32" in dests
    assert "255.255.255.255/32" in dests
    assert len(routes) == 11


def test_netstat_skips_inet6_section():
    routes = parse_netstat_routes(load("netstat_new_anyconnect.txt"))
    assert all(":" not in r.destination for r in routes)
    assert all(r.interface != "utun0" for r in routes)


def test_netstat_scoped_routes_are_ignored_by_select():
    routes = parse_netstat_routes(load("netstat_new_anyconnect.txt"))
    scoped = [r for r in routes if r.scoped]
    assert {r.interface for r in scoped} == {"en0", "vboxnet0"}
    # the scoped host entry for the VM (flags UHLWIi) must not mask the hijack
    assert select_route(routes, VM).interface == "utun3"
    assert select_route(routes, "8.8.8.8").interface == "utun3"


def test_netstat_reordered_columns_and_crlf():
    text = (
        "Routing tables\r\n\r\nInternet:\r\n"
        "Netif   Flags  Destination   Gateway\r\n"
        "vboxnet1 UC    192.168.99    link#12\r\n"
        "utun2   UGSc   default       10.0.0.1\r\n"
    )
    routes = parse_netstat_routes(text)
    assert routes == [
        Route("192.168.99.0/24", "vboxnet1", None, "unicast", "UC"),
        Route("default", "utun2", "10.0.0.1", "unicast", "UGSc"),
    ]


def test_netstat_without_flags_column():
    text = "Destination Gateway Netif\n192.168.99 link#5 vboxnet0\n"
    assert parse_netstat_routes(text) == [Route("192.168.99.0/24", "vboxnet0", None, "unicast", "")]


def test_netstat_reject_and_blackhole_rows():
    text = (
        "Destination Gateway Flags Netif\n192.168.99 127.0.0.1 UGSB lo0\n10.1 127.0.0.1 UGSR lo0\n"
    )
    routes = parse_netstat_routes(text)
    assert [r.kind for r in routes] == ["blackhole", "unreachable"]
    verdict = judge_route(select_route(routes, VM), VM, "vboxnet0")
    assert verdict.hijacked and "blackhole" in verdict.detail


def test_netstat_without_header_raises():
    with pytest.raises(ValueError):
        parse_netstat_routes("netstat: illegal option -- x\n")


@pytest.mark.parametrize(
    "shorthand, flags, expected",
    [
        ("192.168.99", "UC", "192.168.99.0/24"),
        ("192.168.99/24", "UCS", "192.168.99.0/24"),
        ("192.168.99.100", "UHLWI", "192.168.99.100/32"),
        ("192.168.99.100/32", "UCS", "192.168.99.100/32"),
        ("127", "UCS", "127.0.0.0/8"),
        ("169.254", "UCS", "169.254.0.0/16"),
        ("10.9/24", "UGSc", "10.9.0.0/24"),
        ("10.244/14", "UGSc", "10.244.0.0/14"),
        ("0/1", "UGSc", "0.0.0.0/1"),
        ("128.0/1", "UGSc", "128.0.0.0/1"),
        ("224.0.0/4", "UmCS", "224.0.0.0/4"),
        ("default", "UGSc", "default"),
        ("0/0", "UGSc", "default"),
    ],
)
def test_netstat_destination_shorthand(shorthand, flags, expected):
    text = f"Destination Gateway Flags Netif\n{shorthand} 10.0.0.1 {flags} en0\n"
    assert parse_netstat_routes(text)[0].destination == expected


@pytest.mark.parametrize("bad", ["fe80::1%lo0", "localhost", "300.1", "1.2.3.4.5", "10/33"])
def test_netstat_skips_non_ipv4_destinations(bad):
    text = f"Destination Gateway Flags Netif\n{bad} 10.0.0.1 UGSc en0\n"
    assert parse_netstat_routes(text) == []


# --- select_route ----------------------------------------------------------------------------


def test_select_route_longest_prefix_and_first_on_tie():
    routes = [
        Route("default", "en0", "192.168.1.1"),
        Route("192.168.0.0/16", "utun0", None),
        Route("192.168.99.0/24", "vboxnet0", None),
        Route("192.168.99.0/24", "utun1", None),
    ]
    assert select_route(routes, VM).interface == "vboxnet0"
    assert select_route(routes, "192.168.5.5").interface == "utun0"
    assert select_route(routes, "8.8.8.8").interface == "en0"


def test_select_route_none_without_match():
    assert select_route([Route("10.0.0.0/8", "en0", None)], VM) is None
    assert select_route([], VM) is None


# --- macOS route get -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fixture, destination, interface, gateway",
    [
        ("route_get_default_real.txt", "default", "en0", "10.62.96.1"),
        ("route_get_half_default_utun_real.txt", "0.0.0.0/1", "utun3", "192.168.12.1"),
        ("route_get_vboxnet0.txt", "192.168.99.0/24", "vboxnet0", None),
        ("route_get_anyconnect_utun0.txt", "192.168.99.0/24", "utun0", "10.33.0.1"),
        ("route_get_host_route.txt", "192.168.99.100/32", "vboxnet0", None),
    ],
)
def test_parse_route_get(fixture, destination, interface, gateway):
    route = parse_route_get(load(fixture))
    assert (route.destination, route.interface, route.gateway) == (destination, interface, gateway)
    assert route.kind == "unicast"


@pytest.mark.parametrize(
    "fixture, hijacked, words",
    [
        ("route_get_vboxnet0.txt", False, "vboxnet0"),
        ("route_get_anyconnect_utun0.txt", True, "utun0 (a VPN tunnel), not vboxnet0"),
        ("route_get_half_default_utun_real.txt", True, "utun3"),
        ("route_get_default_real.txt", True, "via en0, not vboxnet0"),
    ],
)
def test_route_get_verdicts(fixture, hijacked, words):
    verdict = judge_route(parse_route_get(load(fixture)), VM, "vboxnet0")
    assert verdict.hijacked is hijacked
    assert words in verdict.detail
    assert "\n" not in verdict.detail


def test_route_get_crlf_and_reject_flag():
    text = (
        "   route to: 192.168.99.100\r\ndestination: 192.168.99.0\r\n       mask: 255.255.255.0\r\n"
        "  interface: lo0\r\n      flags: <UP,DONE,STATIC,REJECT>\r\n"
    )
    route = parse_route_get(text)
    assert route.interface == "lo0" and route.kind == "unreachable"
    assert judge_route(route, VM).hijacked is True


def test_route_get_not_in_table():
    route = parse_route_get("route: writing to routing socket: not in table\n")
    assert route.kind == "unreachable" and route.interface == ""
    verdict = judge_route(route, VM, "vboxnet0")
    assert verdict.hijacked and "no usable route" in verdict.detail


@pytest.mark.parametrize("text", ["", "route: bad address: nowhere\n", "usage: route ...\n"])
def test_route_get_garbage_raises(text):
    with pytest.raises(ValueError):
        parse_route_get(text)


# --- Linux ip route get ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "fixture, destination, interface, gateway, kind",
    [
        ("ip_route_get_dev.txt", VM, "vboxnet0", None, "unicast"),
        ("ip_route_get_via.txt", "10.200.3.4", "cscotun0", "10.33.0.1", "unicast"),
        ("ip_route_get_hijacked.txt", VM, "cscotun0", None, "unicast"),
        ("ip_route_get_local.txt", "192.168.99.1", "lo", None, "local"),
        ("ip_route_get_oneline.txt", VM, "cscotun0", None, "unicast"),
    ],
)
def test_parse_ip_route_get_captured(fixture, destination, interface, gateway, kind):
    route = parse_ip_route_get(load(fixture))
    assert route == Route(destination, interface, gateway, kind)


@pytest.mark.parametrize(
    "text, kind",
    [
        ("RTNETLINK answers: No route to host\n", "unreachable"),
        ("RTNETLINK answers: Network is unreachable\n", "unreachable"),
        ("RTNETLINK answers: Invalid argument\n", "blackhole"),
        ("RTNETLINK answers: Permission denied\n", "prohibit"),
        (
            "unreachable 192.168.99.100 dev lo table main src 127.0.0.1 uid 0\n    cache\n",
            "unreachable",
        ),
        ("blackhole 192.168.99.100 uid 1000\n", "blackhole"),
        ("prohibit 192.168.99.100 dev lo uid 1000 \n    cache <!> \n", "prohibit"),
    ],
)
def test_parse_ip_route_get_broken(text, kind):
    route = parse_ip_route_get(text)
    assert route.kind == kind
    verdict = judge_route(route, VM, "vboxnet0")
    assert verdict.hijacked is True
    assert kind in verdict.detail


@pytest.mark.parametrize(
    "text, interface, gateway",
    [
        ("192.168.99.100 dev vboxnet0 src 192.168.99.1 uid 1000 \n    cache \n", "vboxnet0", None),
        ("192.168.99.100 from 192.168.99.1 dev vboxnet0 uid 0 \n    cache \n", "vboxnet0", None),
        ("192.168.99.100 dev vboxnet0 src 192.168.99.1 mark 5 uid 0\n", "vboxnet0", None),
        (
            "192.168.99.100 via inet 10.1.1.1 dev tun0 table 100 src 10.1.1.7 uid 0\n",
            "tun0",
            "10.1.1.1",
        ),
        (
            "192.168.99.100 via 10.33.0.1 dev cscotun0 src 10.33.1.5 uid 1000\r\n    cache\r\n",
            "cscotun0",
            "10.33.0.1",
        ),
        ("\n192.168.99.100 dev hostonly0 src 192.168.99.1\n", "hostonly0", None),
    ],
)
def test_parse_ip_route_get_variants(text, interface, gateway):
    route = parse_ip_route_get(text)
    assert (route.destination, route.interface, route.gateway) == (VM, interface, gateway)


@pytest.mark.parametrize(
    "text",
    [
        "",
        'Error: any valid prefix is expected rather than "nowhere".\n',
        'Cannot find device "vboxnet9"\n',
        "RTNETLINK answers: Operation not supported\n",
    ],
)
def test_parse_ip_route_get_errors(text):
    with pytest.raises(ValueError):
        parse_ip_route_get(text)


@pytest.mark.parametrize(
    "fixture, hijacked",
    [
        ("ip_route_get_dev.txt", False),
        ("ip_route_get_hijacked.txt", True),
        ("ip_route_get_local.txt", False),
    ],
)
def test_ip_route_get_verdicts(fixture, hijacked):
    assert judge_route(parse_ip_route_get(load(fixture)), VM, "vboxnet0").hijacked is hijacked


# --- tunnels, scutil, verdicts ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "utun0",
        "utun5",
        "utun12",
        "tun0",
        "tap0",
        "ppp0",
        "ipsec0",
        "gpd0",
        "cscotun0",
        "wg0",
        "tunsnx",
        "zcctun0",
        "vti1",
        "tailscale0",
    ],
)
def test_tunnel_interfaces(name):
    assert is_tunnel_interface(name) is True


@pytest.mark.parametrize(
    "name",
    [
        "vboxnet0",
        "vboxnet",
        "hostonly0",
        "bridge100",
        "en0",
        "eth0",
        "lo0",
        "lo",
        "wlan0",
        "tunl0",
        "utun",
        "gif0",
        "awdl0",
        "",
        "myutun0",
        "utun0x",
        "docker0",
    ],
)
def test_not_tunnel_interfaces(name):
    assert is_tunnel_interface(name) is False


@pytest.mark.parametrize(
    "text, connected",
    [
        (load("scutil_anyconnect_dns.txt"), True),
        (load("scutil_no_such_key.txt"), False),
        ("", False),
        (
            "<dictionary> {\r\n  ServerAddresses : <array> {\r\n    0 : 10.0.0.1\r\n  }\r\n}\r\n",
            True,
        ),
        ("scutil: could not open session\n", False),
    ],
)
def test_anyconnect_connected(text, connected):
    assert anyconnect_connected(text) is connected


@pytest.mark.parametrize(
    "route, expected, hijacked, words",
    [
        (Route("192.168.99.0/24", "vboxnet0", None), "vboxnet0", False, "vboxnet0"),
        (Route("192.168.99.0/24", "vboxnet0", None), None, False, "vboxnet0"),
        (
            Route("192.168.99.0/24", "vboxnet1", None),
            "vboxnet0",
            True,
            "via vboxnet1, not vboxnet0",
        ),
        (Route("192.168.99.0/24", "utun0", None), None, True, "utun0 (a VPN tunnel)"),
        (Route("192.168.99.0/24", "en0", "192.168.1.1"), None, False, "en0"),
        (Route("192.168.99.0/24", "en0", "192.168.1.1"), "vboxnet0", True, "not vboxnet0"),
        (Route("192.168.99.0/24", "vboxnet", None), "vboxnet0", False, "vboxnet"),
        (Route("192.168.99.0/24", "vboxne", None), "vboxnet0", True, "not vboxnet0"),
        (Route("192.168.99.100", "lo", None, "local"), "vboxnet0", False, "local"),
        (Route("192.168.99.0/24", "", None), "vboxnet0", True, "no route"),
    ],
)
def test_judge_route(route, expected, hijacked, words):
    verdict = judge_route(route, VM, expected)
    assert verdict.hijacked is hijacked
    assert words in verdict.detail
    assert verdict.detail.startswith(VM)
