import pytest

from docker_vpn_helper import forwarding
from docker_vpn_helper.core import store as store_module
from docker_vpn_helper.core.listeners import Listener
from docker_vpn_helper.errors import HelperError, PortTaken
from docker_vpn_helper.settings import resolve
from docker_vpn_helper.stages import nat, step

from ..support.runs import close_all, session_for
from .standins import (
    DOCKER_RULE,
    SHOW,
    SSH_RULE,
    FakeHost,
    cmd,
    commands,
    context,
    fail,
    ok,
    showvminfo,
    write_settings,
)

ADD_RUNNING = cmd("VBoxManage", "controlvm", "default", "natpf1", DOCKER_RULE)
ADD_STOPPED = cmd("VBoxManage", "modifyvm", "default", "--natpf1", DOCKER_RULE)


@pytest.fixture(autouse=True)
def port_free(monkeypatch):
    monkeypatch.setattr(forwarding, "port_listener", lambda port: False)


def run(store, results, **flags):
    c = context(results)
    s = session_for(c, "default", str(store), **flags)
    step(s, nat.STAGE)
    return c, s


def test_running_vm_gets_the_rule_with_controlvm_and_ssh_is_untouched(store):
    c, s = run(
        store, {SHOW: ok(showvminfo()), ADD_RUNNING: ok(), cmd("VBoxManage", "list", "vms"): ok()}
    )
    assert commands(c) == [SHOW, cmd("VBoxManage", "list", "vms"), ADD_RUNNING]
    assert "nat" in set(s.changes())
    assert not any("ssh" in command and "delete" in command for command in commands(c))


def test_stopped_vm_gets_the_rule_with_modifyvm(store):
    c, _ = run(
        store,
        {
            SHOW: ok(showvminfo("poweroff")),
            ADD_STOPPED: ok(),
            cmd("VBoxManage", "list", "vms"): ok(),
        },
    )
    assert commands(c)[-1] == ADD_STOPPED


def test_existing_forward_under_any_name_means_nothing_to_do(store, capsys):
    rules = (SSH_RULE, "dockerd,tcp,127.0.0.1,2376,,2376")
    c, s = run(store, {SHOW: ok(showvminfo(rules=rules))})
    assert commands(c) == [SHOW]
    assert set(s.changes()) == set()
    assert "already forwards 127.0.0.1:2376" in capsys.readouterr().err


def test_stale_rule_of_the_same_name_is_replaced(store):
    stale = "docker,tcp,,2376,,2375"  # all interfaces, wrong guest port
    delete = cmd("VBoxManage", "controlvm", "default", "natpf1", "delete", "docker")
    c, _ = run(
        store, {SHOW: ok(showvminfo(rules=(SSH_RULE, stale))), delete: ok(), ADD_RUNNING: ok()}
    )
    assert commands(c) == [SHOW, delete, ADD_RUNNING]


OTHER_VM = {
    cmd("VBoxManage", "list", "vms"): ok(
        '"default" {38faa80d-b4fe-42cb-8076-d641008d3b7d}\n"dev" {11111111-2222-3333-4444-555555555555}\n'
    ),
    cmd("VBoxManage", "showvminfo", "dev", "--machinereadable"): ok(
        showvminfo("poweroff", rules=("ssh,tcp,127.0.0.1,50200,,22", DOCKER_RULE), name="dev")
    ),
}


def test_a_port_asked_for_but_held_by_another_machines_rule_is_refused_naming_it(store):
    with pytest.raises(PortTaken) as caught:
        run(store, {SHOW: ok(showvminfo()), **OTHER_VM}, port=2376)
    assert (caught.value.port, caught.value.holder) == (
        2376,
        "VM 'dev' (NAT rule 'docker', poweroff)",
    )
    assert (
        "127.0.0.1:2376 is already taken by VM 'dev' (NAT rule 'docker', poweroff)"
        in caught.value.message
    )
    assert "--port 2377" in caught.value.message


def test_a_new_forward_moves_past_the_default_port_when_taken_and_remembers(store, capsys):
    add = cmd("VBoxManage", "controlvm", "default", "natpf1", "docker,tcp,127.0.0.1,2377,,2376")
    c, s = run(store, {SHOW: ok(showvminfo()), **OTHER_VM, add: ok()})
    assert commands(c)[-1] == add
    assert s.port == 2377
    assert "127.0.0.1:2376 is taken by VM 'dev' (NAT rule 'docker', poweroff): using 2377" in (
        capsys.readouterr().err
    )
    assert store_module.remembered_port(store, "default") == 2377
    assert resolve({}, machine="default", storage_path=str(store)).host_port == 2377


def test_another_machines_remembered_port_is_skipped(store, monkeypatch):
    other = store / "machines" / "dev"
    other.mkdir()
    (other / "config.json").write_text("{}")
    (other / store_module.STATE_FILE).write_text('{"host_port": 2376}')
    add = cmd("VBoxManage", "controlvm", "default", "natpf1", "docker,tcp,127.0.0.1,2377,,2376")
    c, _ = run(store, {SHOW: ok(showvminfo()), cmd("VBoxManage", "list", "vms"): ok(), add: ok()})
    assert commands(c)[-1] == add


def test_port_held_by_another_program(store, monkeypatch):
    monkeypatch.setattr(forwarding, "port_listener", lambda port: port == 2376)
    with pytest.raises(HelperError, match="already taken by another program"):
        run(store, {SHOW: ok(showvminfo()), cmd("VBoxManage", "list", "vms"): ok()}, port=2376)


def test_an_existing_forward_on_another_port_is_adopted(store):
    rules = (SSH_RULE, "docker,tcp,127.0.0.1,2381,,2376")
    c, s = run(store, {SHOW: ok(showvminfo(rules=rules))})
    assert commands(c) == [SHOW] and set(s.changes()) == set()
    assert store_module.remembered_port(store, "default") == 2381


def test_another_port_from_the_flag(store):
    add = cmd("VBoxManage", "controlvm", "default", "natpf1", "docker,tcp,127.0.0.1,2380,,2376")
    c, _ = run(
        store,
        {SHOW: ok(showvminfo()), cmd("VBoxManage", "list", "vms"): ok(), add: ok()},
        port=2380,
    )
    assert commands(c)[-1] == add


def test_dry_run_plans_without_mutating(store, capsys):
    c, s = run(
        store, {SHOW: ok(showvminfo()), cmd("VBoxManage", "list", "vms"): ok()}, dry_run=True
    )
    assert commands(c) == [SHOW, cmd("VBoxManage", "list", "vms")]
    assert (
        "would run: VBoxManage controlvm default natpf1 docker,tcp,127.0.0.1,2376,,2376"
        in capsys.readouterr().err
    )
    assert set(s.changes()) == {"nat"}


def test_vm_not_registered(store):
    with pytest.raises(HelperError, match="VirtualBox has no VM named 'default'"):
        run(
            store,
            {SHOW: fail("VBoxManage: error: Could not find a registered machine named 'default'")},
        )


def test_vboxmanage_missing(store):
    with pytest.raises(HelperError, match="VBoxManage is not installed"):
        run(store, {SHOW: fail("bash: line 1: VBoxManage: command not found", 127)})


def test_vboxmanage_refusal_is_one_line(store):
    results = {
        SHOW: ok(showvminfo()),
        cmd("VBoxManage", "list", "vms"): ok(),
        ADD_RUNNING: fail(
            "VBoxManage: error: A NAT rule of this name already exists\nVBoxManage: error: Details: code NS_ERROR_INVALID_ARG"
        ),
    }
    with pytest.raises(HelperError) as caught:
        run(store, results)
    assert caught.value.message.count("\n") == 0
    assert "could not add NAT rule" in caught.value.message
    assert "a rule of that name exists, which VirtualBox did not list" in caught.value.message
    assert "again" not in caught.value.message  # a run never asks to be run again for it


def test_after_adding_the_rule_the_vm_is_not_asked_again(store):
    c, s = run(
        store, {SHOW: ok(showvminfo()), ADD_RUNNING: ok(), cmd("VBoxManage", "list", "vms"): ok()}
    )
    assert s.forward_plan().rule.spec() == DOCKER_RULE and s.port == 2376
    assert commands(c).count(SHOW) == 1


def test_a_vm_that_stopped_since_we_looked_gets_the_rule_the_stopped_way(store):
    refused = fail("VBoxManage: error: Machine 'default' is not currently running")
    c, _ = run(
        store,
        {
            SHOW: ok(showvminfo()),
            cmd("VBoxManage", "list", "vms"): ok(),
            ADD_RUNNING: refused,
            ADD_STOPPED: ok(),
        },
    )
    assert commands(c)[-2:] == [ADD_RUNNING, ADD_STOPPED]


# -- the path: who holds the port of a rule that is there ----------------------------------------

PRESENT = {SHOW: ok(showvminfo(rules=(SSH_RULE, DOCKER_RULE)))}


def test_a_program_holding_the_port_of_our_rule_is_named_and_nothing_changes(
    store, monkeypatch, dockerd
):
    """The rule is there, yet the daemon does not answer: another program took the port
    before VirtualBox could listen. No rule, certificate or daemon is blamed or touched."""
    dockerd.guest.served = None  # nothing answers TLS through the port
    holders = {2376: [Listener(4242, "ssh")], 50157: [Listener(812, "VBoxHeadless")]}
    monkeypatch.setattr(forwarding, "port_holders", lambda c, port: holders[port])
    with pytest.raises(PortTaken) as caught:
        run(store, PRESENT)
    assert (caught.value.port, caught.value.holder) == (2376, "ssh (pid 4242)")
    assert caught.value.reason.startswith(
        "port 2376 on 127.0.0.1 is held by ssh (pid 4242), not by VirtualBox's forward to the VM "
        "'default': stop that program and run `"
    )
    assert caught.value.reason.endswith(
        "again, or move the forward to a free port with `docker-vpn-helper fix --machine default "
        "--port 2377`"
    )


def test_our_forward_holding_the_port_leaves_the_daemon_to_the_later_stages(
    store, monkeypatch, dockerd
):
    dockerd.guest.served = None
    c, s = run(store, PRESENT)
    assert commands(c) == [SHOW] and not s.changes()


def test_a_rule_virtualbox_could_not_listen_for_is_added_again(store, monkeypatch, dockerd, capsys):
    """Nothing listens on the port of our rule (it was taken when the VM started, and is free
    now): the rule is applied again, so VirtualBox listens."""
    dockerd.guest.served = None
    monkeypatch.setattr(forwarding, "port_holders", lambda c, port: [])
    delete = cmd("VBoxManage", "controlvm", "default", "natpf1", "delete", "docker")
    c, _ = run(store, {**PRESENT, delete: ok(), ADD_RUNNING: ok()})
    assert commands(c)[-2:] == [delete, ADD_RUNNING]
    assert "VirtualBox does not listen on 127.0.0.1:2376 for NAT rule 'docker'" in (
        capsys.readouterr().err
    )


def test_virtualbox_7_0_0_hides_the_rules_a_second_run_still_finds_ours(store, monkeypatch, capsys):
    """7.0.0 and 7.0.1 print no Forwarding(n) line once NIC 1 has two rules: the second run
    read none, found 127.0.0.1:2376 held (by VirtualBox's own forward) and failed with
    "already taken by another program", every time. The settings file has the rules."""
    host = FakeHost(version="7.0.0r153978", cfg=write_settings(store))
    step(session_for(host.context(), "default", str(store)), nat.STAGE)
    close_all()
    assert host.rules == [SSH_RULE, DOCKER_RULE]
    monkeypatch.setattr(forwarding, "port_listener", lambda port: port == 2376)  # VirtualBox's
    capsys.readouterr()
    again = session_for(host.context(), "default", str(store))
    step(again, nat.STAGE)
    assert again.changes() == [] and host.rules == [SSH_RULE, DOCKER_RULE]
    assert "nothing to do" in capsys.readouterr().err


# -- the port answers, but not with TLS (issue 20, item 2): taken, never the certificate -------

VIRTUALBOX = Listener(812, "VBoxHeadless")
THIEF = Listener(4242, "python3")


@pytest.mark.parametrize(
    "holders, named",
    [
        # beside the VM's forward (a program that bound the port with it): the other one
        ([VIRTUALBOX, THIEF], "python3 (pid 4242)"),
        # nobody to be seen listening (a redirect, a process we may not look at)
        ([], "another program (see `lsof -nP -iTCP:2376 -sTCP:LISTEN`)"),
    ],
    ids=["beside-the-forward", "unseen"],
)
def test_a_port_answering_without_tls_is_taken_and_its_holder_named(
    store, monkeypatch, dockerd, holders, named
):
    """Once: the rule counted as present (or to be added again), then cert.deploy and a daemon
    restart, 60 s of waiting and [SSL: WRONG_VERSION_NUMBER]."""
    dockerd.plain = True
    listeners = {2376: holders, 50157: [VIRTUALBOX]}
    monkeypatch.setattr(forwarding, "port_holders", lambda c, port: listeners[port])
    c = context(PRESENT)
    with pytest.raises(HelperError) as caught:
        step(session_for(c, "default", str(store)), nat.STAGE)
    assert caught.value.reason.startswith(
        f"port 2376 on 127.0.0.1 is held by {named}, not by VirtualBox's forward to the VM "
        "'default': stop that program and run `"
    )
    assert commands(c) == [SHOW]  # no rule added again, nothing else


def test_the_vms_own_forward_answering_without_tls_is_said_and_nothing_restarted(
    store, monkeypatch, dockerd
):
    dockerd.plain = True
    monkeypatch.setattr(forwarding, "port_holders", lambda c, port: [VIRTUALBOX])
    c = context(PRESENT)
    with pytest.raises(HelperError) as caught:
        step(session_for(c, "default", str(store)), nat.STAGE)
    assert caught.value.reason == (
        "127.0.0.1:2376 answers without TLS, yet only the VM's forward listens there: what "
        "answers is not dockerd (another program on port 2376 in the VM 'default', or a redirect "
        "on this host); nothing was restarted"
    )
    assert commands(c) == [SHOW]
