import pytest

from docker_vpn_helper import forwarding
from docker_vpn_helper.adapters import host
from docker_vpn_helper.errors import HelperError
from docker_vpn_helper.stages import machine, step

from ..support.runs import session_for
from .standins import (
    DOCKER_RULE,
    SHOW,
    SSH_RULE,
    cmd,
    commands,
    context,
    fail,
    ok,
    set_driver,
    showvminfo,
)

ROUTE = cmd("ip", "route", "get", "192.168.99.100")
VERSION = cmd("VBoxManage", "--version")
VERSION_OK = ok("6.1.50r161033\n")
PS = cmd("ps", "-axo", "pid=,comm=")
HEALTHY_ROUTE = ok("192.168.99.100 dev vboxnet0 src 192.168.99.1 uid 501 \n    cache \n")
VPN_ROUTE = ok("192.168.99.100 dev utun0 src 10.8.0.12 uid 501 \n    cache \n")


@pytest.fixture(autouse=True)
def linux_host(monkeypatch):
    monkeypatch.setattr(host, "platform", lambda: "linux")
    monkeypatch.setattr(forwarding, "port_listener", lambda port: False)


def test_running_machine_is_left_alone(store):
    c = context({SHOW: ok(showvminfo())})
    s = session_for(c, "default", str(store))
    step(s, machine.STAGE)
    assert commands(c) == [SHOW] and set(s.changes()) == set()


def test_stopped_machine_gets_the_forward_while_stopped_then_starts(store):
    start = cmd("docker-machine", "--storage-path", str(store), "start", "default")
    c = context(
        {
            SHOW: ok(showvminfo("poweroff")),
            cmd("VBoxManage", "list", "vms"): ok(),
            cmd("VBoxManage", "modifyvm", "default", "--natpf1", DOCKER_RULE): ok(),
            start: ok(),
        }
    )
    s = session_for(c, "default", str(store))
    step(s, machine.STAGE)
    # the forward goes in while stopped; after the start the VM is read again (new SSH port)
    assert commands(c)[-3:] == [
        cmd("VBoxManage", "modifyvm", "default", "--natpf1", DOCKER_RULE),
        start,
        SHOW,
    ]
    assert set(s.changes()) == {"nat", "machine"}


def test_saved_machine_with_forward_just_starts(store):
    start = cmd("docker-machine", "--storage-path", str(store), "start", "default")
    c = context({SHOW: ok(showvminfo("saved", rules=(SSH_RULE, DOCKER_RULE))), start: ok()})
    step(session_for(c, "default", str(store)), machine.STAGE)
    assert commands(c) == [SHOW, start, SHOW]


def test_store_entry_without_vm(store):
    c = context(
        {SHOW: fail("VBoxManage: error: Could not find a registered machine named 'default'")}
    )
    with pytest.raises(
        HelperError, match="VirtualBox has no VM named 'default' although the store has it"
    ):
        step(session_for(c, "default", str(store)), machine.STAGE)


def test_new_machine_is_refused_while_the_vpn_hijacks_the_route(store, monkeypatch):
    monkeypatch.setattr("sys.argv", ["docker-vpn-helper", "fix", "--machine", "new"])
    c = context({VERSION: VERSION_OK, ROUTE: VPN_ROUTE})
    with pytest.raises(HelperError) as caught:
        step(session_for(c, "new", str(store)), machine.STAGE, create=True)
    message = caught.value.message
    assert "cannot create 'new' while a VPN is up" in message and "utun0" in message
    assert message.endswith(
        "disconnect from the VPN and re-run: docker-vpn-helper fix --machine new"
    )
    assert commands(c) == [VERSION, ROUTE]  # VirtualBox not touched


def test_new_machine_is_refused_while_virtualbox_runs(store):
    ps = ok(
        "    1 /sbin/launchd\n  812 /Applications/VirtualBox.app/Contents/MacOS/VBoxHeadless\n  790 /Applications/VirtualBox.app/Contents/MacOS/VBoxSVC\n"
    )
    c = context({VERSION: VERSION_OK, ROUTE: HEALTHY_ROUTE, PS: ps})
    with pytest.raises(HelperError) as caught:
        step(session_for(c, "new", str(store)), machine.STAGE, create=True)
    assert (
        "VirtualBox is running (VBoxHeadless (pid 812), VBoxSVC (pid 790))" in caught.value.message
    )


def create_command(store) -> str:
    return cmd(
        "docker-machine", "--storage-path", str(store), "create", "-d", "virtualbox",
        "--virtualbox-host-dns-resolver", "--tls-san", "localhost", "--tls-san", "127.0.0.1",
        "new",
    )  # fmt: skip


def creating(store, outcome) -> dict:
    """What a host without a VPN or VirtualBox running answers, and `outcome` for the create."""
    return {
        VERSION: VERSION_OK,
        ROUTE: HEALTHY_ROUTE,
        PS: ok("    1 /sbin/init\n"),
        "sudo -n true": ok(),
        "sudo -n systemctl restart vboxdrv": ok(),
        create_command(store): outcome,
    }


def test_new_machine_restarts_drivers_then_creates_with_loopback_sans(store):
    create = create_command(store)
    c = context(creating(store, ok()))
    s = session_for(c, "new", str(store))
    step(s, machine.STAGE, create=True)
    assert commands(c) == [
        VERSION, ROUTE, PS, "sudo -n true", "sudo -n systemctl restart vboxdrv", create,
    ]  # fmt: skip
    assert set(s.changes()) == {"machine"}


def test_dry_run_create_plans_only(store, capsys):
    c = context({VERSION: VERSION_OK, ROUTE: HEALTHY_ROUTE, PS: ok("")})
    step(session_for(c, "new", str(store), dry_run=True), machine.STAGE, create=True)
    assert commands(c) == [VERSION, ROUTE, PS]
    err = capsys.readouterr().err
    assert "would run: sudo systemctl restart vboxdrv" in err
    assert (
        f"would run: docker-machine --storage-path {store} create -d virtualbox "
        "--virtualbox-host-dns-resolver --tls-san localhost --tls-san 127.0.0.1 new" in err
    )


def test_failed_create_is_one_line(store):
    refusal = fail(
        'Running pre-create checks...\nError with pre-create check: "VBoxManage not found. '
        'Make sure VirtualBox is installed and VBoxManage is in the path"'
    )
    c = context(creating(store, refusal))
    with pytest.raises(HelperError) as caught:
        step(session_for(c, "new", str(store)), machine.STAGE, create=True)
    assert caught.value.message == (
        'docker-vpn-helper: docker-machine create new failed: Error with pre-create check: "VBoxManage not found. '
        'Make sure VirtualBox is installed and VBoxManage is in the path"'
    )


def test_macos_falls_back_to_netstat_when_route_get_is_unreadable(store, monkeypatch):
    from docker_vpn_helper.adapters import preflight

    from ..core.fixtures import load

    monkeypatch.setattr(host, "platform", lambda: "macos")
    c = context({
        cmd("route", "-n", "get", "192.168.99.100"): ok("route: writing to routing socket: ???\n"),
        cmd("netstat", "-rn", "-f", "inet"): ok(load("netstat_new_anyconnect.txt")),
    })  # fmt: skip
    verdict = preflight.judge_route(c, "192.168.99.100", "vboxnet0")
    assert verdict.hijacked and verdict.interface.startswith("utun")


def test_a_machine_of_another_driver_is_refused(store):
    set_driver(store, "amazonec2")
    c = context({})
    with pytest.raises(
        HelperError,
        match="uses docker-machine's 'amazonec2' driver: this tool repairs VirtualBox machines only",
    ):
        step(session_for(c, "default", str(store)), machine.STAGE)
    assert commands(c) == []


# -- a missing machine: created only where the user plainly means it (issue 17, item 2) --------


def test_a_misspelled_machine_is_no_such_machine_before_any_command(store, monkeypatch):
    from ..support import store as dm

    dm.create_machine(store, "lab", "192.168.99.101", 50158)
    monkeypatch.setattr("sys.argv", ["docker-vpn-helper", "fix", "--machine", "lba"])
    c = context({ROUTE: VPN_ROUTE})  # the VPN is up: still the typo is what is reported
    with pytest.raises(HelperError) as caught:
        step(session_for(c, "lba", str(store)), machine.STAGE)
    assert caught.value.message == (
        f"docker-vpn-helper: no machine 'lba' in the store {store} (it has: default, lab); "
        f"did you mean 'lab'? To create 'lba': docker-vpn-helper fix --machine lba "
        f"--storage-path {store} --create"
    )
    assert commands(c) == []  # no VBoxManage, no route, no sudo


def test_the_stores_first_machine_is_created_without_create(tmp_path):
    from ..support import store as dm

    empty = tmp_path / "store"
    dm.create_certs(empty)
    (empty / "machines").mkdir()
    c = context(creating(empty, ok()))
    s = session_for(c, "new", str(empty))
    plan = step(s, machine.STAGE)
    assert plan.action == "create" and commands(c)[-1] == create_command(empty)


def test_docker_machines_default_store_may_not_exist_yet(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("MACHINE_STORAGE_PATH", raising=False)
    c = context({VERSION: VERSION_OK, ROUTE: HEALTHY_ROUTE, PS: ok("")})
    plan = step(session_for(c, "default", dry_run=True), machine.STAGE)
    assert plan.action == "create"


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_a_wrong_store_path_is_an_error_not_a_place_to_create(tmp_path, monkeypatch, how):
    nope = tmp_path / "nope"
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("MACHINE_STORAGE_PATH", raising=False)
    if how == "environment":
        monkeypatch.setenv("MACHINE_STORAGE_PATH", str(nope))
    c = context({})
    with pytest.raises(HelperError) as caught:
        step(session_for(c, "default", str(nope) if how == "flag" else None), machine.STAGE)
    assert caught.value.message.startswith(
        f"docker-vpn-helper: {nope} is not a docker-machine store (it does not exist): check "
        "--storage-path and MACHINE_STORAGE_PATH; to start a new store there: "
        f"docker-vpn-helper fix --machine default --storage-path {nope} --create"
    )
    assert commands(c) == []


def test_create_creates_a_machine_beside_others(store):
    c = context(creating(store, ok()))
    plan = step(session_for(c, "new", str(store)), machine.STAGE, create=True)
    assert plan.action == "create" and commands(c)[-1] == create_command(store)


def test_no_vboxmanage_is_said_before_the_vpn_the_drivers_or_sudo(store):
    c = context({VERSION: fail("/bin/sh: 1: VBoxManage: not found", 127)})
    with pytest.raises(HelperError) as caught:
        step(session_for(c, "new", str(store)), machine.STAGE, create=True)
    assert caught.value.reason.startswith(
        "VirtualBox is not installed here: there is no VBoxManage on PATH"
    )
    assert commands(c) == [VERSION]


def test_only_fix_create_or_machine_create_by_name_create(store, monkeypatch):
    """The prerequisites of fix and of every stage get --create only from their caller;
    machine.create called by name means it."""
    from docker_vpn_helper.program import program
    from docker_vpn_helper.stages import Stage

    asked = []

    def plan(s, create=False):
        asked.append(create)
        raise HelperError("stop here")

    monkeypatch.setattr(machine, "STAGE", Stage("machine.create", "Checking", plan, None))
    for argv, expected in (
        (["fix"], False),
        (["fix", "--create"], True),
        (["nat.forward"], False),
        (["machine.create"], True),
        (["machine.create", "--no-create"], False),
    ):
        with pytest.raises(SystemExit):
            program.run(["docker-vpn-helper", *argv, "--storage-path", str(store)])
        assert asked.pop() is expected, argv


# --- VirtualBox 6.1.28+: host-only ranges (networks.conf) -------------------------------------


@pytest.mark.parametrize(
    "conf, version, why",
    [
        (None, "6.1.50r161033", "does not exist"),
        ("192.168.99.0/8\n", "7.0.14r161095", "line '192.168.99.0/8' is malformed"),
        ("* 192.168.56.0/21\n", "6.1.28r147628", "lists no range holding it"),
    ],
)
def test_a_host_only_range_virtualbox_refuses_stops_create_before_anything_runs(
    store, networks_conf, conf, version, why
):
    """docker-machine create would fail late (E_ACCESSDENIED on `hostonlyif ipconfig`, after
    the ISO's download and the VM's creation) and leave a half-made machine."""
    if conf is None:
        networks_conf.unlink()
    else:
        networks_conf.write_text(conf)
    c = context({VERSION: ok(version + "\n")})
    with pytest.raises(HelperError) as caught:
        step(session_for(c, "new", str(store)), machine.STAGE, create=True)
    assert commands(c) == [VERSION]  # no route probe, no drivers, no sudo, no create
    line = caught.value.message
    assert "\n" not in line and why in line
    assert f"echo '* 192.168.99.0/24' | sudo tee -a {networks_conf}" in line
    assert "--virtualbox-hostonly-cidr 192.168.56.1/24" in line


def test_before_6_1_28_any_host_only_range_is_created(store, networks_conf):
    networks_conf.unlink()
    c = context({**creating(store, ok()), VERSION: ok("6.1.26r145957\n")})
    step(session_for(c, "new", str(store)), machine.STAGE, create=True)
    assert commands(c)[-1] == create_command(store)
