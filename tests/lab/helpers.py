"""Shared helpers for the lab tests."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import Lab, image
from lab.paths import HOST_NS, NS_PREFIX, netns_path

CLONE = Path(__file__).resolve().parents[2]


def lab_task(lab: Lab, *argv: str, stdin: str | None = None, timeout: float = 120):
    """`invoke ARGV` in the clone (the README's `sudo .venv/bin/invoke lab.shell`), for this lab:
    its folder and namespaces, given on the command line as sudo users give them."""
    env = {**os.environ, "DVH_LAB_DIR": str(lab.paths.root), "DVH_LAB_NS": NS_PREFIX}
    return subprocess.run(
        [sys.executable, "-m", "invoke", *argv],
        cwd=CLONE,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def docker_env(lab: Lab, host: str, machine: str = "default") -> dict[str, str]:
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
def _holder(code: str) -> Iterator[subprocess.Popen[str]]:
    """Run `code` (Python) on the lab's Mac until the block ends; entered once it prints ready."""
    holder = subprocess.Popen(
        ["nsenter", f"--net={netns_path(HOST_NS)}", sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"  # type: ignore[union-attr]
        yield holder
    finally:
        holder.kill()
        holder.wait()


@contextlib.contextmanager
def port_held(port: int = 2376, answer: bytes = b"") -> Iterator[int]:
    """Another program listening on 127.0.0.1:`port` on the lab's Mac, until the block ends;
    the block gets its PID (nsenter execs the program: the same process). With `answer`, it
    accepts each connection, reads the client's first bytes and answers that (a program that
    does not speak TLS); without, it never accepts.

    Entered only once it listens: a sleep instead let VirtualBox's forward take the port first
    on a loaded machine. SO_REUSEADDR, as servers do: earlier tests leave the port in TIME_WAIT.
    """
    serve = (
        f"\nwhile True:\n    c, _ = s.accept(); c.recv(4096); c.sendall({answer!r}); c.close()"
        if answer
        else " time.sleep(60)"
    )
    listen = (
        "import socket, time; s = socket.socket();"
        " s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1);"
        f" s.bind(('127.0.0.1', {port})); s.listen();"
        f" print('ready', flush=True);{serve}"
    )
    with _holder(listen) as holder:
        yield holder.pid


@contextlib.contextmanager
def udp_port_held(port: int) -> Iterator[subprocess.Popen[str]]:
    """Another program bound to UDP 127.0.0.1:`port` on the lab's Mac; it prints the first
    datagram it gets on its stdout."""
    hold = (
        "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM);"
        f" s.bind(('127.0.0.1', {port})); print('ready', flush=True);"
        " print(s.recv(100).decode(), flush=True)"
    )
    with _holder(hold) as holder:
        yield holder


def load_image(lab: Lab, machine: str) -> str:
    """The lab's busybox image in the machine's daemon; without busybox-static or socat on this
    machine the test is skipped (failed under DVH_LAB_REQUIRED=1, as CI installs both)."""
    missing = [str(p) for p in (image.BUSYBOX, image.SOCAT) if not p.is_file()]
    if missing:
        reason = f"the lab's image needs {', '.join(missing)} (busybox-static, socat)"
        if os.environ.get("DVH_LAB_REQUIRED") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return lab.load_image(machine)


class Background:
    """The tool running on the lab's host without waiting for it, its stderr read line by line."""

    def __init__(self, lab: Lab, *argv: str, env: dict | None = None) -> None:
        self.proc = subprocess.Popen(
            ["nsenter", f"--net={netns_path(HOST_NS)}", *TOOL, *argv],
            env=env or lab.host_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:  # type: ignore[union-attr]
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 60, start: int = 0) -> int:
        """The index of the first line from `start` on that holds `text`, once there is one."""
        deadline = time.monotonic() + timeout
        while True:
            found = [i for i, line in enumerate(self.lines) if i >= start and text in line]
            if found:
                return found[0]
            assert self.proc.poll() is None, "\n".join(self.lines)
            assert time.monotonic() < deadline, "\n".join(self.lines)
            time.sleep(0.01)

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(
                f"still running after {timeout} s:\n" + "\n".join(self.lines)
            ) from None
        self._reader.join(5)
        return code, "\n".join(self.lines)


@contextlib.contextmanager
def mac_web_server(port: int, page: str) -> Iterator[int]:
    """An HTTP server on the lab Mac's 127.0.0.1:`port` answering `page` to any GET, until the
    block ends (a developer's local service that containers want as host.docker.internal)."""
    serve = (
        "import http.server as h\n"
        "class P(h.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        f"        body = {page!r}.encode()\n"
        "        self.send_response(200); self.send_header('Content-Length', str(len(body)))\n"
        "        self.end_headers(); self.wfile.write(body)\n"
        "    def log_message(self, *a): pass\n"
        f"s = h.HTTPServer(('127.0.0.1', {port}), P)\n"
        "print('ready', flush=True)\n"
        "s.serve_forever()\n"
    )
    with _holder(serve) as holder:
        yield holder.pid
