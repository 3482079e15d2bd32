"""core.trust: the host's extra roots from PEM text and macOS trust settings."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import serialization

from docker_vpn_helper.core import trust

from ..support import corp
from .fixtures import load


@pytest.fixture(scope="module")
def pki():
    root, root_key = corp.company_root("Example Corp Root CA")
    other, _ = corp.company_root("Zscaler Root CA")
    identity, identity_key = corp.company_root("jane@example.com device", ca=False)
    leaf, _ = corp.server_cert(root, root_key, ["registry.corp.test"])
    return {
        "root": root,
        "other": other,
        "identity": identity,
        "identity_key": identity_key,
        "leaf": leaf,
    }


def der_sha256(cert) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def test_read_pem_keeps_only_ca_certificates_and_refuses_keys(pki) -> None:
    bundle = b"".join(
        [
            b"# the IT department's bundle\n",
            corp.pem(pki["root"]),
            corp.key_pem(pki["identity_key"]),
            corp.pem(pki["identity"]),
            corp.pem(pki["leaf"]),
            corp.pem(pki["other"]),
        ]
    )
    found = trust.read_pem(bundle, "bundle.pem")
    assert [r.fingerprint for r in found.roots] == [
        der_sha256(pki["root"]),
        der_sha256(pki["other"]),
    ]
    assert found.roots[0].subject == "CN=Example Corp Root CA,O=Example Corp"
    assert found.roots[0].label == "Example Corp Root CA"
    assert found.skipped == (
        "bundle.pem, block 2: a private key, never copied",
        "bundle.pem, block 3: CN=jane@example.com device,O=Example Corp is not a CA certificate",
        "bundle.pem, block 4: CN=registry.corp.test,O=Example Corp is not a CA certificate",
    )
    # nothing of the key travels on: no root's PEM holds key material
    assert all(b"PRIVATE KEY" not in r.pem for r in found.roots)


def test_read_pem_names_blocks_it_cannot_read(pki) -> None:
    broken = b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"
    csr = b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
    found = trust.read_pem(broken + csr, "x.pem")
    assert found.roots == ()
    assert found.skipped == (
        "x.pem, block 1: not a readable certificate",
        "x.pem, block 2: a CERTIFICATE REQUEST, not a certificate",
    )


def test_unique_keeps_the_first_of_each_fingerprint(pki) -> None:
    a = trust.read_pem(corp.pem(pki["root"]), "System.keychain")
    b = trust.read_pem(corp.pem(pki["root"]) + corp.pem(pki["other"]), "bundle.pem")
    roots = trust.unique([*a.roots, *b.roots])
    assert [r.source for r in roots] == ["System.keychain", "bundle.pem"]
    assert len(roots) == 2


def test_guest_name_and_description(pki) -> None:
    root = trust.read_pem(corp.pem(pki["root"]), "s").roots[0]
    assert (
        root.guest_path
        == f"/var/lib/boot2docker/certs/docker-vpn-helper-{root.fingerprint[:16]}.pem"
    )
    assert root.describe().startswith("CN=Example Corp Root CA,O=Example Corp (SHA-256 ")
    assert trust.colon_hex("ab01ff") == "AB:01:FF"


def test_fingerprints_of_a_bundle_match_the_certificates(pki) -> None:
    bundle = corp.pem(pki["root"]) + b"\n# comment\n" + corp.pem(pki["leaf"])
    assert trust.fingerprints(bundle) == {der_sha256(pki["root"]), der_sha256(pki["leaf"])}
    assert (
        trust.fingerprints(b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----") == set()
    )


def test_bundle_with_appends_each_root_under_its_name(pki) -> None:
    root = trust.read_pem(corp.pem(pki["root"]), "s").roots[0]
    grown = trust.bundle_with(
        b"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----", [root]
    )
    assert grown.endswith(root.pem)
    assert b"-----END CERTIFICATE-----\n# CN=Example Corp Root CA" in grown
    assert root.fingerprint in trust.fingerprints(grown)


@pytest.mark.parametrize(
    ("label", "trusted"),
    [
        ("Example Corp Root CA", True),  # no settings: "Always Trust"
        ("Example Corp Code Signing", False),  # trusted, but only to sign code
        ("Old Proxy Root", False),  # denied for SSL
    ],
)
def test_admin_trust_settings(label: str, trusted: bool) -> None:
    certs = {c.label: c for c in trust.parse_trust_settings(load("dump_trust_settings_admin.txt"))}
    assert set(certs) == {"Example Corp Root CA", "Example Corp Code Signing", "Old Proxy Root"}
    assert certs[label].trusted_for_tls is trusted


def test_user_trust_settings_trust_as_root_for_ssl() -> None:
    (cert,) = trust.parse_trust_settings(load("dump_trust_settings_user.txt"))
    assert cert == trust.TrustedCert(
        "Zscaler Root CA",
        (trust.TrustSetting("SSL", "kSecTrustSettingsResultTrustAsRoot"),),
    )
    assert cert.trusted_for_tls


def test_no_trust_settings_found_is_no_certificates() -> None:
    assert (
        trust.parse_trust_settings(
            "SecTrustSettingsCopyCertificates: No Trust Settings were found.\n"
        )
        == ()
    )


def test_trusted_by_label_keeps_what_the_settings_trust(pki) -> None:
    found = trust.read_pem(corp.pem(pki["root"]) + corp.pem(pki["other"]), "System.keychain")
    settings = trust.parse_trust_settings(load("dump_trust_settings_admin.txt"))
    kept = trust.trusted_by_label(found, settings, "admin")
    assert [r.label for r in kept.roots] == ["Example Corp Root CA"]
    assert kept.skipped[-1].endswith(": no admin trust setting trusts it")
    assert kept.skipped[-1].startswith("CN=Zscaler Root CA")
