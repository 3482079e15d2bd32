"""cert.issue's core, checked with real tools: openssl and a real TLS handshake."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from docker_vpn_helper.core import certs
from docker_vpn_helper.errors import HelperError

from ..support import store as dm  # certificates made the way docker-machine makes them

NOW = dt.datetime.now(dt.timezone.utc)


@pytest.fixture(scope="module")
def ca_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ca")
    ca, ca_key = dm.issue_ca("jane")
    client, client_key = dm.issue_client(ca, ca_key, "jane")
    for name, data in {
        "ca.pem": dm.cert_pem(ca),
        "ca-key.pem": dm.key_pem(ca_key),
        "cert.pem": dm.cert_pem(client),
        "key.pem": dm.key_pem(client_key),
    }.items():
        (folder / name).write_bytes(data)
    return folder


@pytest.fixture(scope="module")
def authority(ca_files):
    return certs.load_authority(ca_files / "ca.pem", ca_files / "ca-key.pem", NOW)


NAMES = certs.wanted_names("default", ["192.168.99.100"], ["dev.example", "10.1.2.3"])


@pytest.fixture(scope="module")
def issued(authority):
    return certs.issue(authority, NAMES, "jane.default", NOW)


def test_wanted_names_put_loopback_first_and_split_ips_from_dns():
    assert NAMES.dns == ("localhost", "default", "dev.example")
    assert NAMES.ips == ("127.0.0.1", "192.168.99.100", "10.1.2.3")
    assert certs.wanted_names("m", [None, "127.0.0.1"], ["localhost"]).all() == [
        "localhost",
        "m",
        "127.0.0.1",
    ]


def test_issued_certificate_has_docker_machines_profile_plus_loopback(issued, authority):
    cert = x509.load_pem_x509_certificate(issued[0])
    assert certs.certificate_names(cert) == NAMES
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "jane.default"
    assert not cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert cert.signature_hash_algorithm.name == "sha256"
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca is False
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment and usage.key_agreement
    assert not usage.key_cert_sign
    assert cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ca_key_id = x509.SubjectKeyIdentifier.from_public_key(authority.cert.public_key()).digest
    assert aki.key_identifier == ca_key_id
    assert dt.timedelta(minutes=4) < NOW - cert.not_valid_before_utc <= dt.timedelta(minutes=6)
    assert cert.not_valid_after_utc - NOW <= dt.timedelta(days=certs.VALIDITY_DAYS)
    assert cert.public_key().key_size == 2048
    assert issued[1].startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    cert.verify_directly_issued_by(authority.cert)


def test_validity_never_outlives_the_ca(authority):
    late = authority.cert.not_valid_after_utc - dt.timedelta(days=10)
    cert = x509.load_pem_x509_certificate(certs.issue(authority, NAMES, "o", late)[0])
    assert cert.not_valid_after_utc == authority.cert.not_valid_after_utc


def test_openssl_agrees(tmp_path, issued, ca_files):
    (tmp_path / "server.pem").write_bytes(issued[0])
    verify = subprocess.run(
        ["openssl", "verify", "-CAfile", ca_files / "ca.pem", tmp_path / "server.pem"],
        capture_output=True,
        text=True,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    check = subprocess.run(
        [
            "openssl",
            "x509",
            "-noout",
            "-in",
            tmp_path / "server.pem",
            "-checkhost",
            "localhost",
            "-checkip",
            "127.0.0.1",
        ],
        capture_output=True,
        text=True,
    )
    assert "Hostname localhost does match certificate" in check.stdout
    assert "IP 127.0.0.1 does match certificate" in check.stdout


def _usages(cert: x509.Certificate):
    ext = cert.extensions
    return (
        certs.certificate_names(cert),
        list(ext.get_extension_for_class(x509.ExtendedKeyUsage).value),
        ext.get_extension_for_class(x509.KeyUsage).value,
        ext.get_extension_for_class(x509.BasicConstraints).value,
        cert.subject,
    )


def test_openssl_config_reproduces_the_same_names_and_usages(tmp_path, issued, ca_files):
    config = certs.render_openssl_config(NAMES, "jane.default", "default", certs.VALIDITY_DAYS)
    (tmp_path / "openssl.cnf").write_text(config)
    for step in (
        [
            "openssl",
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "k.pem",
            "-config",
            "openssl.cnf",
            "-out",
            "s.csr",
        ],
        [
            "openssl",
            "x509",
            "-req",
            "-in",
            "s.csr",
            "-CA",
            ca_files / "ca.pem",
            "-CAkey",
            ca_files / "ca-key.pem",
            "-CAcreateserial",
            "-sha256",
            "-days",
            "1080",
            "-extfile",
            "openssl.cnf",
            "-extensions",
            "v3_server",
            "-out",
            "s.pem",
        ],
    ):
        done = subprocess.run(step, cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    by_openssl = x509.load_pem_x509_certificate((tmp_path / "s.pem").read_bytes())
    assert _usages(by_openssl) == _usages(x509.load_pem_x509_certificate(issued[0]))


def test_openssl_config_escapes_hostile_values():
    names = certs.SubjectNames(("localhost", "a$HOME#x"), ("127.0.0.1",))
    config = certs.render_openssl_config(names, 'o"$USER;x', "m", 9999)
    assert "DNS.2 = a\\$HOME\\#x" in config
    assert 'O = o\\"\\$USER\\;x' in config
    assert "-days 1080" in config


def _serve_once(cert_file: Path, key_file: Path, port_holder: list, ready):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    # Not verifying the client here: docker-machine's client cert has the CA's own subject
    # (O=<user>), which OpenSSL takes for self-signed; dockerd (Go) accepts it, as the lab shows.
    context.verify_mode = ssl.CERT_NONE
    with socket.create_server(("127.0.0.1", 0)) as server:
        port_holder.append(server.getsockname()[1])
        ready.set()
        for _ in range(2):
            conn, _ = server.accept()
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(b"ok")


def test_tls_handshake_with_hostname_checks_for_localhost_and_127(tmp_path, issued, ca_files):
    (tmp_path / "server.pem").write_bytes(issued[0])
    (tmp_path / "server-key.pem").write_bytes(issued[1])
    port, ready = [], threading.Event()
    thread = threading.Thread(
        target=_serve_once,
        args=(tmp_path / "server.pem", tmp_path / "server-key.pem", port, ready),
        daemon=True,
    )
    thread.start()
    assert ready.wait(5)
    client = ssl.create_default_context(cafile=str(ca_files / "ca.pem"))
    client.load_cert_chain(ca_files / "cert.pem", ca_files / "key.pem")
    for name in ("localhost", "127.0.0.1"):
        with (
            socket.create_connection(("127.0.0.1", port[0]), timeout=5) as raw,
            client.wrap_socket(raw, server_hostname=name) as tls,
        ):
            assert tls.recv(2) == b"ok"
    thread.join(5)


def test_a_docker_machine_v016_certificate_lacks_127_0_0_1(authority, ca_files):
    cert, key = dm.issue_server(
        authority.cert, authority.key, "jane.default", ["192.168.99.100", "localhost"]
    )
    found = certs.problems(dm.cert_pem(cert), dm.key_pem(key), authority, NAMES, NOW, 30)
    assert found == ["the old certificate lacks default, dev.example, 127.0.0.1, 10.1.2.3"]


def test_a_good_certificate_has_no_problems(authority, issued):
    assert certs.problems(issued[0], issued[1], authority, NAMES, NOW, 30) == []


def test_problems_are_named(authority, issued):
    other_ca, other_key = dm.issue_ca("mallory")
    foreign = certs.Authority(other_ca, other_key, Path("x"))
    assert "it is not signed by this store's CA" in certs.problems(
        issued[0], issued[1], foreign, NAMES, NOW, 30
    )
    _, wrong_key = certs.issue(authority, NAMES, "o", NOW)
    assert certs.problems(issued[0], wrong_key, authority, NAMES, NOW, 30) == [
        "the server key does not match it"
    ]
    later = NOW + dt.timedelta(days=1070)
    assert certs.problems(issued[0], issued[1], authority, NAMES, later, 30)[0].startswith(
        "it expires in 9 days"
    )
    assert certs.problems(None, None, authority, NAMES, NOW, 30) == [
        "there is no server certificate"
    ]
    assert certs.problems(b"junk", None, authority, NAMES, NOW, 30) == [
        "the server certificate is not a PEM certificate"
    ]


def test_fingerprint_ignores_pem_layout(issued):
    assert certs.fingerprint(issued[0]) == certs.fingerprint(issued[0].replace(b"\n", b"\r\n"))


@pytest.fixture
def broken_ca(tmp_path, ca_files):
    for name in ("ca.pem", "ca-key.pem"):
        (tmp_path / name).write_bytes((ca_files / name).read_bytes())
    return tmp_path


def test_ca_errors_are_one_line(broken_ca):
    cert, key = broken_ca / "ca.pem", broken_ca / "ca-key.pem"
    key.unlink()
    with pytest.raises(HelperError, match=f"CA key {key} is missing"):
        certs.load_authority(cert, key, NOW)
    other = dm.issue_ca("x")[1]
    key.write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(HelperError, match="is encrypted"):
        certs.load_authority(cert, key, NOW)
    key.write_bytes(dm.key_pem(other))
    with pytest.raises(HelperError, match="does not match CA certificate"):
        certs.load_authority(cert, key, NOW)
    key.write_text("garbage")
    with pytest.raises(HelperError, match="is not a PEM private key"):
        certs.load_authority(cert, key, NOW)


def test_expired_ca_is_refused(tmp_path):
    ca, key = dm.issue_ca("old")
    expired = (
        x509.CertificateBuilder()
        .subject_name(ca.subject)
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - dt.timedelta(days=2000))
        .not_valid_after(NOW - dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "ca.pem").write_bytes(dm.cert_pem(expired))
    (tmp_path / "ca-key.pem").write_bytes(dm.key_pem(key))
    with pytest.raises(HelperError, match="expired on"):
        certs.load_authority(tmp_path / "ca.pem", tmp_path / "ca-key.pem", NOW)
