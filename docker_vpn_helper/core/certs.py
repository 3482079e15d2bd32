"""Build and judge the daemon's server certificate (signed by docker-machine's CA).

The Docker client (Go crypto/tls) matches host names against SANs only: `tcp://localhost:P`
needs DNS:localhost and `tcp://127.0.0.1:P` needs IP:127.0.0.1. We keep docker-machine's own
profile otherwise (RSA 2048, O=<user>.<machine>, 1080 days, notBefore 5 minutes back).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..errors import HelperError
from . import store
from .fsutil import read_optional
from .templating import render

VALIDITY_DAYS = 1080  # docker-machine's own lifetime; never longer
BACKDATE = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class SubjectNames:
    """The names a server certificate must carry, DNS and IP kept apart as X.509 does."""

    dns: tuple[str, ...]
    ips: tuple[str, ...]

    def all(self) -> list[str]:
        return [*self.dns, *self.ips]


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def wanted_names(
    machine_name: str, machine_ips: Iterable[str | None], recorded_sans: Iterable[str]
) -> SubjectNames:
    """localhost and 127.0.0.1, the machine's name and IPs, and the SANs docker-machine recorded."""
    dns: list[str] = []
    ips: list[str] = []
    for name in [*store.LOOPBACK_NAMES, machine_name, *machine_ips, *recorded_sans]:
        if not name:
            continue
        bucket = ips if _is_ip(name) else dns
        if name not in bucket:
            bucket.append(name)
    return SubjectNames(tuple(dns), tuple(ips))


@dataclass(frozen=True)
class Authority:
    """docker-machine's CA, as loaded from the store (the key never leaves the host)."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey
    cert_path: Path


def _read(path: Path, what: str) -> bytes:
    data = read_optional(path, what)
    if data is None:
        raise HelperError(f"{what} {path} is missing")
    return data


def load_authority(cert_path: Path, key_path: Path, now: dt.datetime) -> Authority:
    """Load and check the CA: readable, unencrypted, matching, unexpired."""
    try:
        cert = x509.load_pem_x509_certificate(_read(cert_path, "CA certificate"))
    except ValueError:
        raise HelperError(f"CA certificate {cert_path} is not a PEM certificate") from None
    try:
        # Skipping OpenSSL's RSA consistency check (slow: docs/PERFORMANCE.md) is safe here: the key must
        # match the CA certificate's public key, checked below, before it signs anything.
        key = serialization.load_pem_private_key(
            _read(key_path, "CA key"), password=None, unsafe_skip_rsa_key_validation=True
        )
    except TypeError:
        raise HelperError(
            f"CA key {key_path} is encrypted: docker-machine's CA key is not; decrypt it with "
            f"`openssl rsa -in {key_path} -out {key_path}`"
        ) from None
    except ValueError:
        raise HelperError(f"CA key {key_path} is not a PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise HelperError(f"CA key {key_path} is not an RSA key like docker-machine's")
    if key.public_key().public_numbers() != cert.public_key().public_numbers():
        raise HelperError(f"CA key {key_path} does not match CA certificate {cert_path}")
    if cert.not_valid_after_utc <= now:
        raise HelperError(
            f"CA certificate {cert_path} expired on {cert.not_valid_after_utc:%Y-%m-%d}: "
            "regenerate the store's certificates (docker-machine regenerate-certs --client-certs)"
        )
    return Authority(cert=cert, key=key, cert_path=cert_path)


def organization(user: str, machine_name: str) -> str:
    """docker-machine's subject: O=<$USER>.<machine>."""
    return f"{user}.{machine_name}"


def new_server_key() -> rsa.RSAPrivateKey:
    """A server key like docker-machine's: RSA 2048 (generated without holding the GIL)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def issue(
    authority: Authority,
    names: SubjectNames,
    org: str,
    now: dt.datetime,
    days: int = VALIDITY_DAYS,
    key: rsa.RSAPrivateKey | None = None,
) -> tuple[bytes, bytes]:
    """A server certificate for `key` (a new one if None); returns (cert PEM, key PEM)."""
    if key is None:
        key = new_server_key()
    not_after = min(
        now + dt.timedelta(days=min(days, VALIDITY_DAYS)), authority.cert.not_valid_after_utc
    )
    ca_public = authority.cert.public_key()
    try:
        ca_ski = authority.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski.value)
    except x509.ExtensionNotFound:  # old docker-machine CAs carry no SKI
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)]))
        .issuer_name(authority.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(_san(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(aki, critical=False)
        .sign(authority.key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,  # "RSA PRIVATE KEY", as docker-machine writes
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _san(names: SubjectNames) -> x509.SubjectAlternativeName:
    return x509.SubjectAlternativeName(
        [x509.DNSName(n) for n in names.dns]
        + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in names.ips]
    )


def certificate_names(cert: x509.Certificate) -> SubjectNames:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return SubjectNames((), ())
    return SubjectNames(
        tuple(san.get_values_for_type(x509.DNSName)),
        tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress)),
    )


def problems(
    cert_pem: bytes | None,
    key_pem: bytes | None,
    authority: Authority,
    names: SubjectNames,
    now: dt.datetime,
    renew_days: int,
) -> list[str]:
    """Why the current server certificate cannot stay (empty list: it can)."""
    if not cert_pem:
        return ["there is no server certificate"]
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        return ["the server certificate is not a PEM certificate"]
    found: list[str] = []
    try:
        cert.verify_directly_issued_by(authority.cert)
    except (ValueError, TypeError, InvalidSignature):
        found.append("it is not signed by this store's CA")
    if cert.signature_hash_algorithm is None or cert.signature_hash_algorithm.name == "sha1":
        found.append("it is signed with SHA-1, which Docker rejects")
    have = certificate_names(cert)
    missing = [n for n in names.dns if n not in have.dns] + [
        n for n in names.ips if n not in have.ips
    ]
    if missing:
        found.append(f"the old certificate lacks {', '.join(missing)}")
    left = cert.not_valid_after_utc - now
    if left <= dt.timedelta(0):
        found.append(f"it expired on {cert.not_valid_after_utc:%Y-%m-%d}")
    elif left < dt.timedelta(days=renew_days):
        found.append(f"it expires in {left.days} days (renewal starts at {renew_days})")
    if cert.not_valid_before_utc > now:
        found.append(f"it is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC")
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.SERVER_AUTH not in eku:
            found.append("its extended key usage lacks serverAuth")
    except x509.ExtensionNotFound:
        pass
    if not key_pem or not _key_matches(cert, key_pem):
        found.append("the server key does not match it")
    return found


def _key_matches(cert: x509.Certificate, key_pem: bytes) -> bool:
    try:
        # Only its public half is compared: the consistency check would cost time for nothing.
        key = serialization.load_pem_private_key(
            key_pem, password=None, unsafe_skip_rsa_key_validation=True
        )
    except (ValueError, TypeError):
        return False
    public = cert.public_key()
    return (
        isinstance(key, rsa.RSAPrivateKey)
        and isinstance(public, rsa.RSAPublicKey)
        and (key.public_key().public_numbers() == public.public_numbers())
    )


def pair_matches(cert_pem: bytes, key_pem: bytes) -> bool:
    """Whether a certificate and a private key (PEM) belong together."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        return False
    return _key_matches(cert, key_pem)


def to_der(cert_pem: bytes) -> bytes:
    """The certificate's DER bytes: what a TLS peer presents, whatever the PEM's layout."""
    return x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)


def fingerprint(cert_pem: bytes) -> str:
    """SHA-256 of the DER form: the same certificate in any PEM layout has one fingerprint."""
    return fingerprint_der(to_der(cert_pem))


def fingerprint_der(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def expiry(cert_pem: bytes) -> dt.datetime:
    return x509.load_pem_x509_certificate(cert_pem).not_valid_after_utc


def _openssl_value(value: str) -> str:
    """Escape what openssl's config parser treats specially ($ expansion, comments, quotes)."""
    return "".join("\\" + ch if ch in "\\$\"'#;" else ch for ch in value)


def render_openssl_config(names: SubjectNames, org: str, machine_name: str, days: int) -> str:
    """The same request and extensions for the openssl CLI, to audit or reproduce an issuance."""
    return render(
        "openssl.cnf.j2",
        machine=machine_name,
        organization=_openssl_value(org),
        dns_names=[_openssl_value(n) for n in names.dns],
        ip_addresses=list(names.ips),
        days=min(days, VALIDITY_DAYS),
    )
