"""core.corp: what the VM lacks of the host's roots and proxy."""

from __future__ import annotations

import pytest

from docker_vpn_helper.core import proxy, trust
from docker_vpn_helper.core.guestscripts import restart_command
from docker_vpn_helper.core.plans import corp

from ...support import corp as pki
from ..fixtures import load

RESTART = restart_command(60.0)

VM_IP = ("192.168.99.100",)
PROFILE = "DOCKER_TLS=auto\n"


@pytest.fixture(scope="module")
def found():
    cert, _ = pki.company_root("Example Corp Root CA")
    return trust.read_pem(pki.pem(cert), "bundle.pem")


def vm(profile=PROFILE, certs=None, bundle=b"# public roots\n") -> corp.VMTrust:
    return corp.VMTrust(profile, certs or {}, bundle)


def test_a_missing_root_is_copied_and_loaded_then_the_daemon_restarts(found) -> None:
    plan = corp.plan_corp(found, proxy.HostProxy(), vm(), VM_IP, restart_command=RESTART)
    (root,) = found.roots
    assert plan.persist == plan.load == (root,)
    assert plan.restart and plan.changes == ("corp",)
    assert [path for path, _, _ in plan.files()] == [root.guest_path, trust.GUEST_BUNDLE]
    assert plan.problem == f"the VM lacks 1 of the host's roots: {root.describe()}"
    assert plan.actions()[0] == f"copy {root.describe()} to {root.guest_path}"
    assert plan.commands == (RESTART,)
    assert plan.actions()[-1] == RESTART.describe("the daemon reads roots and proxy when it starts")


def test_a_root_in_the_certs_folder_and_the_bundle_is_there(found) -> None:
    pem = found.roots[0].pem
    plan = corp.plan_corp(
        found, proxy.HostProxy(), vm(certs={"/x/mine.crt": pem}, bundle=pem), VM_IP
    )
    assert plan.changes == () and plan.problem == "" and plan.actions() == []
    assert (
        plan.seen()
        == "the VM trusts the host's 1 extra root(s) and needs no proxy (the host uses none)"
    )


def test_without_a_running_bundle_the_root_waits_for_the_next_boot(found) -> None:
    plan = corp.plan_corp(found, proxy.HostProxy(), vm(bundle=None), VM_IP, restart_command=RESTART)
    assert plan.persist and not plan.load and not plan.restart and plan.commands == ()
    assert any("take effect at its next boot" in n for n in plan.notes)


def test_the_host_proxy_goes_into_the_profile() -> None:
    host = proxy.parse_scutil_proxy(load("scutil_proxy_loopback.txt"))
    plan = corp.plan_corp(trust.Found(), host, vm(), VM_IP)
    assert plan.restart and plan.files() == [(corp.PROFILE_PATH, plan.profile.encode(), 0o644)]
    assert proxy.effective(plan.profile)["HTTP_PROXY"] == "http://10.0.2.2:3128"
    assert plan.notes == (corp.LOOPBACK_NOTE,)
    assert plan.problem == (
        "the VM's proxy (none) differs from the host's (http://127.0.0.1:3128 from the system "
        "proxy (scutil --proxy))"
    )
    again = corp.plan_corp(trust.Found(), host, vm(profile=plan.profile), VM_IP)
    assert again.changes == ()


def test_a_pac_only_system_proxy_is_named_not_followed() -> None:
    host = proxy.HostProxy(pac="http://wpad/proxy.pac", source="x")
    plan = corp.plan_corp(trust.Found(), host, vm(), VM_IP)
    assert plan.changes == ()
    assert plan.notes == (
        "the system proxy names a PAC file (http://wpad/proxy.pac): PAC files are not followed; "
        "set vpnhelper.proxy",
    )


def test_the_users_later_lines_win_and_are_named() -> None:
    host = proxy.from_setting("http://proxy:1")
    mine = (
        PROFILE + "\n".join([proxy.BEGIN, proxy.END, "export HTTP_PROXY=http://u:pw@mine:2"]) + "\n"
    )
    plan = corp.plan_corp(trust.Found(), host, vm(profile=mine), VM_IP)
    assert any("set HTTP_PROXY otherwise (http://****@mine:2)" in n for n in plan.notes)
    assert "pw" not in " ".join(plan.notes)


def test_turned_off_parts(found) -> None:
    host = proxy.from_setting("http://proxy:1")
    off = corp.plan_corp(found, host, vm(), VM_IP, roots_on=False, proxy_on=False)
    assert off.changes == () and off.seen().startswith("turned off")
    roots_only = corp.plan_corp(found, host, vm(), VM_IP, proxy_on=False)
    assert roots_only.profile == "" and roots_only.persist
    proxy_only = corp.plan_corp(found, host, vm(), VM_IP, roots_on=False)
    assert proxy_only.persist == () and proxy_only.profile


def test_a_vm_without_a_profile_keeps_its_proxy_alone() -> None:
    plan = corp.plan_corp(trust.Found(), proxy.from_setting("http://p:1"), vm(profile=None), VM_IP)
    assert plan.changes == () and "its proxy is left alone" in plan.notes[0]


def test_projected_plan_says_what_it_would_compare(found) -> None:
    plan = corp.projected(found, proxy.from_setting("http://u:pw@p:1"), VM_IP)
    assert plan.changes == ("corp",) and not plan.certain and plan.problem == ""
    assert "pw" not in " ".join(plan.actions())


@pytest.mark.parametrize(("reachable", "warned"), [(False, True), (True, False), (None, False)])
def test_a_loopback_proxy_the_nat_cannot_reach_is_a_problem(reachable, warned) -> None:
    host = proxy.from_setting("http://127.0.0.1:3128")
    plan = corp.plan_corp(
        trust.Found(), host, vm(), VM_IP, loopback_reachable=reachable, name="dev"
    )
    said = "`VBoxManage modifyvm dev --nat-localhostreachable1 on`"
    assert (said in plan.problem) is warned
    assert (corp.LOOPBACK_NOTE in plan.notes) is (reachable is None)
    remote = corp.plan_corp(
        trust.Found(), proxy.from_setting("http://p:1"), vm(), VM_IP, loopback_reachable=False
    )
    assert remote.unreachable == ""  # a proxy elsewhere does not need the host's loopback


def wanted(found, host=None):
    return corp.want(found, host or proxy.HostProxy(), VM_IP)


def test_a_vm_that_has_everything_is_recorded_once(found) -> None:
    host = proxy.from_setting("http://proxy.corp:3128")
    given = corp.compare(wanted(found, host), vm(), RESTART, None, "uuid-1")
    done = vm(profile=given.profile, certs={"c.pem": found.roots[0].pem}, bundle=given.bundle)
    first = corp.compare(wanted(found, host), done, RESTART, None, "uuid-1")
    assert first.changes == () and first.record == wanted(found, host).record("uuid-1")
    again = corp.compare(wanted(found, host), done, RESTART, first.record, "uuid-1")
    assert again.record is None and again.chores == ()
    assert corp.compare(wanted(found, host), done, RESTART, first.record, "uuid-2").record


@pytest.mark.parametrize(
    ("changed", "host"),
    [
        ("no profile to write the proxy into", proxy.from_setting("http://proxy.corp:3128")),
        ("no running bundle", proxy.HostProxy()),
    ],
)
def test_a_vm_left_short_is_not_recorded(found, changed, host) -> None:
    short = vm(profile=None) if "profile" in changed else vm(bundle=None)
    assert corp.compare(wanted(found, host), short, RESTART).record is None


def test_the_record_holds_no_proxy_password_and_changes_with_the_proxy(found) -> None:
    a = wanted(found, proxy.from_setting("http://jane:hunter2@proxy.corp:3128")).record("u")
    b = wanted(found, proxy.from_setting("http://jane:other@proxy.corp:3128")).record("u")
    assert "hunter2" not in str(a) and a != b and a["roots"] == [found.roots[0].fingerprint]
    assert corp.want(found, proxy.HostProxy(), VM_IP, proxy_on=False).record("u")["proxy"] is None


def test_as_recorded_plans_nothing_and_keeps_the_host_side_notes(found) -> None:
    host = proxy.from_setting("http://127.0.0.1:3128")
    plan = corp.as_recorded(corp.want(found, host, VM_IP, loopback_reachable=False))
    assert plan.changes == () and plan.commands == () and plan.chores == ()
    assert "--nat-localhostreachable1 on" in plan.problem
