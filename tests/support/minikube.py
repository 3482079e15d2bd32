"""A minikube home (`~/.minikube`) laid out as minikube lays it out for its VirtualBox driver,
and the kubeconfig `minikube start` writes. The unit tests read it; the lab builds its Mac's
minikube with it.

- `certs/{ca,ca-key,cert,key}.pem`: the Docker client's CA and pair (libmachine's, as in a
  docker-machine store: tests/support/store.py makes them);
- `machines/server.pem`, `machines/server-key.pem`: the Docker daemon's certificate (minikube
  keeps one for all profiles there, AuthOptions.ServerCertPath); it names the VM's address,
  localhost, 127.0.0.1, minikube and the profile (minikube's provision.configureAuth);
- `machines/<profile>/{config.json,id_rsa,id_rsa.pub}`: the libmachine machine, DriverName
  virtualbox;
- `ca.crt`, `ca.key`: the cluster CA (CN minikubeCA); `profiles/<profile>/client.{crt,key}`
  (CN minikube-user, O system:masters) and `apiserver.{crt,key}` (names 127.0.0.1 from
  minikube 1.7.3 on: `apiserver_loopback`), `profiles/<profile>/config.json`;
- a kubeconfig (YAML, minikube's layout) whose cluster, context and user are named after the
  profile, server `https://<VM IP>:8443`.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from . import store as dm

MINIKUBE_VERSION = "v1.32.0"
KUBERNETES_VERSION = "v1.28.3"
HOSTONLY_CIDR = "192.168.59.1/24"  # minikube's default host-only network since 1.23
APISERVER_PORT = 8443
# The API server's names besides the VM's address (bootstrapper/certs.go: k8s.APIServerNames,
# the service IP 10.96.0.1 and 10.0.0.1).
APISERVER_DNS = (
    "control-plane.minikube.internal",
    "kubernetes.default.svc.cluster.local",
    "kubernetes.default.svc",
    "kubernetes.default",
    "kubernetes",
    "localhost",
)


def _name(common: str, org: str = "") -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)] if org else []
    return x509.Name([*attributes, x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _sign(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: tuple[x509.Certificate, rsa.RSAPrivateKey] | None,
    usages: list[x509.ObjectIdentifier],
    hosts: list[str],
    years: int,
) -> x509.Certificate:
    """A certificate as minikube's util/crypto.go makes them: RSA 2048, SHA-256, a day back."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_cert, ca_key = issuer if issuer else (None, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject if ca_cert else subject)
        .public_key(key.public_key())
        .serial_number(secrets.randbits(63) or 1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if hosts:
        builder = builder.add_extension(dm.subject_alt_names(hosts), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def create_home(home: Path) -> None:
    """`certs/` (Docker's CA and client pair) and the cluster CA `ca.crt`/`ca.key`."""
    dm.create_certs(home)
    key = dm.new_key()
    ca = _sign(_name("minikubeCA"), key, None, [], [], 10)
    dm.write(home / "ca.crt", dm.cert_pem(ca))
    dm.write(home / "ca.key", dm.key_pem(key), 0o600)


def cluster_ca(home: Path) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    ca = x509.load_pem_x509_certificate((home / "ca.crt").read_bytes())
    return ca, dm.load_key((home / "ca.key").read_bytes())


def apiserver_hosts(ip: str, loopback: bool) -> list[str]:
    """The API server's names: the VM's address, the service IPs, 127.0.0.1 (1.7.3 on)."""
    ips = [ip, "10.96.0.1", *(["127.0.0.1"] if loopback else []), "10.0.0.1"]
    return [*APISERVER_DNS, *ips]


def daemon_hosts(ip: str, profile: str) -> list[str]:
    """The Docker daemon's names (minikube's provision.configureAuth)."""
    return [ip, "localhost", "127.0.0.1", "minikube", profile]


@dataclass(frozen=True)
class Node:
    """One profile's VM as `create_profile` makes it."""

    profile: str = "minikube"
    ip: str = "192.168.59.100"
    ssh_port: int = 50158
    apiserver_loopback: bool = True  # minikube 1.7.3 or later
    server_hosts: tuple[str, ...] | None = None  # the daemon's names; None: daemon_hosts()


def machine_config(home: Path, node: Node) -> dict:
    """machines/<profile>/config.json as minikube's VirtualBox driver writes it."""
    mdir = home / "machines" / node.profile
    driver = {
        "IPAddress": node.ip,
        "MachineName": node.profile,
        "SSHUser": "docker",
        "SSHPort": node.ssh_port,
        "SSHKeyPath": f"{mdir}/id_rsa",
        "StorePath": str(home),
        "SwarmMaster": False,
        "SwarmHost": "",
        "SwarmDiscovery": "",
        "VBoxManager": {},
        "HostInterfaces": {},
        "CPU": 2,
        "Memory": 4000,
        "DiskSize": 20000,
        "NatNicType": "virtio",
        "Boot2DockerURL": f"file://{home}/cache/iso/amd64/minikube-{MINIKUBE_VERSION}-amd64.iso",
        "Boot2DockerImportVM": "",
        "HostDNSResolver": True,
        "HostOnlyCIDR": HOSTONLY_CIDR,
        "HostOnlyNicType": "virtio",
        "HostOnlyPromiscMode": "deny",
        "UIType": "headless",
        "HostOnlyNoDHCP": False,
        "NoShare": False,
        "DNSProxy": False,
        "NoVTXCheck": False,
        "ShareFolder": "",
    }
    auth = {
        "CertDir": str(home),
        "CaCertPath": f"{home}/certs/ca.pem",
        "CaPrivateKeyPath": f"{home}/certs/ca-key.pem",
        "CaCertRemotePath": "",
        "ServerCertPath": f"{home}/machines/server.pem",
        "ServerKeyPath": f"{home}/machines/server-key.pem",
        "ClientKeyPath": f"{home}/certs/key.pem",
        "ServerCertRemotePath": "",
        "ServerKeyRemotePath": "",
        "ClientCertPath": f"{home}/certs/cert.pem",
        "ServerCertSANs": None,
        "StorePath": str(home),
    }
    engine = {
        "ArbitraryFlags": None,
        "Dns": None,
        "GraphDir": "",
        "Env": None,
        "Ipv6": False,
        "InsecureRegistry": ["10.96.0.0/12"],
        "Labels": None,
        "LogLevel": "",
        "StorageDriver": "",
        "SelinuxEnabled": False,
        "TlsVerify": False,
        "RegistryMirror": [],
        "InstallURL": "https://get.docker.com",
    }
    host_options = {
        "Driver": "",
        "Memory": 0,
        "Disk": 0,
        "EngineOptions": engine,
        "SwarmOptions": {"IsSwarm": False, "Host": "", "Image": "", "Strategy": ""},
        "AuthOptions": auth,
    }
    return {
        "ConfigVersion": 3,
        "Driver": driver,
        "DriverName": "virtualbox",
        "HostOptions": host_options,
        "Name": node.profile,
    }


def cluster_config(node: Node) -> dict:
    """profiles/<profile>/config.json: the few fields of minikube's ClusterConfig."""
    return {
        "Name": node.profile,
        "Driver": "virtualbox",
        "HostOnlyCIDR": HOSTONLY_CIDR,
        "KubernetesConfig": {
            "KubernetesVersion": KUBERNETES_VERSION,
            "ClusterName": node.profile,
            "APIServerName": "minikubeCA",
            "ContainerRuntime": "docker",
        },
        "Nodes": [
            {
                "Name": "",
                "IP": node.ip,
                "Port": APISERVER_PORT,
                "KubernetesVersion": KUBERNETES_VERSION,
                "ControlPlane": True,
                "Worker": True,
            }
        ],
    }


def create_profile(home: Path, node: Node, ssh_key: rsa.RSAPrivateKey | None = None) -> Path:
    """machines/<profile> and profiles/<profile> as `minikube start --driver=virtualbox`
    leaves them, in a home that has its CAs (create_home). Returns the machine's folder."""
    mdir = home / "machines" / node.profile
    (mdir / node.profile).mkdir(parents=True, exist_ok=True)  # the VirtualBox VM folder
    key = ssh_key or dm.new_key()
    dm.write(mdir / "id_rsa", dm.key_pem(key), 0o600)
    dm.write(mdir / "id_rsa.pub", dm.ssh_public_line(key), 0o600)
    (mdir / "boot2docker.iso").touch()
    (mdir / "disk.vmdk").touch()
    docker_ca, docker_ca_key = dm.load_ca(home)
    hosts = list(node.server_hosts or daemon_hosts(node.ip, node.profile))
    org = f"{dm.username()}.{node.profile}"
    server, server_key = dm.issue_server(docker_ca, docker_ca_key, org, hosts)
    dm.write(home / "machines" / "server.pem", dm.cert_pem(server))
    dm.write(home / "machines" / "server-key.pem", dm.key_pem(server_key), 0o600)
    dm.write(mdir / "config.json", json.dumps(machine_config(home, node), indent=4).encode(), 0o600)
    pdir = home / "profiles" / node.profile
    ca = cluster_ca(home)
    pairs = {
        "client": (_name("minikube-user", "system:masters"), [ExtendedKeyUsageOID.CLIENT_AUTH], []),
        "apiserver": (
            _name("minikube", "system:masters"),
            [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
            apiserver_hosts(node.ip, node.apiserver_loopback),
        ),
    }
    for stem, (subject, usages, names) in pairs.items():
        pair_key = dm.new_key()
        cert = _sign(subject, pair_key, ca, usages, names, 3)
        dm.write(pdir / f"{stem}.crt", dm.cert_pem(cert))
        dm.write(pdir / f"{stem}.key", dm.key_pem(pair_key), 0o600)
    dm.write(pdir / "config.json", json.dumps(cluster_config(node), indent=4).encode())
    return mdir


def q(path: Path) -> str:
    """A path as a YAML scalar: JSON's double quotes (minikube leaves plain paths unquoted)."""
    return json.dumps(str(path))


def kubeconfig_yaml(home: Path, nodes: list[Node]) -> str:
    """The kubeconfig minikube writes for `nodes` (kubectl's YAML layout: keys sorted)."""
    clusters, contexts, users = [], [], []
    for node in nodes:
        name, pdir = node.profile, home / "profiles" / node.profile
        extension = (
            "    extensions:\n    - extension:\n        provider: minikube.sigs.k8s.io\n"
            f"        version: {MINIKUBE_VERSION}\n      name: {{info}}\n"
        )
        clusters.append(
            f"- cluster:\n    certificate-authority: {q(home / 'ca.crt')}\n"
            + extension.format(info="cluster_info")
            + f"    server: https://{node.ip}:{APISERVER_PORT}\n  name: {name}\n"
        )
        contexts.append(
            f"- context:\n    cluster: {name}\n"
            + extension.format(info="context_info")
            + f"    namespace: default\n    user: {name}\n  name: {name}\n"
        )
        users.append(
            f"- name: {name}\n  user:\n    client-certificate: {q(pdir / 'client.crt')}\n"
            f"    client-key: {q(pdir / 'client.key')}\n"
        )
    current = nodes[-1].profile if nodes else '""'
    return (
        "apiVersion: v1\nclusters:\n" + "".join(clusters) + "contexts:\n" + "".join(contexts)
        + f"current-context: {current}\nkind: Config\npreferences: {{}}\nusers:\n" + "".join(users)
    )  # fmt: skip


def minikube_world(root: Path, *nodes: Node) -> tuple[Path, Path]:
    """`root/.minikube` with `nodes` (default: the profile `minikube`) and `root/.kube/config`,
    as a user's HOME holds them. Returns (minikube home, kubeconfig)."""
    home = root / ".minikube"
    create_home(home)
    chosen = list(nodes) or [Node()]
    for node in chosen:
        create_profile(home, node)
    kubeconfig = root / ".kube" / "config"
    dm.write(kubeconfig, kubeconfig_yaml(home, chosen).encode(), 0o600)
    return home, kubeconfig


def copy_home(template: Path, folder: Path) -> Path:
    """A copy of the minikube home `template` as `folder/.minikube`, its profiles' config.json
    pointing into the copy (RSA keys are slow: tests make a home once and copy it)."""
    copy = folder / ".minikube"
    shutil.copytree(template, copy)
    for config in copy.glob("machines/*/config.json"):
        config.write_text(config.read_text().replace(str(template), str(copy)))
    return copy
