from __future__ import annotations

import pytest

from docker_vpn_helper.core import ports
from docker_vpn_helper.core.ports import Unreachable
from docker_vpn_helper.core.vbox import NatRule

SSH = NatRule("ssh", "tcp", "127.0.0.1", 53770, "", 22)
DAEMON = NatRule("docker", "tcp", "127.0.0.1", 2376, "", 2376)


def published(proto: str, port: int, ip: str = "0.0.0.0", private: int | None = None) -> dict:
    return {"IP": ip, "PrivatePort": private or port, "PublicPort": port, "Type": proto}


def container(name: str, *entries: dict, **extra) -> dict:
    return {"Id": f"{name}0123456789abcdef", "Names": [f"/{name}"], "Ports": list(entries), **extra}


def v4_and_v6(proto: str, port: int, private: int | None = None) -> list[dict]:
    """What dockerd 20.10+ lists for `-p PORT:PRIVATE`: one entry per address family."""
    return [published(proto, port, "0.0.0.0", private), published(proto, port, "::", private)]


def ours(proto: str, port: int) -> NatRule:
    return ports.rule_for(proto, port)


# --- reading /containers/json ---------------------------------------------------------------


def test_ipv4_and_ipv6_entries_of_one_port_are_one_forward():
    web = container("web", *v4_and_v6("tcp", 8080, 80), {"PrivatePort": 443, "Type": "tcp"})
    assert ports.published_ports([web]) == {("tcp", 8080): ("web",)}


def test_a_range_is_one_forward_per_port_and_udp_is_its_own_protocol():
    dns = container(
        "dns",
        *[e for port in range(8000, 8003) for e in v4_and_v6("tcp", port)],
        *v4_and_v6("udp", 5353, 53),
        *v4_and_v6("tcp", 5353, 53),
    )
    assert ports.published_ports([dns]) == {
        ("tcp", 5353): ("dns",),
        ("tcp", 8000): ("dns",),
        ("tcp", 8001): ("dns",),
        ("tcp", 8002): ("dns",),
        ("udp", 5353): ("dns",),
    }


def test_exposed_only_ports_and_odd_entries_are_not_forwarded():
    odd = container(
        "odd",
        {"PrivatePort": 80, "Type": "tcp"},  # EXPOSE 80, not published
        {"IP": "0.0.0.0", "PrivatePort": 81, "PublicPort": 0, "Type": "tcp"},
        {"IP": "0.0.0.0", "PrivatePort": 82, "PublicPort": "8082", "Type": "tcp"},
        "not a dict",
    )
    assert ports.published_ports([odd, {"Names": ["/none"], "Ports": None}, {}]) == {}


def test_which_addresses_nat_reaches():
    box = container(
        "box",
        published("tcp", 1001, ""),  # old daemons leave IP empty for every address
        published("tcp", 1002, "0.0.0.0"),
        published("tcp", 1003, "::"),  # alone: its proxy listens on IPv6 only (Docker 20.10)
        published("tcp", 1004, "10.0.2.15"),  # the guest's NAT address: where NAT delivers
        published("tcp", 1005, "127.0.0.1"),
        published("tcp", 1006, "::1"),
        published("tcp", 1007, "192.168.99.100"),  # the host-only address the VPN took
        {"IP": "0.0.0.0", "PrivatePort": 1008, "PublicPort": 1008},  # no Type: tcp
    )
    assert list(ports.published_ports([box])) == [("tcp", p) for p in (1001, 1002, 1004, 1008)]
    assert [u.port for u in ports.unreachable_ports([box])] == [1003, 1005, 1006, 1007]


@pytest.mark.parametrize(
    ("entries", "forwarded", "note"),
    [
        # Docker 20.10+ `-p 18612:80`: one entry per address family, the IPv4 one reachable.
        ((("tcp", 18612, "0.0.0.0"), ("tcp", 18612, "::")), True, None),
        # `-p '[::]:18612:80'`: the IPv6 entry alone; a rule for it gave an empty reply.
        (
            (("tcp", 18612, "::"),),
            False,
            "container web publishes 18612 only on the VM's ::: NAT cannot reach it (it listens "
            "on IPv6 only; -p 18612:<port> publishes on IPv4 too)",
        ),
        ((("udp", 5353, "::"),), False, "container web publishes 5353/udp only on the VM's :::"),
        # Docker before 20.10: one entry, empty or 0.0.0.0.
        ((("tcp", 8080, ""),), True, None),
        # `::` beside the NAT address: the IPv4 one carries it.
        ((("tcp", 8080, "::"), ("tcp", 8080, "10.0.2.15")), True, None),
    ],
)
def test_an_ipv6_only_publish_is_a_note_not_a_dead_rule(entries, forwarded, note):
    web = container("web", *(published(proto, port, ip) for proto, port, ip in entries))
    key = entries[0][:2]
    assert (key in ports.published_ports([web])) is forwarded
    notes = [u.line() for u in ports.unreachable_ports([web])]
    assert notes == ([] if note is None else [notes[0]]) and (
        note is None or notes[0].startswith(note)
    )


def test_another_nat_address_can_be_given():
    box = container("box", published("tcp", 80, "10.0.3.15"), published("tcp", 81, "10.0.2.15"))
    assert list(ports.published_ports([box], nat_ip="10.0.3.15")) == [("tcp", 80)]
    assert [u.port for u in ports.unreachable_ports([box], nat_ip="10.0.3.15")] == [81]


def test_loopback_only_ports_are_a_one_line_note_each():
    web = container(
        "web",
        published("tcp", 8080, "127.0.0.1", 80),
        published("tcp", 8080, "::1", 80),
        published("udp", 5353, "192.168.99.100", 53),
    )
    notes = ports.unreachable_ports([web])
    assert notes == (
        Unreachable("web", "tcp", 8080, ("127.0.0.1", "::1")),
        Unreachable("web", "udp", 5353, ("192.168.99.100",)),
    )
    assert [n.line() for n in notes] == [
        "container web publishes 8080 only on the VM's 127.0.0.1 and ::1: NAT cannot reach it",
        "container web publishes 5353/udp only on the VM's 192.168.99.100: NAT cannot reach it",
    ]
    assert ports.published_ports([web]) == {}


def test_a_protocol_nat_lacks_is_a_note_too():
    sig = container("sig", *v4_and_v6("sctp", 3868))
    assert ports.published_ports([sig]) == {}
    (note,) = ports.unreachable_ports([sig])
    assert (
        note.line() == "container sig publishes 3868/sctp: VirtualBox NAT forwards only tcp and udp"
    )


def test_several_containers_and_keys_in_order():
    listed = [
        container("b", *v4_and_v6("tcp", 9000)),
        container("a", *v4_and_v6("udp", 53), *v4_and_v6("tcp", 80)),
    ]
    assert list(ports.published_ports(listed)) == [("tcp", 80), ("tcp", 9000), ("udp", 53)]
    assert ports.published_ports(listed) == ports.published_ports(listed[::-1])


@pytest.mark.parametrize(
    "entry, name",
    [
        ({"Names": ["/web"]}, "web"),
        ({"Names": ["/app/db", "/db"]}, "db"),  # a legacy link's alias listed first
        ({"Names": ["/app/db"]}, "app/db"),
        ({"Names": [], "Id": "0123456789abcdef"}, "0123456789ab"),
        ({}, "?"),
    ],
)
def test_container_name(entry, name):
    assert ports.container_name(entry) == name


# --- our rules -------------------------------------------------------------------------------


def test_our_rule_forwards_loopback_to_the_same_port_in_the_vm():
    assert ports.rule_for("tcp", 8080).spec() == "dvh-tcp-8080,tcp,127.0.0.1,8080,,8080"
    assert ports.rule_for("udp", 5353).spec() == "dvh-udp-5353,udp,127.0.0.1,5353,,5353"
    rule = ports.rule_for("udp", 5353)
    assert NatRule.parse(rule.spec()) == rule


@pytest.mark.parametrize(
    "name, mine",
    [
        ("dvh-tcp-8080", True),
        ("dvh-udp-5353", True),
        ("dvh-tcp-1", True),
        ("dvh-tcp-65535", True),
        ("ssh", False),
        ("docker", False),
        ("web", False),
        ("dvh-web", False),
        ("dvh-tcp-08080", False),
        ("dvh-tcp-0", False),
        ("dvh-tcp-123456", False),
        ("dvh-sctp-80", False),
        ("dvh-tcp-8080-old", False),
        ("DVH-tcp-8080", False),
        ("my-dvh-tcp-8080", False),
    ],
)
def test_is_ours_only_for_our_exact_names(name, mine):
    assert ports.is_ours(NatRule(name, "tcp", "127.0.0.1", 8080, "", 8080)) is mine


def test_stopped_follows_each_containers_last_event():
    def event(action, ident):
        return {"Type": "container", "Action": action, "Actor": {"ID": ident, "Attributes": {}}}

    events = [event("die", "a"), event("die", "b"), event("start", "b"), event("start", "c")]
    assert ports.stopped(events) == {"a"}
    assert ports.stopped([event("start", "a")], before={"a", "d"}) == {"d"}
    # API versions before 1.22 say it in `status` and `id` only.
    assert ports.stopped([{"status": "die", "id": "e"}]) == {"e"}
    assert ports.stopped([]) == frozenset()
