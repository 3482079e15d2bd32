"""The lab's docker-machine store: tests/support/store.py builds it the way docker-machine v0.16.2
does; the lab adds its key cache (`<lab>/cache`, kept across `down` so that `up` stays fast and
known_hosts stays valid).
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support import minikube
from tests.support.minikube import Node
from tests.support.store import (
    CERT_PROFILES,
    cert_pem,
    create_certs,
    create_machine,
    issue_server,
    key_pem,
    load_key,
    new_key,
    ssh_public_line,
    username,
    write,
)

from .paths import LabPaths

# What the lab's modules use of the store builder, through this module.
__all__ = [
    "CERT_PROFILES",
    "Node",
    "cert_pem",
    "create_machine_files",
    "create_minikube_files",
    "ensure_certs",
    "ensure_minikube_home",
    "host_key",
    "issue_server",
    "key_pem",
    "load_key",
    "ssh_key",
    "ssh_public_line",
    "username",
    "write",
    "write_kubeconfig",
]


def _cached_key(cache: Path, name: str) -> rsa.RSAPrivateKey:
    path = cache / name
    if path.exists():
        return load_key(path.read_bytes())
    key = new_key()
    write(path, key_pem(key), 0o600)
    return key


def ensure_certs(paths: LabPaths) -> None:
    """<store>/certs: the CA and client pair, reused from the lab cache when possible."""
    certs = paths.store / "certs"
    cached = paths.cache / "certs"
    if not (cached / "key.pem").exists():
        create_certs(paths.cache)
    for name, mode in (
        ("ca.pem", 0o644),
        ("ca-key.pem", 0o600),
        ("cert.pem", 0o644),
        ("key.pem", 0o600),
    ):
        if not (certs / name).exists():
            write(certs / name, (cached / name).read_bytes(), mode)


def ssh_key(paths: LabPaths, machine: str) -> rsa.RSAPrivateKey:
    """The machine's id_rsa (docker-machine: RSA 2048, PKCS#1 PEM), cached per machine name."""
    return _cached_key(paths.cache / "machines" / machine, "id_rsa")


def host_key(paths: LabPaths, machine: str) -> rsa.RSAPrivateKey:
    """The guest sshd's RSA host key, cached so known_hosts stays valid across `up`."""
    return _cached_key(paths.cache / "machines" / machine, "ssh_host_rsa_key")


def create_machine_files(
    paths: LabPaths,
    machine: str,
    ip: str,
    ssh_port: int,
    sans: list[str],
    storage_driver: str,
    profile: str,
) -> None:
    """machines/NAME as `docker-machine create -d virtualbox` leaves it, with the cached SSH key."""
    create_machine(
        paths.store, machine, ip, ssh_port, sans, storage_driver, profile, ssh_key(paths, machine)
    )


def ensure_minikube_home(paths: LabPaths) -> None:
    """~/.minikube's CAs (Docker's and the cluster's), reused from the lab cache when possible."""
    cached = paths.cache / "minikube"
    if not (cached / "ca.key").exists():
        minikube.create_home(cached)
    for name in (
        "certs/ca.pem",
        "certs/ca-key.pem",
        "certs/cert.pem",
        "certs/key.pem",
        "ca.crt",
        "ca.key",
    ):
        target = paths.minikube_home / name
        if not target.exists():
            mode = 0o600 if name.endswith(("key.pem", ".key")) else 0o644
            write(target, (cached / name).read_bytes(), mode)


def create_minikube_files(paths: LabPaths, node: minikube.Node) -> None:
    """machines/<profile> and profiles/<profile> as `minikube start --driver=virtualbox` leaves
    them, with the cached SSH key."""
    ensure_minikube_home(paths)
    minikube.create_profile(paths.minikube_home, node, ssh_key(paths, node.profile))


def write_kubeconfig(paths: LabPaths, nodes: list[minikube.Node]) -> None:
    """~/.kube/config as minikube writes it for `nodes`."""
    config = minikube.kubeconfig_yaml(paths.minikube_home, nodes)
    write(paths.kubeconfig, config.encode(), 0o600)
