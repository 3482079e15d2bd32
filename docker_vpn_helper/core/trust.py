"""The host's extra trusted roots, read from PEM text and macOS trust settings. Pure.

A TLS-inspecting network (Zscaler, Netskope, a decrypting firewall) re-signs every site with a
company root that IT installs on the laptop; the VM's daemon must trust it too. What goes in is
only CA certificates (basicConstraints CA:TRUE), once each (by SHA-256 fingerprint); a private
key found beside them is refused, never read further, never copied.

macOS keeps the roots an administrator or MDM installed in the System keychain and says which it
trusts in the admin trust settings (`security dump-trust-settings -d`); the login keychain's
roots count when the user's trust settings (`security dump-trust-settings`) trust them. Apple's
own roots (the system domain) are never read: the VM has a public bundle of its own.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

PEM_BLOCK = re.compile(
    rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL
)  # one PEM block of any type; the END line must name the same type
# Where boot2docker loads extra roots from at every boot (persistent disk), and the running
# system bundle Go's crypto/x509 (dockerd) reads when it starts.
GUEST_CERTS_DIR = "/var/lib/boot2docker/certs"
GUEST_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
FILE_PREFIX = "docker-vpn-helper-"  # our files in GUEST_CERTS_DIR: prefix + fingerprint[:16]
# Trust setting results that make a certificate a trust anchor (an absent Result Type means
# kSecTrustSettingsResultTrustRoot, Apple's documented default), and the policies that cover
# TLS: none named (every policy), "SSL", or the basic X.509 policy.
TRUSTING_RESULTS = ("kSecTrustSettingsResultTrustRoot", "kSecTrustSettingsResultTrustAsRoot", "")
TLS_POLICIES = ("", "SSL", "Apple X509 Basic")


@dataclass(frozen=True)
class Root:
    """One CA certificate to copy: its subject, SHA-256 fingerprint, PEM and where it was found."""

    subject: str
    fingerprint: str  # SHA-256 of the DER, lower-case hex
    pem: bytes
    source: str
    label: str = ""  # what macOS names it (SecCertificateInferLabel): the CN, else the O/OU

    @property
    def guest_name(self) -> str:
        return f"{FILE_PREFIX}{self.fingerprint[:16]}.pem"

    @property
    def guest_path(self) -> str:
        return f"{GUEST_CERTS_DIR}/{self.guest_name}"

    def describe(self) -> str:
        """`subject (SHA-256 ab:cd:...)` for the dry run and doctor."""
        return f"{self.subject} (SHA-256 {colon_hex(self.fingerprint)})"


@dataclass(frozen=True)
class Found:
    """What a PEM source held: the CA certificates, and one line per block left out."""

    roots: tuple[Root, ...] = ()
    skipped: tuple[str, ...] = ()

    def __add__(self, other: Found) -> Found:
        return Found(self.roots + other.roots, self.skipped + other.skipped)


def colon_hex(fingerprint: str) -> str:
    """`AB:CD:...` as certificate tools print a fingerprint."""
    return ":".join(fingerprint[i : i + 2] for i in range(0, len(fingerprint), 2)).upper()


def read_pem(data: bytes, source: str) -> Found:
    """The CA certificates of a PEM bundle (a file, or `security find-certificate -a -p` output).

    A private key is refused by its block type before anything decodes it; a certificate that
    is not a CA (a server's, a device identity), one that does not parse, and other blocks
    are left out, each with one line saying why.
    """
    roots: list[Root] = []
    skipped: list[str] = []
    for number, match in enumerate(PEM_BLOCK.finditer(data), 1):
        kind = match.group(1).decode()
        where = f"{source}, block {number}"
        if "PRIVATE KEY" in kind:
            skipped.append(f"{where}: a private key, never copied")
            continue
        if kind not in ("CERTIFICATE", "TRUSTED CERTIFICATE"):
            skipped.append(f"{where}: a {kind}, not a certificate")
            continue
        try:
            cert = x509.load_pem_x509_certificate(_plain_certificate(match.group(0)))
        except ValueError:
            skipped.append(f"{where}: not a readable certificate")
            continue
        subject = cert.subject.rfc4514_string() or "(no subject)"
        if not _is_ca(cert):
            skipped.append(f"{where}: {subject} is not a CA certificate")
            continue
        roots.append(_root(cert, source))
    return Found(tuple(roots), tuple(skipped))


def _plain_certificate(block: bytes) -> bytes:
    """OpenSSL's `TRUSTED CERTIFICATE` block as a plain one (cryptography reads only those;
    the trust data after the certificate is ignored by the DER parser's first element)."""
    return block.replace(b"TRUSTED CERTIFICATE", b"CERTIFICATE")


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    return bool(constraints.ca)


def _root(cert: x509.Certificate, source: str) -> Root:
    label = ""
    for oid in (NameOID.COMMON_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.ORGANIZATION_NAME):
        values = cert.subject.get_attributes_for_oid(oid)
        if values:
            label = str(values[0].value)
            break
    return Root(
        subject=cert.subject.rfc4514_string() or "(no subject)",
        fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
        pem=cert.public_bytes(serialization.Encoding.PEM),
        source=source,
        label=label,
    )


def fingerprints(data: bytes) -> set[str]:
    """SHA-256 fingerprints of every certificate block in PEM text (a CA bundle), computed from
    the base64 alone: a system bundle of ~150 roots is read in a millisecond."""
    import base64
    import binascii

    found = set()
    for match in PEM_BLOCK.finditer(data):
        if match.group(1) != b"CERTIFICATE":
            continue
        try:
            der = base64.b64decode(b"".join(match.group(2).split()), validate=True)
        except (binascii.Error, ValueError):
            continue
        found.add(hashlib.sha256(der).hexdigest())
    return found


def unique(roots: Iterable[Root]) -> tuple[Root, ...]:
    """Each certificate once (by fingerprint), in the order first found."""
    seen: dict[str, Root] = {}
    for root in roots:
        seen.setdefault(root.fingerprint, root)
    return tuple(seen.values())


@dataclass(frozen=True)
class TrustSetting:
    policy: str = ""  # "" when the setting names no policy (it covers all)
    result: str = ""  # "" when absent: kSecTrustSettingsResultTrustRoot


@dataclass(frozen=True)
class TrustedCert:
    """One entry of `security dump-trust-settings`: the label and its settings (none: the
    certificate is trusted as a root for everything, Keychain Access's "Always Trust")."""

    label: str
    settings: tuple[TrustSetting, ...] = field(default_factory=tuple)

    @property
    def trusted_for_tls(self) -> bool:
        if any(s.result == "kSecTrustSettingsResultDeny" for s in self.settings):
            return False
        if not self.settings:
            return True
        return any(s.result in TRUSTING_RESULTS and s.policy in TLS_POLICIES for s in self.settings)


_CERT_LINE = re.compile(r"^Cert \d+: (.*)$")
_FIELD_LINE = re.compile(r"^\s+(Policy OID|Result Type)\s*: (.*)$")
_SETTING_LINE = re.compile(r"^\s+Trust Setting \d+:\s*$")


def parse_trust_settings(text: str) -> tuple[TrustedCert, ...]:
    """`security dump-trust-settings [-d]` output (Apple's trusted_cert_dump.c layout):

        Number of trusted certs = 1
        Cert 0: Corp Root CA
           Number of trust settings : 1
           Trust Setting 0:
              Policy OID            : SSL
              Result Type           : kSecTrustSettingsResultTrustRoot

    "No Trust Settings were found." (exit 1) is no certificates, not an error.
    """
    certs: list[TrustedCert] = []
    label: str | None = None
    settings: list[dict[str, str]] = []

    def close() -> None:
        if label is not None:
            done = tuple(
                TrustSetting(s.get("Policy OID", ""), s.get("Result Type", "")) for s in settings
            )
            certs.append(TrustedCert(label, done))

    for line in text.splitlines():
        cert = _CERT_LINE.match(line)
        if cert:
            close()
            label, settings = cert.group(1).strip(), []
            continue
        if label is None:
            continue
        if _SETTING_LINE.match(line):
            settings.append({})
            continue
        value = _FIELD_LINE.match(line)
        if value and settings:
            settings[-1][value.group(1)] = value.group(2).strip()
    close()
    return tuple(certs)


def trusted_by_label(found: Found, trusted: Sequence[TrustedCert], domain: str) -> Found:
    """The keychain's CA certificates the trust settings trust for TLS, matched by label (the
    only name `dump-trust-settings` prints); the others are left out with a line each."""
    trusting = {t.label for t in trusted if t.trusted_for_tls}
    denied = {t.label for t in trusted if not t.trusted_for_tls}
    roots, skipped = [], list(found.skipped)
    for root in found.roots:
        if root.label in trusting and root.label not in denied:
            roots.append(root)
        elif root.label in denied:
            skipped.append(f"{root.describe()}: not trusted for TLS by the {domain} trust settings")
        else:
            skipped.append(f"{root.describe()}: no {domain} trust setting trusts it")
    return Found(tuple(roots), tuple(skipped))


def bundle_with(bundle: bytes, roots: Sequence[Root]) -> bytes:
    """The running system bundle with `roots` appended (each under a comment naming it)."""
    text = bundle if not bundle or bundle.endswith(b"\n") else bundle + b"\n"
    for root in roots:
        text += f"# {root.subject} (added by docker-vpn-helper)\n".encode() + root.pem
    return text
