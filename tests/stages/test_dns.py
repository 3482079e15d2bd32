"""dns.host-resolver through the stand-ins, and the pending switch machine.create applies."""

from __future__ import annotations

import json

from docker_vpn_helper.stages import dns, machine, step

from ..support.runs import close_all, session_for
from .standins import (
    DOCKER_RULE,
    SHOW,
    SSH_RULE,
    cmd,
    commands,
    context,
    ok,
    showvminfo,
    write_settings,
)


def vm(store, state="running", resolver="off"):
    """VirtualBox's answer, its settings file (CfgFile) holding the NAT DNS settings."""
    cfg = write_settings(store, host_resolver=resolver == "on")
    return ok(showvminfo(state, rules=(SSH_RULE, DOCKER_RULE), cfg=cfg))


def recorded(store) -> bool:
    config = json.loads((store / "machines/default/config.json").read_text())
    return config["Driver"].get("HostDNSResolver") is True


def modifyvm():
    return cmd("VBoxManage", "modifyvm", "default", "--natdnshostresolver1", "on")


def dm(store, action):
    return cmd("docker-machine", "--storage-path", str(store), action, "default")


def test_a_running_vm_is_recorded_and_told_when_it_takes_effect(store, capsys):
    c = context({SHOW: vm(store)})
    s = session_for(c, "default", str(store))
    step(s, dns.STAGE)
    assert commands(c) == [SHOW] and recorded(store) and s.changes() == ["dns"]
    assert "takes effect at its next start" in capsys.readouterr().err


def test_restart_switches_a_running_vm_now(store):
    c = context(
        {
            SHOW: [vm(store, resolver="on"), vm(store)],  # the file: off, as before the switch
            dm(store, "stop"): ok(),
            modifyvm(): ok(),
            dm(store, "start"): ok(),
        }
    )
    step(session_for(c, "default", str(store)), dns.STAGE, restart=True)
    assert commands(c) == [SHOW, dm(store, "stop"), modifyvm(), dm(store, "start")]


def test_a_stopped_vm_is_switched_and_a_vm_already_on_is_left_alone(store, capsys):
    c = context({SHOW: vm(store, "poweroff"), modifyvm(): ok()})
    step(session_for(c, "default", str(store)), dns.STAGE)
    assert commands(c) == [SHOW, modifyvm()]
    close_all()
    c = context({SHOW: vm(store, resolver="on")})
    s = session_for(c, "default", str(store))
    step(s, dns.STAGE)
    assert commands(c) == [SHOW] and s.changes() == []
    assert "natdnshostresolver1 on): nothing to do" in capsys.readouterr().err


def test_machine_create_switches_what_config_json_asks_for_before_a_start(store):
    config = store / "machines/default/config.json"
    data = json.loads(config.read_text())
    data["Driver"]["HostDNSResolver"] = True
    config.write_text(json.dumps(data))
    c = context(
        {SHOW: [vm(store, "poweroff"), vm(store)], modifyvm(): ok(), dm(store, "start"): ok()}
    )
    step(session_for(c, "default", str(store)), machine.STAGE)
    assert commands(c) == [SHOW, modifyvm(), dm(store, "start"), SHOW]


def test_new_machines_are_created_with_the_host_resolver():
    from docker_vpn_helper.adapters.docker_machine import create_args

    assert "--virtualbox-host-dns-resolver" in create_args("dev", ["localhost"])


def test_a_healthy_run_does_not_repeat_the_advice_it_gave_when_it_recorded(store, capsys):
    """Issue 21 item 8: every healthy fix said "takes effect at its next start ... or now with
    --restart" again; it is said once, when recorded (and by doctor)."""
    c = context({SHOW: vm(store)})
    step(session_for(c, "default", str(store)), dns.STAGE)
    assert "takes effect at its next start" in capsys.readouterr().err
    close_all()
    s = session_for(context({SHOW: vm(store)}), "default", str(store))
    step(s, dns.STAGE)
    err = capsys.readouterr().err
    assert "takes effect" not in err and "--restart" not in err, err
    assert "recorded to be switched on at the next start: nothing to do" in err
    assert s.changes() == []


def test_a_dry_run_on_a_stopped_vm_says_it_is_off_and_who_switches_it(store, capsys):
    """Issue 20 item 2: the plan goes by what was seen (off), not the state fix would set."""
    config = store / "machines/default/config.json"
    data = json.loads(config.read_text())
    data["Driver"]["HostDNSResolver"] = True
    config.write_text(json.dumps(data))
    s = session_for(context({SHOW: vm(store, "poweroff")}), "default", str(store), dry_run=True)
    step(s, machine.STAGE)
    plan = step(s, dns.STAGE)
    assert not plan.vm_on and plan.changes == ()
    err = capsys.readouterr().err
    assert "natdnshostresolver1 on" not in err.split("Resolving names")[1], err
    assert "natdnshostresolver1 is off: fix switches it on before it starts the VM" in err
