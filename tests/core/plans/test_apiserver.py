"""plan_apiserver (minikube's API server forward and our kubeconfig): one row per branch."""

from __future__ import annotations

import pytest

from docker_vpn_helper.core.plans.apiserver import PORT_SEARCH, RULE_NAME, plan_apiserver
from docker_vpn_helper.core.vbox import NatRule

from .helpers import edits, lines, vm

OURS = NatRule(RULE_NAME, "tcp", "127.0.0.1", 8444, "", 8443)
WEB = NatRule("web", "tcp", "127.0.0.1", 8443, "", 80)


def kubeconfig_for(current: dict[int, bytes]):
    """(path, wanted, now): the wanted file names its port; `current` is what is on disk."""
    return lambda port: ("/k", f"server {port}".encode(), current.get(port))


@pytest.mark.parametrize(
    "case, rules, remembered, taken, on_disk, expect",
    [
        ("first run: 8443", (), None, (), {}, (8443, True, True, True)),
        ("8443 held by a listener", (), None, (8443,), {}, (8444, True, True, True)),
        ("8443 is another rule's", (WEB,), None, (), {}, (8444, True, True, True)),
        ("the remembered port first", (), 9000, (), {}, (9000, True, True, False)),
        ("remembered but taken", (), 9000, (9000,), {}, (8443, True, True, True)),
        ("our rule is there", (OURS,), 8444, (8444,), {8444: b"server 8444"}, (8444, 0, 0, 0)),
        ("rule there, file stale", (OURS,), 8444, (), {8444: b"server 1"}, (8444, 0, 1, 0)),
        ("rule there, not remembered", (OURS,), None, (), {8444: b"server 8444"}, (8444, 0, 0, 1)),
    ],
)
def test_plan_apiserver(case, rules, remembered, taken, on_disk, expect):
    plan = plan_apiserver(
        rules=vm("running", *rules).rules(),
        remembered=remembered,
        taken=lambda port: port in taken,
        guest_port=8443,
        add=edits().add,
        kubeconfig=kubeconfig_for(on_disk),
        problem=lambda port: "",
    )
    port, adds, writes, remembers = expect
    assert (plan.port, plan.add is not None, plan.write, plan.remember) == (
        port,
        bool(adds),
        bool(writes),
        bool(remembers),
    ), case
    if adds:
        spec = f"apiserver,tcp,127.0.0.1,{port},,8443"
        assert lines(plan.commands) == [f"VBoxManage controlvm default natpf1 {spec}"]
        assert "nat" in plan.changes
    else:
        assert plan.commands == () and "nat" not in plan.changes
    assert ("kubeconfig" in plan.changes) is bool(writes)
    if writes:
        assert plan.actions()[-1] == f"write /k (server https://127.0.0.1:{port})"


def test_the_certificate_is_judged_only_through_a_rule_that_is_there():
    judged = []

    def problem(port: int) -> str:
        judged.append(port)
        return "the API server's certificate ... does not name 127.0.0.1"

    common = dict(taken=lambda port: False, guest_port=8443, add=edits().add)
    first = plan_apiserver(
        (), None, kubeconfig=kubeconfig_for({}), problem=problem, pending="later", **common
    )
    assert (first.problem, first.notes, judged) == ("", ("later",), [])
    there = plan_apiserver(
        (OURS,), 8444, kubeconfig=kubeconfig_for({}), problem=problem, pending="later", **common
    )
    assert "does not name 127.0.0.1" in there.problem and there.notes == () and judged == [8444]
    projected = plan_apiserver((OURS,), 8444, kubeconfig=kubeconfig_for({}), problem=None, **common)
    assert projected.problem == ""


def test_no_free_port_is_an_error():
    with pytest.raises(ValueError, match="no free host port from 8443"):
        plan_apiserver(
            (),
            None,
            lambda port: True,
            8443,
            edits().add,
            kubeconfig_for({}),
            None,
        )
    assert PORT_SEARCH == 100
