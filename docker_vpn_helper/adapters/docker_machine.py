"""docker-machine, used only to start and create machines (it knows how to provision them)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from invoke import Context

from ..core.commands import Command
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
    """docker-machine of the configured binary, on the run's store: every command names the
    store with --storage-path, so it acts on the same machines this run reads."""

    def __init__(self, c: Context, binary: str, storage_path: Path) -> None:
        self._c = c
        self._binary = binary
        self._storage_path = storage_path

    def _command(self, args: Sequence[str], what: str, timeout: float) -> Command:
        argv = (self._binary, "--storage-path", str(self._storage_path), *args)
        return Command(argv, what=what, timeout=timeout)

    def start_command(self, name: str) -> Command:
        return self._command(("start", name), f"docker-machine start {name}", START_TIMEOUT)

    def stop_command(self, name: str) -> Command:
        return self._command(("stop", name), f"docker-machine stop {name}", START_TIMEOUT)

    def create_command(self, name: str, tls_sans: Sequence[str]) -> Command:
        what = f"docker-machine create {name}"
        return self._command(create_args(name, tls_sans), what, CREATE_TIMEOUT)

    def execute(self, command: Command) -> None:
        """Run a command built here; its failure is a one-line error."""
        output = run(self._c, command.argv, timeout=command.timeout, what=command.what)
        if not output.ok:
            raise HelperError(f"{command.what} failed: {output.last_line()}")
