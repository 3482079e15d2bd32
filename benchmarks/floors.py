"""The floors: what the run's unavoidable steps cost with nothing of ours around them.

Run by run.py on the lab's Mac (inside its network namespace, where 127.0.0.1:<ssh port> and
127.0.0.1:<daemon port> are the NAT forwards). Prints one JSON object on stdout. Stdlib and
paramiko only, so that it measures SSH, TLS and dockerd, not docker_vpn_helper.
"""

from __future__ import annotations

import argparse
import json
import socket
import ssl
import time
from pathlib import Path

POLL = 0.02  # seconds between TLS attempts while the daemon restarts


def tls_version(port: int, certs: Path, timeout: float = 3.0) -> bool:
    """GET /version with the machine's client pair, verified for localhost, like the Docker CLI."""
    context = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    context.load_cert_chain(str(certs / "cert.pem"), str(certs / "key.pem"))
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    with raw, context.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(b"GET /version HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            try:
                chunk = tls.recv(65536)
            except ssl.SSLZeroReturnError:
                break
            if not chunk:
                break
            data += chunk
    return data.startswith(b"HTTP/1.1 200")


def tls_up(port: int, certs: Path) -> bool:
    try:
        return tls_version(port, certs, timeout=1.0)
    except (OSError, ssl.SSLError):
        return False


def healthy(machine: str, port: int, certs: Path) -> None:
    """A healthy `fix`'s floor, in one process: Python with invoke imported, one
    `VBoxManage showvminfo` (the VM's state and rules), one TLS round trip through the forward
    (the daemon proves the certificate). Timed from outside by run.py, as `fix` is."""
    import subprocess

    import invoke  # noqa: F401 -- the framework every command loads

    subprocess.run(
        ["VBoxManage", "showvminfo", machine, "--machinereadable"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    if not tls_version(port, certs):
        raise SystemExit("the daemon did not answer GET /version with 200")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--healthy-floor",
        metavar="MACHINE",
        help="only the floor of a healthy fix of MACHINE (see healthy()), nothing printed",
    )
    parser.add_argument("--ssh-port", type=int)
    parser.add_argument("--user", default="docker")
    parser.add_argument("--certs", type=Path, required=True, help="machines/NAME of the store")
    parser.add_argument("--port", type=int, default=2376)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--restarts", type=int, default=3)
    args = parser.parse_args()
    if args.healthy_floor:
        healthy(args.healthy_floor, args.port, args.certs)
        return
    out: dict[str, object] = {}

    t0 = time.perf_counter()
    import paramiko

    out["import_paramiko"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    key = paramiko.RSAKey.from_private_key_file(str(args.certs / "id_rsa"))
    out["load_key"] = time.perf_counter() - t0

    def connect() -> paramiko.SSHClient:
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.MissingHostKeyPolicy())
        client.connect(
            "127.0.0.1",
            args.ssh_port,
            username=args.user,
            pkey=key,
            look_for_keys=False,
            allow_agent=False,
            timeout=10,
        )
        return client

    ssh = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        client = connect()
        _, stdout, _ = client.exec_command("true")
        stdout.channel.recv_exit_status()
        client.close()
        ssh.append(time.perf_counter() - t0)
    out["ssh_handshake_command"] = ssh

    tls = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        if not tls_version(args.port, args.certs):
            raise SystemExit("the daemon did not answer GET /version with 200")
        tls.append(time.perf_counter() - t0)
    out["tls_version"] = tls

    restarts, commands = [], []
    client = connect()
    try:
        for _ in range(args.restarts):
            t0 = time.perf_counter()
            _, stdout, stderr = client.exec_command("sudo /etc/init.d/docker restart")
            if stdout.channel.recv_exit_status() != 0:
                raise SystemExit(f"restart failed: {stderr.read().decode(errors='replace')}")
            commands.append(time.perf_counter() - t0)
            deadline = t0 + 60
            while not tls_up(args.port, args.certs):
                if time.perf_counter() > deadline:
                    raise SystemExit("the daemon did not answer within 60 s of a restart")
                time.sleep(POLL)
            restarts.append(time.perf_counter() - t0)
    finally:
        client.close()
    out["daemon_restart_until_answer"] = restarts
    out["daemon_restart_command"] = commands
    print(json.dumps(out))


if __name__ == "__main__":
    main()
