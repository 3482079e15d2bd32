"""The console command as a shell user meets it."""

import os
import subprocess
import sys

import pytest

from docker_vpn_helper import cli
from docker_vpn_helper.tasks import namespace


@pytest.mark.parametrize("buffered", [True, False])
def test_a_closed_stdout_is_no_traceback(buffered):
    # Buffered (no PYTHONUNBUFFERED, as under sudo), the output used to be flushed only at exit:
    # "Exception ignored ... BrokenPipeError" and exit status 120.
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `docker-vpn-helper --help | head -0`
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    done = subprocess.run(
        [sys.executable, "-m", "docker_vpn_helper", "--help"],
        stdout=write_end,
        stderr=subprocess.PIPE,
        env=env if buffered else {**env, "PYTHONUNBUFFERED": "1"},
        text=True,
        timeout=60,
    )
    os.close(write_end)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr


def test_version():
    done = subprocess.run(
        [sys.executable, "-m", "docker_vpn_helper", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == "docker-vpn-helper 0.1.0"


def test_the_command_leaves_its_objects_to_the_os_at_exit():
    # An exit hook registered before main() runs after main's own hooks: by then every object
    # must be frozen, so CPython's final collections skip them.
    code = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count()))\n"
        "sys.argv = ['docker-vpn-helper', '--version']\n"
        "from docker_vpn_helper.cli import main\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    frozen = int(done.stdout.rsplit("frozen at exit:", 1)[1])
    assert frozen > 1000


@pytest.mark.parametrize("task", sorted(cli.TASK_FLAGS))
def test_the_quick_flags_are_the_tasks_flags(task):
    arguments = namespace[task].get_arguments()
    assert {arg.name: arg.kind for arg in arguments} == cli.TASK_FLAGS[task]


def test_env_print_flags_are_read_as_invoke_reads_them():
    argv = ["env.print", "--machine", "dev", "--storage-path=/s", "--port", "2380", "--unset"]
    assert cli.quick_flags(argv, "env.print") == {
        "machine": "dev",
        "storage_path": "/s",
        "port": 2380,
        "unset": True,
    }
    for other in (["--machine", "a", "--machine", "b"], ["--help"], ["-m", "a"], ["--unset=1"]):
        assert cli.quick_flags(["env.print", *other], "env.print") is None


def command(*argv: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "docker_vpn_helper", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


def test_help_task_is_help_for_the_task():
    asked = command("help", "fix")
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout == command("--help", "fix").stdout
    assert asked.stdout.startswith("Usage: docker-vpn-helper [--core-opts] fix")
    assert command("help").stdout == command("--help").stdout


def test_quiet_prints_nothing_on_stderr_unless_it_fails(tmp_path, monkeypatch):
    from .stages.standins import showvminfo
    from .stages.test_faults import fake_vboxmanage
    from .support import store as dm

    store = tmp_path / "store"
    dm.create_certs(store)
    dm.create_machine(store, "default", "192.168.99.100", 50157)
    vbox = fake_vboxmanage(tmp_path / "bin", showvminfo())
    monkeypatch.setenv("INVOKE_VPNHELPER_VBOXMANAGE", str(vbox))
    # A dry-run cert.issue talks (banners, plans) and succeeds with VirtualBox stood in.
    loud = command("cert.issue", "--storage-path", str(store), "--dry-run")
    assert loud.returncode == 0 and "=====[default] Issuing the daemon certificate" in loud.stderr
    for argv in (
        ["--quiet", "cert.issue", "--storage-path", str(store), "--dry-run"],
        ["cert.issue", "--storage-path", str(store), "--dry-run", "--quiet"],
    ):
        quiet = command(*argv)
        assert quiet.returncode == 0 and quiet.stderr == "", argv
    failed = command("restore", "--storage-path", str(store), "--quiet")
    assert failed.returncode == 1
    assert failed.stderr.startswith("docker-vpn-helper: no backups for 'default'")
    assert "--quiet" in command("--help").stdout
