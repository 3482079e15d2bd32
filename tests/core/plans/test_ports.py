"""ports.sync's planner (core/plans/ports.py): what to add, delete, skip; each with its command."""

from __future__ import annotations

import random

import pytest

from docker_vpn_helper.core import ports
from docker_vpn_helper.core.plans.ports import Addition, Deletion, PortsPlan, Skip
from docker_vpn_helper.core.plans.ports import plan as plan_ports
from docker_vpn_helper.core.ports import Unreachable
from docker_vpn_helper.core.vbox import NatRule

from ..test_ports import container, published, v4_and_v6
from .helpers import edits, lines

SSH = NatRule("ssh", "tcp", "127.0.0.1", 53770, "", 22)
DAEMON = NatRule("docker", "tcp", "127.0.0.1", 2376, "", 2376)


def ours(proto: str, port: int) -> NatRule:
    return ports.rule_for(proto, port)


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


def test_with_the_vms_commands_deletions_come_first_and_say_why():
    wrong = NatRule("dvh-tcp-8080", "tcp", "127.0.0.1", 8080, "", 80)
    gone = ours("tcp", 9090)
    result = plan_ports({("tcp", 8080): ["web"]}, (SSH, wrong, gone), edits=edits())
    assert lines(result.commands) == [
        "VBoxManage controlvm default natpf1 delete dvh-tcp-8080",
        "VBoxManage controlvm default natpf1 delete dvh-tcp-9090",
        "VBoxManage controlvm default natpf1 dvh-tcp-8080,tcp,127.0.0.1,8080,,8080",
    ]
    assert result.actions()[-1] == (
        "run: VBoxManage controlvm default natpf1 dvh-tcp-8080,tcp,127.0.0.1,8080,,8080  # add NAT "
        "rule dvh-tcp-8080: 127.0.0.1:8080 -> the VM's 8080, for container web"
    )


def test_a_plan_that_waits_for_the_daemon_runs_nothing_and_says_why():
    waiting = PortsPlan(waiting="the published ports are synced once the daemon answers")
    assert waiting.commands == () and waiting.changes == ()
    assert waiting.seen() == "the published ports are synced once the daemon answers"
