"""The engine adapter against a small engine API on 127.0.0.1 behind real mutual TLS.

The real dockerd is in tests/lab/test_engine.py; here the failures are made to order.
"""

from __future__ import annotations

import json
import queue
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from docker_vpn_helper.adapters import engine
from docker_vpn_helper.errors import HelperError

from ..ports import free_port
from ..support import store as dm  # certificates made the way docker-machine makes them

WEB = {
    "Id": "aaaa" * 16,
    "Names": ["/web"],
    "Ports": [
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
    ],
}
DB = {"Id": "bbbb" * 16, "Names": ["/db"], "Ports": []}
JOB = {"Id": "cccc" * 16, "Names": ["/job"], "Ports": []}
END = object()


@dataclass
class FakeEngine:
    """What the fake daemon serves and what it was asked."""

    port: int
    containers: list = field(default_factory=lambda: [WEB, DB, JOB])
    events: queue.Queue = field(default_factory=queue.Queue)
    requests: list = field(default_factory=list)
    status: int = 200
    body: dict | None = None
    silent: bool = False


def _handler(fake: FakeEngine) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            fake.requests.append((url.path, parse_qs(url.query)))
            if fake.silent:
                time.sleep(3)
                return
            if fake.status != 200:
                return self._json(fake.body or {"message": "boom"}, fake.status)
            if url.path == "/v1.24/containers/json":
                return self._json(fake.containers)
            if url.path == "/v1.24/events":
                return self._stream()
            self._json({"message": "No such container"}, 404)

        def _json(self, value, status: int = 200) -> None:
            body = json.dumps(value).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _stream(self) -> None:  # like dockerd: chunked, one JSON document per chunk
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            while True:
                event = fake.events.get()
                if event is END:  # the daemon stops: the connection just closes
                    self.close_connection = True
                    return
                data = json.dumps(event).encode() + b"\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

    return Handler


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    """docker-machine's CA, client pair and a server certificate naming localhost; plus an
    unrelated CA and a server certificate without localhost."""
    folder = tmp_path_factory.mktemp("pki")
    ca, ca_key = dm.issue_ca("jane")
    # docker-machine gives the client certificate its CA's subject (O=<user>): Go's verifier
    # copes, OpenSSL's takes it for self-signed. Python's server here uses OpenSSL.
    client, client_key = dm.issue_client(ca, ca_key, "jane.client")
    server, server_key = dm.issue_server(
        ca, ca_key, "jane.default", ["192.168.99.100", "localhost"]
    )
    bare, bare_key = dm.issue_server(ca, ca_key, "jane.default", ["192.168.99.100"], "v0.4")
    other, _ = dm.issue_ca("someone else")
    files = {
        "ca.pem": dm.cert_pem(ca),
        "cert.pem": dm.cert_pem(client),
        "key.pem": dm.key_pem(client_key),
        "server.pem": dm.cert_pem(server),
        "server-key.pem": dm.key_pem(server_key),
        "bare.pem": dm.cert_pem(bare),
        "bare-key.pem": dm.key_pem(bare_key),
        "other-ca.pem": dm.cert_pem(other),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def _serve(
    pki: Path, server_cert: str = "server", client_ca: str = "ca.pem"
) -> Iterator[FakeEngine]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki / f"{server_cert}.pem", pki / f"{server_cert}-key.pem")
    context.load_verify_locations(pki / client_ca)
    context.verify_mode = ssl.CERT_REQUIRED  # dockerd --tlsverify
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.daemon_threads = True
    fake = FakeEngine(server.server_address[1])
    server.RequestHandlerClass = _handler(fake)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.events.put(END)
        server.shutdown()
        server.server_close()


@pytest.fixture
def daemon(pki) -> Iterator[FakeEngine]:
    yield from _serve(pki)


def tls_files(pki: Path, ca: str = "ca.pem") -> tuple[Path, Path, Path]:
    return pki / ca, pki / "cert.pem", pki / "key.pem"


# --- what it asks ------------------------------------------------------------------------------


def test_containers_are_the_raw_list_asked_at_api_1_24(daemon, pki):
    assert engine.containers(daemon.port, *tls_files(pki)) == [WEB, DB, JOB]
    ((path, query),) = daemon.requests
    assert path == "/v1.24/containers/json" and query["all"] == ["0"]  # running ones only


def test_one_engine_answers_several_questions(daemon, pki):
    with engine.Engine(daemon.port, *tls_files(pki)) as client:
        assert client.containers() == client.containers() == [WEB, DB, JOB]


def test_events_are_asked_for_containers_only_and_end_with_the_stream(daemon, pki):
    stream = engine.events(daemon.port, *tls_files(pki), actions=("start", "die"))
    # The request is made before the first event is read: nothing happens in between unseen.
    assert daemon.requests == [
        ("/v1.24/events", {"filters": ['{"type": ["container"], "event": ["die", "start"]}']})
    ]
    start = {"Type": "container", "Action": "start", "Actor": {"ID": "aaaa"}, "status": "start"}
    die = {**start, "Action": "die", "status": "die"}
    daemon.events.put(start)
    daemon.events.put(die)
    daemon.events.put(END)
    assert list(stream) == [start, die]


def test_an_event_stream_can_be_closed_from_another_thread(daemon, pki):
    with engine.Engine(daemon.port, *tls_files(pki)) as client:
        stream = client.events()
        seen: list = []
        reader = threading.Thread(target=lambda: seen.extend(stream), daemon=True)
        reader.start()
        daemon.events.put({"Type": "container", "Action": "create"})
        deadline = time.monotonic() + 5
        while not seen and time.monotonic() < deadline:
            time.sleep(0.01)
        stream.close()
        reader.join(5)
        assert not reader.is_alive() and seen == [{"Type": "container", "Action": "create"}]
        assert client.containers() == [WEB, DB, JOB]  # the client itself still works


# --- the environment does not change the CA or the route ------------------------------------


@pytest.fixture
def foreign_ca_bundle(pki, tmp_path, monkeypatch) -> Path:
    """What pitfall 8 of the lab notes found: a CA bundle in the environment that lacks
    docker-machine's CA (a corporate bundle, or the system's)."""
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes((pki / "other-ca.pem").read_bytes())
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(bundle))
    return bundle


def test_requests_ca_bundle_does_override_the_sdks_ca(daemon, pki, foreign_ca_bundle):
    # Why the adapter turns trust_env off: the SDK alone fails with this variable set.
    import docker
    import requests

    ca, cert, key = tls_files(pki)
    tls = docker.tls.TLSConfig(client_cert=(str(cert), str(key)), ca_cert=str(ca), verify=True)
    plain = docker.APIClient(f"tcp://localhost:{daemon.port}", tls=tls, version="1.24")
    # (Python's server sends its CA along, so OpenSSL words it "self-signed ... in chain"; with
    # dockerd, which sends the leaf alone, it is "unable to get local issuer certificate".)
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        plain.containers()
    plain.close()


def test_ca_bundle_and_proxy_variables_are_ignored(daemon, pki, foreign_ca_bundle, monkeypatch):
    dead = f"http://127.0.0.1:{free_port()}"
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, dead)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert engine.containers(daemon.port, *tls_files(pki)) == [WEB, DB, JOB]


# --- failures: one line each -----------------------------------------------------------------


def one_line_error(port: int, *files: Path, **kwargs) -> str:
    with pytest.raises(HelperError) as info, engine.Engine(port, *files, **kwargs) as client:
        client.containers()
    message = info.value.message
    assert "\n" not in message and " object at 0x" not in message, message
    return message


def test_nothing_listening(pki):
    port = free_port()
    assert one_line_error(port, *tls_files(pki)) == (
        f"docker-vpn-helper: cannot ask the Docker daemon at tcp://localhost:{port} "
        "for its containers: Connection refused"
    )


def test_a_daemon_certificate_from_another_ca(daemon, pki):
    message = one_line_error(daemon.port, *tls_files(pki, "other-ca.pem"))
    assert " for its containers: its certificate was rejected: " in message
    assert message.endswith(
        ("self-signed certificate in certificate chain", "local issuer certificate")
    )


def test_a_daemon_certificate_without_localhost(pki):
    for bare in _serve(pki, server_cert="bare"):
        message = one_line_error(bare.port, *tls_files(pki))
        assert "its certificate was rejected: Hostname mismatch" in message
        assert "'localhost'" in message


def test_a_client_certificate_the_daemon_refuses(pki):
    for strict in _serve(pki, client_ca="other-ca.pem"):
        message = one_line_error(strict.port, *tls_files(pki))
        assert ": the TLS handshake failed (" in message, message
        assert message.endswith(f"): does the daemon trust {pki / 'cert.pem'}?")


def test_missing_client_certificates(pki, tmp_path):
    with pytest.raises(HelperError, match=r"^cannot use the Docker client certificates: "):
        engine.Engine(2376, pki / "ca.pem", tmp_path / "cert.pem", pki / "key.pem")


def test_a_daemon_too_old_for_the_sdk(daemon, pki):
    daemon.status, daemon.body = (
        400,
        {
            "message": "client is newer than server (client API version: 1.24, server API version: 1.23)"
        },
    )
    message = one_line_error(daemon.port, *tls_files(pki))
    assert message.endswith(
        "it answered 400: client is newer than server (client API version: 1.24, server API "
        "version: 1.23); the Docker SDK needs Docker 1.12 or later in the VM (docker-machine upgrade)"
    )


def test_a_daemon_error(daemon, pki):
    daemon.status = 500
    assert one_line_error(daemon.port, *tls_files(pki)).endswith("it answered 500: boom")


def test_a_daemon_that_does_not_answer(daemon, pki):
    daemon.silent = True
    message = one_line_error(daemon.port, *tls_files(pki), timeout=0.3)
    assert message.endswith("for its containers: no answer in time")


def test_events_that_cannot_start_are_one_line(pki):
    port = free_port()
    with pytest.raises(HelperError, match=r"for its events: Connection refused$"):
        engine.events(port, *tls_files(pki))


def test_the_sdk_is_imported_only_when_asked():
    code = (
        "import sys\n"
        "import docker_vpn_helper.adapters.engine\n"
        "print(sorted(m for m in ('docker', 'requests', 'urllib3') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
