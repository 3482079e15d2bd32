"""A docker-machine store (MACHINE_STORAGE_PATH) made the way docker-machine v0.16.2 makes one:
`certs/` (create_certs) and a machine's folder with its config.json, SSH key and daemon
certificate (create_machine). The unit tests run the tool against it; the lab (lab/store.py)
builds its Mac's store with it.

Certificates follow libmachine/cert: RSA 2048, subject O=<user>[.<machine>] and no CN, notBefore
five minutes ago (whole minutes), 1080 days, random 128-bit serial, SHA-256, no SKI/AKI, PKCS#1 keys.
"""

from __future__ import annotations

import datetime as dt
import getpass
import ipaddress
import json
import os
import secrets
import shutil
from collections import OrderedDict
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CERT_PROFILES = ("v0.16", "v0.4")
BITS = 2048
HOSTONLY_CIDR = "192.168.99.1/24"  # docker-machine's default host-only network


def username() -> str:
    """docker-machine puts the local user name in every certificate's O."""
    return os.environ.get("USER") or getpass.getuser()


# ---- keys and certificates -------------------------------------------------------------------


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=BITS)


def key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,  # "RSA PRIVATE KEY", like Go's PKCS#1 output
        serialization.NoEncryption(),
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def load_key(data: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(data, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def _template(org: str, public_key: rsa.RSAPublicKey) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
    not_before = now - dt.timedelta(minutes=5)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)]))
        .public_key(public_key)
        .serial_number(secrets.randbits(128) or 1)
        .not_valid_before(not_before)
        .not_valid_after(not_before + dt.timedelta(days=1080))
    )


def _usage(*, cert_sign: bool = False, key_agreement: bool = True) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=True,
        data_encipherment=False,
        key_agreement=key_agreement,
        key_cert_sign=cert_sign,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def issue_ca(org: str) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = new_key()
    builder = (
        _template(org, key.public_key())
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)]))
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    return builder.sign(key, hashes.SHA256()), key


def issue_client(
    ca: x509.Certificate, ca_key: rsa.RSAPrivateKey, org: str
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = new_key()
    builder = (
        _template(org, key.public_key())
        .issuer_name(ca.subject)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    return builder.sign(ca_key, hashes.SHA256()), key


def server_hosts(sans: list[str], ip: str, profile: str = "v0.16") -> list[str]:
    """The names docker-machine puts in a server cert: ServerCertSANs + IP + localhost (v0.4: IP only)."""
    if profile == "v0.4":
        return [ip]
    return [*sans, ip, "localhost"]


def subject_alt_names(hosts: list[str]) -> x509.SubjectAlternativeName:
    """IP addresses as IP SANs, anything else as a DNS name."""
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def issue_server(
    ca: x509.Certificate,
    ca_key: rsa.RSAPrivateKey,
    org: str,
    hosts: list[str],
    profile: str = "v0.16",
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    if profile not in CERT_PROFILES:
        raise ValueError(f"unknown cert profile {profile!r} (one of {', '.join(CERT_PROFILES)})")
    key = new_key()
    # libmachine/cert gives server certs clientAuth too: its own ValidateCertificate presents
    # server.pem as the CLIENT certificate, which dockerd would refuse without clientAuth.
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
    builder = (
        _template(org, key.public_key())
        .issuer_name(ca.subject)
        .add_extension(_usage(), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(subject_alt_names(hosts), critical=False)
    )
    return builder.sign(ca_key, hashes.SHA256()), key


def ssh_public_line(key: rsa.RSAPrivateKey) -> bytes:
    return (
        key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
        + b"\n"
    )


# ---- files ----------------------------------------------------------------------------------


def write(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def machine_dir(store: Path, machine: str) -> Path:
    return store / "machines" / machine


def create_certs(store: Path) -> None:
    """<store>/certs: the CA and the client pair docker-machine makes on its first `create`."""
    certs = store / "certs"
    org = username()
    ca, ca_key = issue_ca(org)
    client, client_key = issue_client(ca, ca_key, org)
    write(certs / "ca.pem", cert_pem(ca))
    write(certs / "ca-key.pem", key_pem(ca_key), 0o600)
    write(certs / "cert.pem", cert_pem(client))
    write(certs / "key.pem", key_pem(client_key), 0o600)


def load_ca(store: Path) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    certs = store / "certs"
    ca = x509.load_pem_x509_certificate((certs / "ca.pem").read_bytes())
    return ca, load_key((certs / "ca-key.pem").read_bytes())


def issue_machine_server_cert(
    store: Path, machine: str, hosts: list[str], profile: str = "v0.16"
) -> tuple[bytes, bytes]:
    """Issue server.pem/server-key.pem into machines/NAME as docker-machine's ConfigureAuth does."""
    ca, ca_key = load_ca(store)
    cert, key = issue_server(ca, ca_key, f"{username()}.{machine}", hosts, profile)
    mdir = machine_dir(store, machine)
    write(mdir / "server.pem", cert_pem(cert))
    write(mdir / "server-key.pem", key_pem(key), 0o600)
    return cert_pem(cert), key_pem(key)


def config_json(
    store: Path, machine: str, ip: str, ssh_port: int, sans: list[str], storage_driver: str
) -> dict[str, Any]:
    """config.json (ConfigVersion 3) with every field v0.16.2 writes for the virtualbox driver, in its order."""
    mdir = str(machine_dir(store, machine))
    certs = f"{store}/certs"
    driver = OrderedDict(
        [
            ("IPAddress", ip),
            ("MachineName", machine),
            ("SSHUser", "docker"),
            ("SSHPort", ssh_port),
            ("SSHKeyPath", f"{mdir}/id_rsa"),
            ("StorePath", str(store)),
            ("SwarmMaster", False),
            ("SwarmHost", "tcp://0.0.0.0:3376"),
            ("SwarmDiscovery", ""),
            ("VBoxManager", {}),
            ("HostInterfaces", {}),
            ("CPU", 1),
            ("Memory", 1024),
            ("DiskSize", 20000),
            ("NatNicType", "82540EM"),
            ("Boot2DockerURL", ""),
            ("Boot2DockerImportVM", ""),
            ("HostDNSResolver", False),
            ("HostOnlyCIDR", HOSTONLY_CIDR),
            ("HostOnlyNicType", "82540EM"),
            ("HostOnlyPromiscMode", "deny"),
            ("UIType", "headless"),
            ("HostOnlyNoDHCP", False),
            ("NoShare", False),
            ("DNSProxy", True),
            ("NoVTXCheck", False),
            ("ShareFolder", ""),
        ]
    )
    engine = OrderedDict(
        [
            ("ArbitraryFlags", []),
            ("Dns", None),
            ("GraphDir", ""),
            ("Env", []),
            ("Ipv6", False),
            ("InsecureRegistry", []),
            ("Labels", []),
            ("LogLevel", ""),
            ("StorageDriver", storage_driver),
            ("SelinuxEnabled", False),
            ("TlsVerify", True),
            ("RegistryMirror", []),
            ("InstallURL", "https://get.docker.com"),
        ]
    )
    swarm = OrderedDict(
        [
            ("IsSwarm", False),
            ("Address", ""),
            ("Discovery", ""),
            ("Agent", False),
            ("Master", False),
            ("Host", "tcp://0.0.0.0:3376"),
            ("Image", "swarm:latest"),
            ("Strategy", "spread"),
            ("Heartbeat", 0),
            ("Overcommit", 0),
            ("ArbitraryFlags", []),
            ("ArbitraryJoinFlags", []),
            ("Env", None),
            ("IsExperimental", False),
        ]
    )
    auth = OrderedDict(
        [
            ("CertDir", certs),
            ("CaCertPath", f"{certs}/ca.pem"),
            ("CaPrivateKeyPath", f"{certs}/ca-key.pem"),
            ("CaCertRemotePath", ""),
            ("ServerCertPath", f"{mdir}/server.pem"),
            ("ServerKeyPath", f"{mdir}/server-key.pem"),
            ("ClientKeyPath", f"{certs}/key.pem"),
            ("ServerCertRemotePath", ""),
            ("ServerKeyRemotePath", ""),
            ("ClientCertPath", f"{certs}/cert.pem"),
            ("ServerCertSANs", list(sans)),
            ("StorePath", mdir),
        ]
    )
    host_options = OrderedDict(
        [
            ("Driver", ""),
            ("Memory", 0),
            ("Disk", 0),
            ("EngineOptions", engine),
            ("SwarmOptions", swarm),
            ("AuthOptions", auth),
        ]
    )
    return OrderedDict(
        [
            ("ConfigVersion", 3),
            ("Driver", driver),
            ("DriverName", "virtualbox"),
            ("HostOptions", host_options),
            ("Name", machine),
        ]
    )


def write_config(store: Path, machine: str, config: dict[str, Any]) -> None:
    """Like docker-machine: 4-space indented JSON, mode 0600, replaced atomically."""
    write(machine_dir(store, machine) / "config.json", json.dumps(config, indent=4).encode(), 0o600)


def create_machine(
    store: Path,
    machine: str = "default",
    ip: str = "192.168.99.100",
    ssh_port: int = 50157,
    sans: list[str] | None = None,
    storage_driver: str = "overlay2",
    profile: str = "v0.16",
    ssh_key: rsa.RSAPrivateKey | None = None,
) -> Path:
    """machines/NAME as `docker-machine create -d virtualbox` leaves it (ISO and disk are
    placeholders), in a store that has its certs/ (create_certs). Returns the machine's folder."""
    mdir = machine_dir(store, machine)
    (mdir / machine).mkdir(parents=True, exist_ok=True)  # the VirtualBox VM folder
    key = ssh_key or new_key()
    write(mdir / "id_rsa", key_pem(key), 0o600)
    write(mdir / "id_rsa.pub", ssh_public_line(key), 0o600)
    certs = store / "certs"
    for name in ("ca.pem", "cert.pem", "key.pem"):
        shutil.copyfile(certs / name, mdir / name)
        os.chmod(mdir / name, 0o600 if name == "key.pem" else 0o644)
    for placeholder in ("boot2docker.iso", "disk.vmdk"):
        (mdir / placeholder).touch()
    sans = list(sans or [])
    issue_machine_server_cert(store, machine, server_hosts(sans, ip, profile), profile)
    write_config(store, machine, config_json(store, machine, ip, ssh_port, sans, storage_driver))
    return mdir
