"""`--minikube [--profile NAME]` (issue 24): minikube's home as the store, the profile as the
machine; env.print prints `minikube docker-env`'s variables for the forward; a profile that is
not minikube's VirtualBox VM is one line."""

import json
from pathlib import Path

import pytest

from docker_vpn_helper import cli
from docker_vpn_helper.errors import HelperError
from docker_vpn_helper.program import program
from docker_vpn_helper.settings import minikube_flags, resolve
from tests.support.minikube import Node, minikube_world


@pytest.mark.parametrize(
    "flags, environ, expected",
    [
        ({"minikube": True}, {}, ("/u/.minikube", "minikube")),
        ({"minikube": True, "profile": "dev"}, {}, ("/u/.minikube", "dev")),
        ({"minikube": True}, {"MINIKUBE_HOME": "/data"}, ("/data/.minikube", "minikube")),
        ({"minikube": True}, {"MINIKUBE_HOME": "/d/.minikube"}, ("/d/.minikube", "minikube")),
        ({"machine": "dev"}, {}, (None, "dev")),  # without --minikube: untouched
    ],
)
def test_minikube_names_the_store_and_the_machine(flags, environ, expected):
    chosen = minikube_flags({**flags, "port": 0}, {"HOME": "/u", **environ})
    assert (chosen.get("storage_path"), chosen.get("machine")) == expected
    assert "minikube" not in chosen and "profile" not in chosen and chosen["port"] == 0


@pytest.mark.parametrize(
    "flags, message",
    [
        ({"minikube": True, "machine": "x"}, "drop --machine"),
        ({"minikube": True, "storage_path": "/s", "all_": True}, "drop --storage-path, --all"),
        ({"profile": "dev"}, "give --minikube with it"),
        ({"minikube": True, "profile": "a b"}, "invalid minikube profile"),
    ],
)
def test_minikube_flags_that_contradict_are_one_line(flags, message):
    with pytest.raises(HelperError, match=message):
        minikube_flags(flags, {"HOME": "/u"})


def test_settings_know_a_minikube_home_by_its_name(tmp_path):
    assert resolve({}, storage_path=str(tmp_path / ".minikube")).minikube
    assert not resolve({}, storage_path=str(tmp_path / "machine")).minikube


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("user")
    home, _ = minikube_world(root, Node(), Node("dev", "192.168.59.101", 50159))
    docker = home / "machines" / "docker-one"
    docker.mkdir()
    config = json.loads((home / "machines/minikube/config.json").read_text())
    (docker / "config.json").write_text(json.dumps({**config, "DriverName": "docker"}))
    return root


def run(argv, capsys, monkeypatch, root: Path):
    """The command both ways (the quick path, then invoke's Program): (code, stdout, stderr)."""
    monkeypatch.setenv("HOME", str(root))
    monkeypatch.setenv("SHELL", "/bin/bash")
    quick = cli.quick_env_print(argv)
    quick_out = capsys.readouterr().out
    try:
        program.run(["docker-vpn-helper", *argv], exit=True)
        code = 0
    except SystemExit as done:
        code = done.code or 0
    out, err = capsys.readouterr()
    return quick, quick_out, code, out, err


def test_env_print_minikube_prints_docker_env_for_the_forward(world, capsys, monkeypatch):
    argv = ["env.print", "--minikube", "--profile", "dev", "--port", "2400"]
    quick, quick_out, code, out, _ = run(argv, capsys, monkeypatch, world)
    assert quick and code == 0 and quick_out == out
    assert 'export DOCKER_HOST="tcp://localhost:2400"' in out
    assert f'export DOCKER_CERT_PATH="{world}/.minikube/certs"' in out
    assert 'export MINIKUBE_ACTIVE_DOCKERD="dev"' in out
    assert "DOCKER_MACHINE_NAME" not in out
    assert "env.print --minikube --profile dev --port 2400" in out  # the eval hint


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--profile", "docker-one"], "uses the docker driver: docker-vpn-helper repairs"),
        (["--profile", "staging"], "no minikube profile 'staging' with a machine in"),
        (["--machine", "dev"], "--minikube names the store"),
    ],
)
def test_a_profile_that_is_not_a_virtualbox_vm_is_one_line(
    world, capsys, monkeypatch, argv, message
):
    for task in ("env.print", "fix"):
        _, _, code, out, err = run([task, "--minikube", *argv], capsys, monkeypatch, world)
        assert code == 1, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], err
        assert out in ("", "false\n")  # a failing eval
