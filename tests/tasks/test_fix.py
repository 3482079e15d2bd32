"""The task tree as users call it: the stages' order, the shared flags, stdout vs stderr."""

import pytest

from docker_vpn_helper import cli
from docker_vpn_helper.adapters import vboxmanage
from docker_vpn_helper.program import program

from .standins import record_loopback_sans, set_driver


@pytest.fixture
def ran(monkeypatch):
    """Replace every stage's work with a recorder of (stage, machine, dry_run)."""
    calls = []

    def recorder(stage):
        def record(s, **kwargs):
            calls.append((stage, s.name, s.dry_run))

        return record

    monkeypatch.setattr(
        "docker_vpn_helper.stages.machine.ensure_machine", recorder("machine.create")
    )
    monkeypatch.setattr("docker_vpn_helper.stages.nat.ensure_forward", recorder("nat.forward"))
    monkeypatch.setattr("docker_vpn_helper.stages.cert.issue_certificate", recorder("cert.issue"))
    monkeypatch.setattr("docker_vpn_helper.stages.cert.deploy_certificate", recorder("cert.deploy"))
    monkeypatch.setattr(
        "docker_vpn_helper.stages.daemon.restart_daemon", recorder("daemon.restart")
    )
    return calls


def run(*argv, exit=False):
    program.run(["docker-vpn-helper", *argv], exit=exit)


def test_fix_runs_every_stage_in_order_for_the_given_machine(ran, store, capsys):
    run("fix", "--machine", "default", "--storage-path", str(store), "--shell", "bash")
    assert ran == [
        ("machine.create", "default", False),
        ("nat.forward", "default", False),
        ("cert.issue", "default", False),
        ("cert.deploy", "default", False),
        ("daemon.restart", "default", False),
    ]
    out, err = capsys.readouterr()
    assert out.splitlines()[:4] == [
        'export DOCKER_TLS_VERIFY="1"',
        'export DOCKER_HOST="tcp://localhost:2376"',
        f'export DOCKER_CERT_PATH="{store}/machines/default"',
        'export DOCKER_MACHINE_NAME="default"',
    ]
    banners = [line for line in err.splitlines() if line.startswith("=====")]
    assert banners == [
        "=====[default] Checking the VM=====",
        "=====[default] Forwarding 127.0.0.1:2376 to the daemon=====",
        "=====[default] Issuing the daemon certificate=====",
        "=====[default] Deploying the certificate to the VM=====",
        "=====[default] Restarting the Docker daemon=====",
        "=====[default] Done (already fixed: nothing changed); the environment to export follows on stdout=====",
    ]


def add_machine(store, name):
    folder = store / "machines" / name
    folder.mkdir()
    config = (store / "machines/default/config.json").read_text()
    (folder / "config.json").write_text(config.replace("machines/default", f"machines/{name}"))


def test_several_machines_each_get_every_stage_in_turn(ran, store, capsys):
    add_machine(store, "dev")
    run("fix", "--machine", "default", "--machine", "dev", "--storage-path", str(store))
    stages = ["machine.create", "nat.forward", "cert.issue", "cert.deploy", "daemon.restart"]
    assert ran == [(st, "default", False) for st in stages] + [(st, "dev", False) for st in stages]
    exports = [ln for ln in capsys.readouterr().out.splitlines() if "DOCKER_MACHINE_NAME" in ln]
    assert len(exports) == 2 and exports[-1].endswith('"dev"')


def test_all_means_every_machine_of_the_store(ran, store):
    add_machine(store, "dev")
    run("fix", "--all", "--storage-path", str(store), "--dry-run")
    assert sorted({(machine, dry) for _, machine, dry in ran}) == [("default", True), ("dev", True)]
    assert len(ran) == 10


def test_a_single_stage_brings_its_prerequisites_for_the_same_machine(ran, store):
    run("cert.deploy", "--machine", "default", "--storage-path", str(store), "--dry-run")
    assert ran == [
        ("machine.create", "default", True),
        ("cert.issue", "default", True),
        ("cert.deploy", "default", True),
    ]


def test_daemon_restart_alone_runs_the_pipeline_in_fix_order(ran, store):
    run("daemon.restart", "--machine", "default", "--storage-path", str(store))
    assert [stage for stage, _, _ in ran] == [
        "machine.create",
        "nat.forward",
        "cert.issue",
        "cert.deploy",
        "daemon.restart",
    ]


@pytest.mark.parametrize(
    "argv, follows",
    [
        (["fix"], True),
        (["cert.issue"], True),
        (["daemon.restart"], True),
        (["nat.forward"], False),
        (["machine.create"], False),
    ],
)
def test_machine_create_knows_whether_a_certificate_follows(ran, store, monkeypatch, argv, follows):
    told = []
    monkeypatch.setattr(
        "docker_vpn_helper.stages.machine.ensure_machine",
        lambda s, certificate_follows: told.append(certificate_follows),
    )
    run(*argv, "--machine", "default", "--storage-path", str(store))
    assert told == [follows]


def test_env_print_prints_only_the_environment(store, capsys, monkeypatch):
    monkeypatch.setenv("SHELL", "/usr/bin/fish")
    run("env.print", "--machine", "default", "--storage-path", str(store), "--port", "2377")
    out, err = capsys.readouterr()
    assert err == ""
    assert out.splitlines()[1] == 'set -gx DOCKER_HOST "tcp://localhost:2377";'
    assert "env.print --machine default --port 2377 --storage-path" in out


def test_env_print_uses_the_port_the_machine_was_given(store, capsys):
    (store / "machines/default/docker-vpn-helper.json").write_text('{"host_port": 2378}')
    run("env.print", "--machine", "default", "--storage-path", str(store), "--shell", "bash")
    out = capsys.readouterr().out
    assert out.splitlines()[1] == 'export DOCKER_HOST="tcp://localhost:2378"'
    assert "--port" not in out  # the eval hint needs no --port: the machine remembers it


def test_env_print_unset(store, capsys):
    run(
        "env.print",
        "--machine",
        "default",
        "--storage-path",
        str(store),
        "--shell",
        "bash",
        "--unset",
    )
    assert capsys.readouterr().out.splitlines()[0] == "unset DOCKER_TLS_VERIFY"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["env.print", "--machine", "a;b"], "invalid machine name 'a;b'"),
        (["env.print", "--machine", "prod"], 'machine "prod" does not exist in'),
        (
            ["env.print", "--machine", "default", "--shell", "nushell"],
            "unknown shell format 'nushell'",
        ),
        (["fix", "--machine", "$(reboot)"], "invalid machine name '$(reboot)'"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_1(store, capsys, argv, message):
    with pytest.raises(SystemExit) as caught:
        run(*argv, "--storage-path", str(store), exit=True)
    out, err = capsys.readouterr()
    assert caught.value.code == 1
    assert out == ""
    assert err.startswith(f"docker-vpn-helper: {message}") and err.count("\n") == 1


@pytest.fixture
def asked(monkeypatch):
    """What the command asks VirtualBox before invoke loads (nothing is started)."""
    started = []
    monkeypatch.setattr(vboxmanage, "start_early", started.append)
    return started


def test_fix_asks_virtualbox_early_about_a_machine_it_never_fixed(store, asked):
    cli.ask_virtualbox_early(["fix", "--storage-path", str(store), "--shell", "bash"])
    assert asked == [["VBoxManage", "showvminfo", "default", "--machinereadable"]]


@pytest.mark.parametrize(
    "argv",
    [
        ["fix", "--machine", "new"],  # to be created: VirtualBox must not be started first
        ["fix", "--machine", "a;b"],
        ["fix", "--all"],
        ["fix", "--machine", "default", "--machine", "dev"],
        ["fix", "--help"],
        ["nat.forward"],
        ["env.print"],
    ],
)
def test_other_command_lines_ask_virtualbox_nothing_early(argv, store, asked, monkeypatch):
    monkeypatch.setenv("MACHINE_STORAGE_PATH", str(store))
    cli.ask_virtualbox_early(argv)
    assert asked == []


def test_invoke_configuration_or_another_driver_asks_nothing_early(store, asked):
    argv = ["fix", "--storage-path", str(store)]
    cli.ask_virtualbox_early(argv, environ={"INVOKE_VPNHELPER_VBOXMANAGE": "/opt/vbox"})
    set_driver(store, "hyperv")
    cli.ask_virtualbox_early(argv)
    assert asked == []


def test_a_machine_fixed_before_is_not_asked_about_early(store, asked):
    # Likely healthy: its SSH connection opens best while the stage waits for VirtualBox.
    record_loopback_sans(store)
    cli.ask_virtualbox_early(["fix", "--storage-path", str(store)])
    assert asked == []
