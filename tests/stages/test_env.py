"""env.print: the command's quick path (cli.py) gives the task's answer, without invoke."""

import os
import subprocess
import sys

import pytest

from docker_vpn_helper import cli
from docker_vpn_helper.core.envfmt import FORMATS
from docker_vpn_helper.program import program

STORE = "{store}"  # replaced by the test's store


def both_ways(argv, capsys):
    """env.print's output through the quick path and through invoke's Program."""
    quick = cli.quick_env_print(argv)
    quick_out = capsys.readouterr().out
    program.run(["docker-vpn-helper", *argv], exit=False)
    return quick, quick_out, capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["--machine", "default", "--storage-path", STORE],
        ["--machine=default", f"--storage-path={STORE}", "--shell=fish"],
        *[["--storage-path", STORE, "--shell", fmt] for fmt in FORMATS],
        ["--storage-path", STORE, "--shell", "bash", "--unset"],
        ["--unset", "--storage-path", STORE, "--port", "2400", "--shell", "tcsh"],
        ["--storage-path", STORE, "--port", "0"],
        ["--storage-path", STORE, "--transport", "ssh", "--shell", "zsh"],
        [],  # machine and store from the defaults: MACHINE_STORAGE_PATH, $SHELL
    ],
)
def test_the_quick_path_answers_as_the_task_does(argv, store, capsys, monkeypatch):
    argv = ["env.print", *(word.replace(STORE, str(store)) for word in argv)]
    monkeypatch.setattr("sys.argv", ["docker-vpn-helper", *argv])
    monkeypatch.setenv("MACHINE_STORAGE_PATH", str(store))
    monkeypatch.setenv("SHELL", "/usr/bin/zsh")
    quick, quick_out, task_out = both_ways(argv, capsys)
    assert quick is True
    assert quick_out == task_out and "DOCKER_" in quick_out


def test_the_quick_path_uses_the_remembered_port(store, capsys, monkeypatch):
    (store / "machines/default/docker-vpn-helper.json").write_text('{"host_port": 2378}')
    argv = ["env.print", "--storage-path", str(store), "--shell", "bash"]
    quick, quick_out, task_out = both_ways(argv, capsys)
    assert quick and quick_out == task_out and "tcp://localhost:2378" in quick_out


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["fix"],
        ["--echo", "env.print"],
        ["env.print", "--help"],
        ["env.print", "--machine"],
        ["env.print", "--machine", "a", "--machine", "b"],
        ["env.print", "--machine", "--unset"],
        ["env.print", "--machine="],
        ["env.print", "--storage_path", "/tmp"],
        ["env.print", "--port", "x"],
        ["env.print", "--port", "\u00b2"],  # a digit to str.isdigit, not to int()
        ["env.print", "--port", "-1"],
        ["env.print", "--unset=yes"],
        ["env.print", "-m", "default"],
        ["env.print", "--bogus"],
        ["env.print", "extra"],
    ],
)
def test_the_quick_path_leaves_other_command_lines_to_invoke(argv):
    assert cli.quick_flags(argv, "env.print") is None


def test_the_quick_path_steps_aside_for_invoke_configuration(store, capsys, monkeypatch):
    argv = ["env.print", "--storage-path", str(store)]
    assert cli.quick_env_print(argv, environ={"INVOKE_VPNHELPER_HOST_PORT": "2399"}) is False
    (store.parent / ".invoke.yaml").write_text("vpnhelper:\n  host_port: 2399\n")
    monkeypatch.setenv("HOME", str(store.parent))
    assert cli.quick_env_print(argv) is False
    assert capsys.readouterr().out == ""
    program.run(["docker-vpn-helper", *argv, "--shell", "bash"], exit=False)
    assert "tcp://localhost:2399" in capsys.readouterr().out  # what invoke makes of that file


def test_errors_are_left_to_invoke(store, capsys):
    for argv in (
        ["env.print", "--storage-path", str(store), "--machine", "prod"],
        ["env.print", "--storage-path", str(store), "--shell", "nushell"],
        ["env.print", "--storage-path", str(store), "--transport", "carrier-pigeon"],
    ):
        assert cli.quick_env_print(argv) is False
    assert capsys.readouterr() == ("", "")


def test_the_command_answers_env_print_without_loading_invoke(store):
    env = {**os.environ, "MACHINE_STORAGE_PATH": str(store), "HOME": str(store.parent)}
    env = {k: v for k, v in env.items() if not k.startswith("INVOKE_")}
    argv = [sys.executable, "-X", "importtime", "-m", "docker_vpn_helper", "env.print"]

    def loaded(*args):
        done = subprocess.run([*argv, *args], capture_output=True, text=True, timeout=60, env=env)
        assert done.returncode == 0, done.stderr
        return {line.split("|")[-1].strip() for line in done.stderr.splitlines()}, done.stdout

    modules, out = loaded("--shell", "bash")
    heavy = {"invoke", "paramiko", "cryptography", "docker", "requests"}
    assert not heavy & modules, heavy & modules
    assert 'export DOCKER_HOST="tcp://localhost:2376"' in out
    modules, out = loaded("--help")  # anything else: invoke, as before
    assert "invoke" in modules and "--transport" in out
