"""Shared helpers for the lab tests."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from lab import Lab
from lab.paths import HOST_NS, netns_path


def docker_env(lab: Lab, host: str, machine: str = "lab") -> dict[str, str]:
    env = lab.host_env()
    env.update(
        DOCKER_HOST=host,
        DOCKER_TLS_VERIFY="1",
        DOCKER_CERT_PATH=str(lab.paths.machine_dir(machine)),
    )
    return env


def ssh_argv(lab: Lab, machine: str, *options: str) -> list[str]:
    """The system ssh the way `docker-machine ssh` runs it, plus `options`."""
    mdir = Path(lab.paths.machine_dir(machine))
    port = lab.status()["machines"][machine]["ssh_port"]
    return [
        "ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR",
        *options, "-i", str(mdir / "id_rsa"), "-p", str(port), "docker@127.0.0.1",
    ]  # fmt: skip


TOOL = [sys.executable, "-m", "docker_vpn_helper"]
DOCKER_VERSION = ["timeout", "20", "docker", "version", "--format", "{{.Server.Version}}"]


def tool(lab: Lab, *argv: str, env: dict | None = None, timeout: float = 120):
    return lab.run_on_host([*TOOL, *argv], env=env or lab.host_env(), timeout=timeout)


def docker(lab: Lab, machine: str, host: str = "tcp://localhost:2376", argv=DOCKER_VERSION):
    return lab.run_on_host(list(argv), env=docker_env(lab, host, machine), timeout=30)


def rules(lab: Lab, machine: str) -> list[str]:
    info = lab.run_on_host(["VBoxManage", "showvminfo", machine, "--machinereadable"]).stdout
    return sorted(line for line in info.splitlines() if line.startswith("Forwarding("))


def vm_ip(lab: Lab, machine: str) -> str:
    return lab.status()["machines"][machine]["ip"]


def assert_docker_works(lab: Lab, machine: str, port: int = 2376) -> None:
    for host in (f"tcp://localhost:{port}", f"tcp://127.0.0.1:{port}"):
        done = docker(lab, machine, host)
        assert done.returncode == 0, f"{host}: {done.stderr}"
        assert re.fullmatch(r"\d+\.\d+\.\d+\S*", done.stdout.strip()), done.stdout


@contextlib.contextmanager
def port_held(port: int = 2376) -> Iterator[int]:
    """Another program listening on 127.0.0.1:`port` on the lab's Mac, until the block ends;
    the block gets its PID.

    Entered only once it listens: a sleep instead let VirtualBox's forward take the port first
    on a loaded machine. SO_REUSEADDR, as servers do: earlier tests leave the port in TIME_WAIT.
    """
    listen = (
        "import socket, time; s = socket.socket();"
        " s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1);"
        f" s.bind(('127.0.0.1', {port})); s.listen();"
        " print('ready', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen(
        ["nsenter", f"--net={netns_path(HOST_NS)}", sys.executable, "-c", listen],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"  # type: ignore[union-attr]
        yield holder.pid  # nsenter execs the program: the same process
    finally:
        holder.kill()
        holder.wait()
