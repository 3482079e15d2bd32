"""docker-machine, used only to start and create machines (it knows how to provision them)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from invoke import Context

from ..errors import HelperError
from .host import run

START_TIMEOUT = 300.0
CREATE_TIMEOUT = 900.0


def create_args(name: str, tls_sans: Sequence[str]) -> list[str]:
    """`docker-machine create`'s arguments (also what a dry run says it would run): the VM
    resolves names through the host's resolver, which follows a VPN's DNS (see dns.py)."""
    sans = [arg for san in tls_sans for arg in ("--tls-san", san)]
    return ["create", "-d", "virtualbox", "--virtualbox-host-dns-resolver", *sans, name]


class DockerMachine:
    def __init__(self, c: Context, binary: str, storage_path: Path) -> None:
        self._c = c
        self._binary = binary
        self._storage_path = storage_path

    def _argv(self, *args: str) -> list[str]:
        return [self._binary, "--storage-path", str(self._storage_path), *args]

    def start(self, name: str) -> None:
        self._run("start", name, timeout=START_TIMEOUT)

    def stop(self, name: str) -> None:
        self._run("stop", name, timeout=START_TIMEOUT)

    def _run(self, action: str, name: str, *, timeout: float) -> None:
        what = f"docker-machine {action}"
        output = run(self._c, self._argv(action, name), timeout=timeout, what=what)
        if not output.ok:
            raise HelperError(f"{what} {name} failed: {output.last_line()}")

    def create(self, name: str, tls_sans: Sequence[str]) -> None:
        argv = self._argv(*create_args(name, tls_sans))
        output = run(self._c, argv, timeout=CREATE_TIMEOUT, what="docker-machine create")
        if not output.ok:
            raise HelperError(f"docker-machine create {name} failed: {output.last_line()}")
