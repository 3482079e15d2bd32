from __future__ import annotations

import random

import pytest

from docker_vpn_helper.core import ports
from docker_vpn_helper.core.plans.ports import Addition, Deletion, PortsPlan, Skip
from docker_vpn_helper.core.plans.ports import plan as plan_ports
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


# --- planning ---------------------------------------------------------------------------------


def test_nothing_published_nothing_ours_nothing_to_change():
    result = plan_ports({}, (SSH, DAEMON))
    assert result == PortsPlan()
    assert not result.changes
    assert result.lines() == ["published ports: nothing to change"]


def test_a_new_published_port_gets_a_rule_naming_its_container():
    result = plan_ports({("tcp", 8080): ["web"], ("udp", 5353): ["dns"]}, (SSH, DAEMON))
    assert result.add == (
        Addition(ours("tcp", 8080), ("web",)),
        Addition(ours("udp", 5353), ("dns",)),
    )
    assert result.changes
    assert result.describe() == (
        "add NAT rule dvh-tcp-8080: 127.0.0.1:8080 -> the VM's 8080, for container web\n"
        "add NAT rule dvh-udp-5353: 127.0.0.1:5353/udp -> the VM's 5353, for container dns"
    )


def test_our_rules_no_container_publishes_any_more_are_deleted():
    rules = (SSH, DAEMON, ours("tcp", 8080), ours("tcp", 9090), ours("udp", 53))
    result = plan_ports({("tcp", 8080): ["web"]}, rules)
    assert result.add == ()
    assert result.keep == (ours("tcp", 8080),)
    assert result.delete == (
        Deletion(ours("tcp", 9090), "no container publishes 9090 any more"),
        Deletion(ours("udp", 53), "no container publishes 53/udp any more"),
    )
    assert result.lines() == [
        "delete NAT rule dvh-tcp-9090 (dvh-tcp-9090,tcp,127.0.0.1,9090,,9090): "
        "no container publishes 9090 any more",
        "delete NAT rule dvh-udp-53 (dvh-udp-53,udp,127.0.0.1,53,,53): "
        "no container publishes 53/udp any more",
    ]


def test_nothing_wanted_deletes_every_rule_of_ours_and_only_those():
    # How a caller drops our rules before a stopped VM starts (VirtualBox 7.1 may refuse to
    # start a VM whose forwarded host port cannot be bound).
    user = NatRule("web", "tcp", "127.0.0.1", 8080, "", 80)
    rules = (SSH, DAEMON, user, ours("tcp", 8000), ours("udp", 5353))
    result = plan_ports({}, rules)
    assert [d.rule for d in result.delete] == [ours("tcp", 8000), ours("udp", 5353)]
    assert result.rules_after(rules) == (SSH, DAEMON, user)


@pytest.mark.parametrize(
    "wrong",
    [
        NatRule("dvh-tcp-8080", "tcp", "", 8080, "", 8080),  # every host address
        NatRule("dvh-tcp-8080", "tcp", "127.0.0.1", 8080, "", 80),
        NatRule("dvh-tcp-8080", "tcp", "127.0.0.1", 8080, "10.0.2.15", 8080),
        NatRule("dvh-tcp-8080", "udp", "127.0.0.1", 8080, "", 8080),
        NatRule("dvh-tcp-8080", "tcp", "127.0.0.1", 9090, "", 9090),
    ],
)
def test_our_rule_with_a_wrong_spec_is_deleted_then_made_again(wrong):
    result = plan_ports({("tcp", 8080): ["web"]}, (SSH, wrong))
    assert result.delete == (
        Deletion(wrong, "not the rule this tool makes (dvh-tcp-8080,tcp,127.0.0.1,8080,,8080)"),
    )
    assert result.add == (Addition(ours("tcp", 8080), ("web",)),)
    assert result.lines()[0].startswith("delete NAT rule dvh-tcp-8080 ")  # deletions come first
    assert result.lines()[1].startswith("add NAT rule dvh-tcp-8080:")
    assert result.rules_after((SSH, wrong)) == (SSH, ours("tcp", 8080))


def test_a_wrong_rule_of_ours_nobody_wants_is_just_deleted():
    wrong = NatRule("dvh-udp-53", "udp", "0.0.0.0", 53, "", 53)
    result = plan_ports({}, (wrong,))
    assert [d.rule for d in result.delete] == [wrong] and result.add == ()


def test_foreign_rules_are_never_touched():
    foreign = (
        SSH,
        DAEMON,
        NatRule("web", "tcp", "127.0.0.1", 8080, "", 80),
        NatRule("dvh-custom", "tcp", "127.0.0.1", 7000, "", 7000),
        NatRule("dvh-tcp-08080", "tcp", "127.0.0.1", 7001, "", 7001),
        NatRule("rdp", "tcp", "0.0.0.0", 3389, "", 3389),
    )
    for wanted in ({}, {("tcp", 9000): ["app"]}):
        result = plan_ports(wanted, foreign)
        assert result.delete == ()
        assert result.rules_after(foreign)[: len(foreign)] == foreign


def test_the_daemon_rule_is_protected_even_under_a_name_like_ours():
    daemon = NatRule("dvh-tcp-2376", "tcp", "127.0.0.1", 2376, "", 2376)
    result = plan_ports({}, (SSH, daemon), protected=("ssh", "dvh-tcp-2376"))
    assert result == PortsPlan()


def test_a_port_held_on_the_host_is_skipped_with_the_holder_and_the_container():
    held = {("tcp", 8080): "another program (see `lsof -nP -iTCP:8080 -sTCP:LISTEN`)"}
    result = plan_ports({("tcp", 8080): ["web"], ("udp", 8080): ["dns"]}, (SSH,), held)
    assert result.add == (Addition(ours("udp", 8080), ("dns",)),)  # udp 8080 is not held
    assert result.skip == (Skip("tcp", 8080, ("web",), held[("tcp", 8080)]),)
    assert result.lines()[-1] == (
        "skipping 8080 of container web: 127.0.0.1:8080 is held by another program "
        "(see `lsof -nP -iTCP:8080 -sTCP:LISTEN`)"
    )


def test_ports_held_by_this_vms_own_rules_are_skipped_without_being_told():
    rules = (SSH, DAEMON, NatRule("pg", "tcp", "", 5432, "", 5433))
    wanted = {("tcp", 2376): ["dind"], ("tcp", 53770): ["x"], ("tcp", 5432): ["db", "db2"]}
    result = plan_ports(wanted, rules)
    assert result.add == () and result.delete == ()
    assert [s.line() for s in result.skip] == [
        "skipping 2376 of container dind: 127.0.0.1:2376 is held by this VM's NAT rule 'docker'",
        "skipping 5432 of containers db, db2: 127.0.0.1:5432 is held by this VM's NAT rule 'pg'",
        "skipping 53770 of container x: 127.0.0.1:53770 is held by this VM's NAT rule 'ssh'",
    ]


def test_a_users_own_rule_for_the_same_port_already_does_the_job():
    # The hand-made workaround: `controlvm NAME natpf1 web,tcp,127.0.0.1,8080,,8080`.
    web = NatRule("web", "tcp", "127.0.0.1", 8080, "", 8080)
    held = {("tcp", 8080): "another program"}  # its listener, seen by the caller
    result = plan_ports({("tcp", 8080): ["web"]}, (SSH, web), held)
    assert result.skip == (Skip("tcp", 8080, ("web",), "this VM's NAT rule 'web'", True),)
    assert result.lines() == [
        "8080 of container web is already forwarded by this VM's NAT rule 'web'",
        "published ports: nothing to change",
    ]


def test_a_rule_on_another_address_or_protocol_holds_nothing_here():
    rules = (
        NatRule("lan", "tcp", "192.168.1.10", 8080, "", 8080),
        NatRule("dns", "udp", "127.0.0.1", 8080, "", 8080),
    )
    result = plan_ports({("tcp", 8080): ["web"]}, rules)
    assert result.add == (Addition(ours("tcp", 8080), ("web",)),)


def test_a_right_rule_of_ours_is_kept_whatever_held_says():
    held = {("tcp", 8080): "another program"}  # most likely VirtualBox, forwarding our rule
    result = plan_ports({("tcp", 8080): ["web"]}, (ours("tcp", 8080),), held)
    assert not result.changes and result.skip == ()
    assert result.keep == (ours("tcp", 8080),)


def test_unreachable_notes_pass_through_sorted():
    notes = (Unreachable("b", "tcp", 2, ("127.0.0.1",)), Unreachable("a", "tcp", 1, ("::1",)))
    result = plan_ports({}, (), unreachable=notes)
    assert result.unreachable == tuple(sorted(notes))
    assert result.lines() == [
        "container a publishes 1 only on the VM's ::1: NAT cannot reach it",
        "container b publishes 2 only on the VM's 127.0.0.1: NAT cannot reach it",
        "published ports: nothing to change",
    ]


def test_the_plan_does_not_depend_on_the_order_of_its_inputs():
    wanted = {("udp", 53): ["dns"], ("tcp", 9000): ["b", "a", "a"], ("tcp", 80): ["web"]}
    rules = [SSH, ours("tcp", 7000), DAEMON, ours("udp", 1), ours("tcp", 80)]
    held = {("tcp", 9000): "VM 'other' (NAT rule 'x', running)"}
    first = plan_ports(wanted, rules, held)
    second = plan_ports(dict(reversed(list(wanted.items()))), rules[::-1], held)
    assert first == second
    assert [d.rule.name for d in first.delete] == ["dvh-tcp-7000", "dvh-udp-1"]
    assert first.skip[0].containers == ("a", "b")


def test_a_second_plan_against_what_the_first_made_is_empty():
    listed = [
        container("web", *v4_and_v6("tcp", 8080, 80), published("tcp", 8443, "127.0.0.1", 443)),
        container("dns", *v4_and_v6("udp", 5353, 53)),
        container("range", *[e for p in range(8000, 8011) for e in v4_and_v6("tcp", p)]),
        container("blocked", *v4_and_v6("tcp", 3000)),
    ]
    rules = (SSH, DAEMON, ours("tcp", 9999), NatRule("dvh-tcp-8080", "tcp", "", 8080, "", 8080))
    held = {("tcp", 3000): "another program"}
    wanted = ports.published_ports(listed)
    notes = ports.unreachable_ports(listed)
    first = plan_ports(wanted, rules, held, unreachable=notes)
    assert len(first.add) == 13 and len(first.delete) == 2
    after = first.rules_after(rules)
    second = plan_ports(wanted, after, held, unreachable=notes)
    assert not second.changes
    assert second.lines() == [
        "skipping 3000 of container blocked: 127.0.0.1:3000 is held by another program",
        "container web publishes 8443 only on the VM's 127.0.0.1: NAT cannot reach it",
        "published ports: nothing to change",
    ]
    assert second.keep == tuple(a.rule for a in first.add)


@pytest.mark.parametrize("seed", range(40))
def test_any_plan_reaches_a_fixed_point_and_spares_other_rules(seed):
    rng = random.Random(seed)
    port_pool = [53, 80, 2376, 5353, 8000, 8080, 9000, 53770]
    keys = [(proto, port) for proto in ("tcp", "udp") for port in port_pool]
    wanted = {k: [f"c{rng.randrange(3)}"] for k in rng.sample(keys, rng.randrange(len(keys)))}
    held = {k: "another program" for k in rng.sample(keys, rng.randrange(4))}
    rules = [SSH, DAEMON]
    for proto, port in rng.sample(keys, rng.randrange(6)):
        rules.append(
            rng.choice(
                [
                    ports.rule_for(proto, port),
                    NatRule(ports.rule_name(proto, port), proto, "", port, "", port),
                    NatRule(f"user{port}{proto}", proto, "127.0.0.1", port, "", port),
                ]
            )
        )
    foreign = [r for r in rules if not ports.is_ours(r)]
    first = plan_ports(wanted, rules, held)
    after = first.rules_after(rules)
    assert [r for r in after if not ports.is_ours(r)] == foreign
    assert len({r.name for r in after}) == len(after)  # no rule name twice
    second = plan_ports(wanted, after, held)
    assert not second.changes, second.describe()
    for rule in ports.ours(after):  # every rule of ours is right and wanted
        assert rule == ports.rule_for(rule.proto, rule.host_port)
        assert (rule.proto, rule.host_port) in wanted
    handled = {(r.proto, r.host_port) for r in ports.ours(after)}
    handled |= {(s.proto, s.port) for s in second.skip}
    assert handled == set(wanted)


def test_stopped_follows_each_containers_last_event():
    def event(action, ident):
        return {"Type": "container", "Action": action, "Actor": {"ID": ident, "Attributes": {}}}

    events = [event("die", "a"), event("die", "b"), event("start", "b"), event("start", "c")]
    assert ports.stopped(events) == {"a"}
    assert ports.stopped([event("start", "a")], before={"a", "d"}) == {"d"}
    # API versions before 1.22 say it in `status` and `id` only.
    assert ports.stopped([{"status": "die", "id": "e"}]) == {"e"}
    assert ports.stopped([]) == frozenset()
