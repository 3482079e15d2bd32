"""Shared helpers for the lab tests."""

from __future__ import annotations

from pathlib import Path

from docker_vpn_helper.lab import Lab


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
