"""Real OpenSSH servers standing in for boot2docker guests.

sshd must run as root: the tests that need one skip without root, or fail when DVH_LAB_REQUIRED=1.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from docker_vpn_helper.adapters.guest import Guest

from ..ports import free_port

SSHD = "/usr/sbin/sshd"

# What a pre-2016 boot2docker sshd accepts; the second variant also limits key exchange to
# the SHA-1 group14/gex kinds that paramiko 5 dropped, to prove paramiko 4 still speaks them.
LEGACY_CONFIGS = {
    "ssh-rsa": ["HostKeyAlgorithms ssh-rsa", "PubkeyAcceptedAlgorithms ssh-rsa"],
    "ssh-rsa+sha1-kex": [
        "HostKeyAlgorithms ssh-rsa",
        "PubkeyAcceptedAlgorithms ssh-rsa",
        "KexAlgorithms diffie-hellman-group14-sha1,diffie-hellman-group-exchange-sha1",
        "MACs hmac-sha1",
    ],
}


@dataclass(frozen=True)
class SshServer:
    """A running sshd on 127.0.0.1 that lets `user` in with `key_path`."""

    port: int
    user: str
    key_path: Path
    log_path: Path
    authorized_keys: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def require_root() -> None:
    """Skip (or fail, in the lab) when a real sshd cannot be started."""
    missing = None
    if os.geteuid() != 0:
        missing = "root (sshd runs as root)"
    elif not os.access(SSHD, os.X_OK) or shutil.which("ssh-keygen") is None:
        missing = "openssh-server and ssh-keygen"
    if missing:
        if os.environ.get("DVH_LAB_REQUIRED") == "1":
            pytest.fail(f"needs {missing}")
        pytest.skip(f"needs {missing}")


def keygen(path: Path, *args: str) -> Path:
    """An unencrypted key made by ssh-keygen, mode 0600."""
    if shutil.which("ssh-keygen") is None:
        pytest.skip("needs ssh-keygen")
    subprocess.run(["ssh-keygen", "-q", "-N", "", "-f", str(path), *args], check=True)
    return path


@pytest.fixture(scope="session")
def client_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SSH key like docker-machine's: RSA 2048, PEM 'RSA PRIVATE KEY'."""
    return keygen(tmp_path_factory.mktemp("key") / "id_rsa", "-t", "rsa", "-b", "2048", "-m", "PEM")


@pytest.fixture
def unused_port() -> int:
    """A 127.0.0.1 port nothing listens on."""
    return free_port()


@pytest.fixture
def make_key(tmp_path: Path) -> Callable[..., Path]:
    """Make an RSA key like docker-machine's (PEM), optionally passphrase-protected."""

    def make(name: str = "id_rsa", passphrase: str = "") -> Path:
        path = keygen(tmp_path / name, "-t", "rsa", "-b", "2048", "-m", "PEM")
        if passphrase:
            subprocess.run(
                ["ssh-keygen", "-q", "-p", "-P", "", "-N", passphrase, "-f", str(path)],
                check=True,
            )
        return path

    return make


def _wait_for_banner(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"sshd exited: {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(64).startswith(b"SSH-2.0-"):
                    return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"sshd did not answer: {log.read_text()}")


def _sshd(directory: Path, key: Path, host_key_type: str, extra: list[str]) -> Iterator[SshServer]:
    require_root()
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    host_key = keygen(directory / "host_key", "-t", host_key_type)
    authorized = directory / "authorized_keys"
    authorized.write_text(Path(f"{key}.pub").read_text())
    home = directory / "home"  # like a guest's docker user: no login scripts to run
    home.mkdir()
    port = free_port()
    config = directory / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {host_key}",
                f"AuthorizedKeysFile {authorized}",
                "StrictModes no",
                "PermitRootLogin prohibit-password",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "PidFile none",
                "LogLevel VERBOSE",
                f"SetEnv HOME={home}",
                *extra,
            ]
        )
        + "\n"
    )
    log = directory / "sshd.log"
    with log.open("wb") as err:
        proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=err)
    try:
        _wait_for_banner(port, proc, log)
        yield SshServer(
            port=port, user="root", key_path=key, log_path=log, authorized_keys=authorized
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory, client_key: Path) -> Iterator[SshServer]:
    """A modern sshd (Debian 12's defaults)."""
    yield from _sshd(tmp_path_factory.mktemp("sshd"), client_key, "ed25519", [])


@pytest.fixture(scope="session", params=sorted(LEGACY_CONFIGS))
def legacy_sshd(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, client_key: Path
) -> Iterator[SshServer]:
    """An sshd that, like pre-2016 boot2docker, verifies only `ssh-rsa` signatures."""
    directory = tmp_path_factory.mktemp("legacy-sshd")
    yield from _sshd(directory, client_key, "rsa", LEGACY_CONFIGS[request.param])


@pytest.fixture
def guest(sshd: SshServer) -> Iterator[Guest]:
    """A Guest on the modern sshd, closed after the test."""
    with Guest(sshd.port, sshd.user, sshd.key_path, connect_timeout=5, command_timeout=10) as g:
        yield g
