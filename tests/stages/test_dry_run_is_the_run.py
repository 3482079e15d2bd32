"""What `fix --dry-run` prints is what `fix` runs: every host command a real run executes
(VBoxManage's changes, docker-machine, sudo) is, in order, one the dry run printed as
`would run: <line>`, and no other.

Simulated: VirtualBox, docker-machine and sudo are one recording stand-in (standins.FakeHost,
whose VM the change commands really change), the guest and the daemon are FakeGuest and
FakeDaemon. The store is a real docker-machine store.
"""

from __future__ import annotations

import json
import shlex

import pytest

from docker_vpn_helper import forwarding
from docker_vpn_helper.adapters.docker_machine import create_args
from docker_vpn_helper.stages import cert, daemon, dns, hostnames, machine, nat, ports, step

from ..support.runs import close_all, session_for
from .standins import SSH_RULE, FakeHost, ok, write_settings

OURS = "dvh-tcp-8080,tcp,127.0.0.1,8080,,8080"  # a container's rule of ours, from an earlier sync
READS = ("showvminfo", "list", "--version")  # what VBoxManage answers without changing anything
OTHER_READS = (
    "ps",
    "route",
    "netstat",
    "ip",
    "sh",
)  # sh: scutil, AnyConnect's state (macOS)  # the host's own reads (VirtualBox's processes, ...)
FIX = (machine.STAGE, nat.STAGE, cert.ISSUE, cert.DEPLOY, daemon.STAGE, ports.STAGE, dns.STAGE,
       hostnames.STAGE)  # fmt: skip


def host_changes(host: FakeHost) -> list[list[str]]:
    """The commands that changed something, as argv (`sudo -n X` as `sudo X`, what the dry run
    prints); a command that is neither a known read nor a change fails the test."""
    changed = []
    for argv in host.argvs:
        if (argv[0] == host.vboxmanage and argv[1] in READS) or argv == ["sudo", "-n", "true"]:
            continue
        if argv[:2] == ["sudo", "-n"]:
            changed.append(["sudo", *argv[2:]])
        elif argv[0] in (host.vboxmanage, host.docker_machine):
            changed.append(argv)
        else:
            assert argv[0] in OTHER_READS, f"unexpected command {shlex.join(argv)}"
    return changed


def printed(err: str) -> list[list[str]]:
    """The host commands a dry run printed (`would run: LINE  # why`), as argv."""
    lines = [line.strip() for line in err.splitlines()]
    runs = [line[len("would run: ") :] for line in lines if line.startswith("would run: ")]
    return [shlex.split(line, comments=True) for line in runs]


def fix(c, store, flag: bool, dry_run: bool, name: str = "default"):
    s = session_for(c, name, str(store) if flag else None, dry_run=dry_run)
    for stage in FIX:
        step(s, stage, **({"create": True} if stage is machine.STAGE else {}))
    close_all()
    return s


def machine_stopped_with_leftovers(store) -> dict:
    """A stopped VM holding a container rule of ours, whose config.json asks for the host DNS
    resolver that VirtualBox does not have yet."""
    config = store / "machines" / "default" / "config.json"
    data = json.loads(config.read_text())
    data["Driver"]["HostDNSResolver"] = True
    config.write_text(json.dumps(data))
    return {"state": "poweroff", "rules": [SSH_RULE, OURS], "cfg": write_settings(store)}


SCENARIOS = {
    "broken running VM": lambda store: {"state": "running", "rules": [SSH_RULE]},
    "stopped VM": machine_stopped_with_leftovers,
}
BINARIES = {
    "on PATH": {},
    "configured": {"vboxmanage": "/opt/VirtualBox/VBoxManage", "docker_machine": "/opt/dm/dm"},
}


@pytest.mark.parametrize("flag", [True, False], ids=["--storage-path", "MACHINE_STORAGE_PATH"])
@pytest.mark.parametrize("binaries", BINARIES.values(), ids=BINARIES.keys())
@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_a_run_executes_exactly_the_host_commands_its_dry_run_printed(
    store, guest, dockerd, monkeypatch, capsys, scenario, binaries, flag
):
    monkeypatch.setattr(forwarding, "port_listener", lambda port: False)
    if not flag:
        monkeypatch.setenv("MACHINE_STORAGE_PATH", str(store))
    vm = scenario(store)
    names = {key: value for key, value in binaries.items()}
    dry = FakeHost(
        names.get("vboxmanage", "VBoxManage"), names.get("docker_machine", "docker-machine"), **vm
    )
    fix(dry.context(**binaries), store, flag, dry_run=True)
    planned = printed(capsys.readouterr().err)
    assert host_changes(dry) == []  # the dry run changed nothing

    real = FakeHost(dry.vboxmanage, dry.docker_machine, **{**vm, "rules": list(vm["rules"])})
    s = fix(real.context(**binaries), store, flag, dry_run=False)

    assert planned, "the scenario has host commands to run"
    assert host_changes(real) == planned
    assert all(argv[:3] == [dry.docker_machine, "--storage-path", str(store)]
               for argv in planned if argv[0] == dry.docker_machine)  # fmt: skip
    assert "daemon" in s.changes() and guest.restarts == 1


@pytest.mark.parametrize("configured", ["", "/opt/vbox/vboxdrv.sh restart"])
def test_the_drivers_restart_runs_as_root_exactly_as_printed(
    store, monkeypatch, capsys, configured
):
    from docker_vpn_helper.adapters import host
    from docker_vpn_helper.stages import kexts

    monkeypatch.setattr(host, "platform", lambda: "linux")
    settings = {"kext_command": configured} if configured else {}
    dry = FakeHost()
    step(session_for(dry.context(**settings), "default", str(store), dry_run=True), kexts.STAGE)
    planned = printed(capsys.readouterr().err)
    real = FakeHost()
    step(session_for(real.context(**settings), "default", str(store)), kexts.STAGE)
    close_all()
    assert host_changes(dry) == [] and host_changes(real) == planned
    assert planned == [["sudo", *(configured or "systemctl restart vboxdrv").split()]]


def test_a_machine_created_runs_exactly_what_its_dry_run_printed(
    store, guest, dockerd, monkeypatch, capsys
):
    """machine.create with --create: the drivers' restart as root, docker-machine create on the
    run's store, then the forward; what create itself deploys is not redone."""
    from docker_vpn_helper.adapters import host

    from ..support import store as dm

    monkeypatch.setattr(forwarding, "port_listener", lambda port: False)
    monkeypatch.setattr(host, "platform", lambda: "linux")
    route = shlex.join(["ip", "route", "get", "192.168.99.100"])
    vboxnet = ok("192.168.99.100 dev vboxnet0 src 192.168.99.1 uid 501 \n    cache \n")

    def stand_in() -> FakeHost:
        made = lambda: dm.create_machine(store, "new", "192.168.99.101", 50158)  # noqa: E731
        return FakeHost(state=None, name="new", answers={route: vboxnet}, create=made)

    dry = stand_in()
    fix(dry.context(), store, True, dry_run=True, name="new")
    planned = printed(capsys.readouterr().err)
    assert host_changes(dry) == []
    real = stand_in()
    fix(real.context(), store, True, dry_run=False, name="new")
    assert (
        "restarted VirtualBox's drivers (sudo systemctl restart vboxdrv)" in capsys.readouterr().err
    )
    assert planned[:2] == [
        ["sudo", "systemctl", "restart", "vboxdrv"],
        [
            "docker-machine",
            "--storage-path",
            str(store),
            *create_args("new", ("localhost", "127.0.0.1")),
        ],
    ]
    assert host_changes(real) == planned
