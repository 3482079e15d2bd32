"""minikube's VirtualBox driver, as the tool meets it: its home, a profile's machine, the
Docker environment, kubectl's kubeconfig and the API server's certificate.

minikube keeps its VMs in a libmachine store (`<home>/machines/<profile>/config.json`, the
format of docker-machine's store, read by `store.parse_machine`), its Docker client
certificates in `<home>/certs`, its cluster CA in `<home>/ca.crt` and the profile's client
pair in `<home>/profiles/<profile>/client.{crt,key}` (minikube's pkg/minikube/localpath).

kubectl gets a kubeconfig file of ours (JSON, which kubectl reads as the YAML it is) named
first in `KUBECONFIG`, rather than an edit of the user's kubeconfig: `minikube start` and
`minikube update-context` rewrite the profile's entry there to the VM's address, which would
undo the repair behind the user's back, and `restore` only has to delete our file.

env.print reads this module: it loads cryptography only to check a certificate.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import HelperError
from . import store

DEFAULT_PROFILE = "minikube"
APISERVER_PORT = 8443  # minikube's default --apiserver-port
DOCKER_PORT = 2376
# The API server's certificate names 127.0.0.1 from this release on (bootstrapper/certs.go).
LOOPBACK_SINCE = "1.7.3"
# Our kubeconfig, beside config.json and our state file: `minikube delete` removes it too.
KUBECONFIG_FILE = "docker-vpn-helper.kubeconfig"
# docker.service's drop-in in minikube's VM, written by its provisioner: the daemon's command
# line, whose --tlscacert/--tlscert/--tlskey name the files in /etc/docker.
DOCKER_DROP_IN = "/etc/systemd/system/docker.service.d/10-machine.conf"
# libmachine's rule for host names, which minikube's profiles (its machines' names) obey.
PROFILE_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9\-\.]*")
OUT_OF_SCOPE = "docker, podman, hyperkit, hyperv, qemu, kvm2, parallels, vmware and none"


def home(environ: Mapping[str, str], user_home: Path) -> Path:
    """minikube's home: `$MINIKUBE_HOME`, its `.minikube` subfolder unless it already ends in
    `.minikube`, else `~/.minikube` (localpath.MiniPath)."""
    configured = environ.get("MINIKUBE_HOME", "")
    if not configured:
        return user_home / ".minikube"
    path = Path(configured).expanduser()
    return path if path.name == ".minikube" else path / ".minikube"


def validate_profile(name: str) -> str:
    if not PROFILE_NAME.fullmatch(name or "") or len(name) > store.NAME_MAX:
        raise HelperError(
            f"invalid minikube profile {name[:40]!r}: a profile's name starts with a letter or "
            "digit and contains only letters, digits, '-' and '.'"
        )
    return name


def profiles(minikube_home: Path) -> list[str]:
    """The profiles that have a machine (a config.json under machines/)."""
    return store.list_machines(minikube_home)


@dataclass(frozen=True)
class Profile:
    """One minikube profile on VirtualBox: its machine and the files kubectl and docker use."""

    name: str
    home: Path
    machine: store.Machine

    @property
    def cert_path(self) -> Path:
        """DOCKER_CERT_PATH, as `minikube docker-env` prints it."""
        return self.home / "certs"

    @property
    def cluster_ca(self) -> Path:
        return self.home / "ca.crt"

    @property
    def client_cert(self) -> Path:
        return self.home / "profiles" / self.name / "client.crt"

    @property
    def client_key(self) -> Path:
        return self.home / "profiles" / self.name / "client.key"

    @property
    def kubeconfig(self) -> Path:
        """Our kubeconfig for this profile."""
        return self.machine.directory / KUBECONFIG_FILE


def driver_refusal(profile: str, driver: str) -> str | None:
    """The one line refusing a profile that is not a VirtualBox VM, or None."""
    if driver == "virtualbox":
        return None
    return (
        f"minikube profile {profile!r} uses the {driver or 'unnamed'} driver: docker-vpn-helper "
        f"repairs minikube's VirtualBox VMs only ({OUT_OF_SCOPE} are out of scope)"
    )


def missing_profile(minikube_home: Path, name: str) -> str:
    known = profiles(minikube_home)
    has = f"it has: {', '.join(known)}" if known else "it has none"
    return (
        f"no minikube profile {name!r} with a machine in {minikube_home} ({has}); create it with "
        f"`minikube start -p {name} --driver=virtualbox`, or set MINIKUBE_HOME"
    )


def load_profile(minikube_home: Path, name: str) -> Profile:
    """The profile's machine, refused in one line unless it is minikube's VirtualBox VM."""
    validate_profile(name)
    path = store.machine_folder(minikube_home, name) / "config.json"
    if not path.is_file():
        raise HelperError(missing_profile(minikube_home, name))
    data = store.read_config(path)
    refusal = driver_refusal(name, str(data.get("DriverName") or ""))
    if refusal:
        raise HelperError(refusal)
    return Profile(name, minikube_home, store.parse_machine(minikube_home, name, data, path))


@dataclass(frozen=True)
class DaemonFiles:
    """Where the daemon in the VM reads its TLS files, as its unit names them."""

    ca: str
    cert: str
    key: str


def unit_tls_files(unit: str) -> DaemonFiles:
    """The TLS files of the last `ExecStart=` of docker.service's drop-in (a systemd unit's
    `ExecStart=` alone clears the ones before it); one line when the unit names none."""
    commands = [
        line.split("=", 1)[1].strip()
        for line in unit.splitlines()
        if line.strip().startswith("ExecStart=")
    ]
    command = commands[-1] if commands else ""  # an empty one: cleared, nothing after it
    try:
        words = shlex.split(command)
    except ValueError:
        words = []
    found: dict[str, str] = {}
    for index, word in enumerate(words):
        flag, equals, value = word.partition("=")
        if flag in ("--tlscacert", "--tlscert", "--tlskey"):
            found[flag] = value if equals else next(iter(words[index + 1 : index + 2]), "")
    if not all(found.get(f) for f in ("--tlscacert", "--tlscert", "--tlskey")):
        raise HelperError(
            f"{DOCKER_DROP_IN} in the VM names no --tlscacert, --tlscert and --tlskey: is this "
            "minikube's VM? `minikube start` with the VPN off writes it again"
        )
    return DaemonFiles(found["--tlscacert"], found["--tlscert"], found["--tlskey"])


# What a dry run says of minikube's daemon before its forward exists (it reads no VM files).
FORWARD_PENDING = "judged by what the daemon serves through the forward, once it is added"


# minikube keeps one server.pem for all its profiles (the last one provisioned's): a VM may
# serve another certificate of the same CA, which docker verifies as well.
SERVES_ANOTHER = (
    "the daemon answers through the forward with a certificate of this CA for localhost "
    "(minikube's server.pem is the last provisioned profile's)"
)


# ---- kubectl --------------------------------------------------------------------------------


def server_url(port: int) -> str:
    return f"https://127.0.0.1:{port}"


def kubeconfig(profile: Profile, port: int) -> dict[str, Any]:
    """A kubeconfig with the profile's cluster, user and context, named as minikube names
    them, whose server is the API server's forward."""
    name = profile.name
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": name,
                "cluster": {
                    "server": server_url(port),
                    "certificate-authority": str(profile.cluster_ca),
                },
            }
        ],
        "users": [
            {
                "name": name,
                "user": {
                    "client-certificate": str(profile.client_cert),
                    "client-key": str(profile.client_key),
                },
            }
        ],
        "contexts": [
            {"name": name, "context": {"cluster": name, "user": name, "namespace": "default"}}
        ],
        "current-context": name,
        "preferences": {},
    }


def render_kubeconfig(config: dict[str, Any]) -> bytes:
    return (json.dumps(config, indent=2) + "\n").encode()


def kubeconfig_server(data: bytes | None, profile: str) -> str | None:
    """The server our kubeconfig gives the profile's cluster (None: no file, or not ours)."""
    try:
        config = json.loads(data or b"")
        clusters = config["clusters"]
        return next(c["cluster"]["server"] for c in clusters if c["name"] == profile)
    except (ValueError, KeyError, TypeError, StopIteration):
        return None


def kubeconfig_files(environ: Mapping[str, str], user_home: Path) -> list[str]:
    """The files kubectl reads, in order: `$KUBECONFIG`'s entries, else `~/.kube/config`."""
    listed = [p for p in environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return listed or [str(user_home / ".kube" / "config")]


def kubeconfig_value(ours: Path, environ: Mapping[str, str], user_home: Path) -> str:
    """KUBECONFIG for the environment: our file first (kubectl takes each name from the first
    file that has it), then what kubectl reads now, so the user's other contexts stay."""
    rest = [p for p in kubeconfig_files(environ, user_home) if p != str(ours)]
    return os.pathsep.join([str(ours), *rest])


def kubectl_uses(ours: Path, environ: Mapping[str, str]) -> bool:
    """Whether kubectl in a shell with `environ` takes the profile's entries from our file."""
    listed = [p for p in environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return bool(listed) and listed[0] == str(ours)


# ---- the environment ------------------------------------------------------------------------


def environment(profile: Profile, docker_port: int) -> list[tuple[str, str]]:
    """`minikube docker-env`'s variables, with the forward's address."""
    return [
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_HOST", f"tcp://localhost:{docker_port}"),
        ("DOCKER_CERT_PATH", str(profile.cert_path)),
        ("MINIKUBE_ACTIVE_DOCKERD", profile.name),
    ]


# ---- the API server's certificate -------------------------------------------------------------


def apiserver_problem(served: bytes, cluster_ca: bytes, profile: str) -> str | None:
    """Why kubectl cannot trust the API server's certificate (DER, as served through the
    forward) at https://127.0.0.1, in one line with what to do; None when it can."""
    # Here: env.print, eval'ed at shell start-up, reads this module and must not load these.
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature

    from . import certs

    try:
        cert = x509.load_der_x509_certificate(served)
        ca = x509.load_pem_x509_certificate(cluster_ca)
    except ValueError:
        return "the API server's certificate or the cluster CA (ca.crt) cannot be read"
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return (
            f"the API server of profile {profile!r} presents a certificate not signed by the "
            "cluster CA (ca.crt): is another cluster answering on its forward?"
        )
    if "127.0.0.1" not in certs.certificate_names(cert).ips:
        return (
            f"the API server's certificate of profile {profile!r} does not name 127.0.0.1 "
            f"(minikube before {LOOPBACK_SINCE}): kubectl cannot verify it through the forward; "
            f"upgrade minikube, then recreate the cluster with the VPN off: `minikube delete -p "
            f"{profile} && minikube start -p {profile} --driver=virtualbox`"
        )
    return None
