"""The task tree as users call it: the stages' order, the shared flags, stdout vs stderr."""

import pytest

from docker_vpn_helper.program import program


@pytest.fixture
def ran(monkeypatch):
    """Replace every stage's work with a recorder of (stage, machine, dry_run)."""
    from docker_vpn_helper.core.plans.base import Plan
    from docker_vpn_helper.stages import (
        Stage,
        cert,
        corp,
        daemon,
        dns,
        hostnames,
        machine,
        nat,
        ports,
    )

    calls = []

    class Recorded(Plan):
        """A plan with nothing to do, on the machine's port."""

        changes = ()

        def __init__(self, port):
            self.port = port

        def seen(self):
            return "recorded"

        def actions(self):
            return []

    def recorder(stage):
        def plan(s, **options):
            calls.append((stage.name, s.name, s.dry_run))
            return Recorded(s.settings.host_port)

        return Stage(stage.name, stage.title, plan, apply=None)

    for module, attribute in (
        (machine, "STAGE"),
        (nat, "STAGE"),
        (cert, "ISSUE"),
        (cert, "DEPLOY"),
        (daemon, "STAGE"),
        (corp, "STAGE"),
        (ports, "STAGE"),
        (dns, "STAGE"),
        (hostnames, "STAGE"),
    ):
        monkeypatch.setattr(module, attribute, recorder(getattr(module, attribute)))
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
        ("corp.sync", "default", False),
        ("ports.sync", "default", False),
        ("dns.host-resolver", "default", False),
        ("dns.host-names", "default", False),
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
        "=====[default] Giving the VM the host's trusted roots and proxy=====",
        "=====[default] Forwarding the containers' published ports=====",
        "=====[default] Resolving names with the host's resolver=====",
        "=====[default] Naming the Mac host.docker.internal in containers=====",
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
    stages = [
        "machine.create",
        "nat.forward",
        "cert.issue",
        "cert.deploy",
        "daemon.restart",
        "corp.sync",
        "ports.sync",
        "dns.host-resolver",
        "dns.host-names",
    ]
    assert ran == [(st, "default", False) for st in stages] + [(st, "dev", False) for st in stages]
    out, err = capsys.readouterr()
    # One eval sets one machine: the first named; stderr says how to get the other's.
    assert [ln for ln in out.splitlines() if "DOCKER_MACHINE_NAME" in ln] == [
        'export DOCKER_MACHINE_NAME="default"'
    ]
    other = f"docker-vpn-helper env.print --machine dev --storage-path {store}"
    assert "prints the environment of 'default' only" in err and other in err
    assert (
        f"=====[dev] Done (already fixed: nothing changed); its environment, not printed: {other}"
        in err
    )


def test_all_means_every_machine_of_the_store(ran, store):
    add_machine(store, "dev")
    run("fix", "--all", "--storage-path", str(store), "--dry-run")
    assert sorted({(machine, dry) for _, machine, dry in ran}) == [("default", True), ("dev", True)]
    assert len(ran) == 18


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
        (["env.print", "--machine", "prod"], "no machine 'prod' in the store"),
        (
            ["env.print", "--machine", "default", "--shell", "nushell"],
            "--shell 'nushell' is not a format",
        ),
        (["fix", "--machine", "$(reboot)"], "invalid machine name '$(reboot)'"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_1(store, capsys, argv, message):
    with pytest.raises(SystemExit) as caught:
        run(*argv, "--storage-path", str(store), exit=True)
    out, err = capsys.readouterr()
    assert caught.value.code == 1
    assert out == "false\n"  # so that `eval "$(...)"` fails too
    assert err.startswith(f"docker-vpn-helper: {message}") and err.count("\n") == 1
