"""env.print: the Docker client's environment for tcp://localhost:<port>, for every shell.

People eval this in their shell start-up, so it stays light: no SSH, no crypto, no VBoxManage.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from .adapters.host import program_name
from .core import envfmt, minikube, store
from .errors import HelperError
from .settings import Settings


def machine_dir(settings: Settings):
    """DOCKER_CERT_PATH, once the machine is known to exist (else: what there is, and how to
    create it)."""
    named = settings.storage_path if settings.storage_source != "default" else None
    create = store.create_command(settings.machine, named)
    return store.machine_dir(settings.storage_path, settings.machine, create)


def variables(settings: Settings) -> list[tuple[str, str]]:
    if settings.minikube:
        profile = minikube.load_profile(settings.storage_path, settings.machine)
        user_home = Path(os.environ.get("HOME") or Path.home())
        kubeconfig = minikube.kubeconfig_value(profile.kubeconfig, os.environ, user_home)
        return [*minikube.environment(profile, settings.host_port), ("KUBECONFIG", kubeconfig)]
    folder = machine_dir(settings)
    return [
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_HOST", f"tcp://localhost:{settings.host_port}"),
        ("DOCKER_CERT_PATH", str(folder)),
        ("DOCKER_MACHINE_NAME", settings.machine),
    ]


TRANSPORTS = ("tcp", "ssh")


def ssh_alias(machine: str) -> str:
    """The `Host` that env.ssh-config writes into ~/.ssh/config for the machine."""
    return f"docker-machine-{machine}"


def ssh_variables(settings: Settings) -> list[tuple[str, str]]:
    """The docker CLI's own SSH transport: no daemon port, no certificates, just the SSH alias."""
    machine_dir(settings)  # the machine must exist
    return [
        ("DOCKER_HOST", f"ssh://{ssh_alias(settings.machine)}"),
        ("DOCKER_MACHINE_NAME", settings.machine),
    ]


def rerun_command(
    settings: Settings, shell: str | None, storage_path: str | None, transport: str = "tcp"
) -> str:
    """The env.print command that reproduces this output, for the 'eval it' comment."""
    words = [program_name(), "env.print", *settings.selector()]
    if settings.minikube:
        storage_path = None  # --minikube names it
    if settings.port_source == "flag":
        words += ["--port", str(settings.host_port)]
    if storage_path:  # as resolved: absolute, like DOCKER_CERT_PATH
        words += ["--storage-path", str(settings.storage_path)]
    if shell:
        words += ["--shell", shell]
    if transport != "tcp":
        words += ["--transport", transport]
    return shlex.join(words)


def render(
    settings: Settings,
    shell: str | None,
    unset: bool,
    storage_path: str | None,
    transport: str = "tcp",
) -> str:
    if transport not in TRANSPORTS:
        raise HelperError(f"unknown transport {transport!r} (one of {', '.join(TRANSPORTS)})")
    fmt = shell or envfmt.detect_format(os.environ)
    chosen = ssh_variables(settings) if transport == "ssh" else variables(settings)
    try:
        return envfmt.render_env(
            chosen, fmt, unset=unset, hint=rerun_command(settings, shell, storage_path, transport)
        )
    except ValueError as exc:
        raise HelperError(str(exc)) from None
