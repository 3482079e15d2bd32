"""Ask the Docker daemon a real question over TLS, exactly as the Docker client would."""

from __future__ import annotations

import json
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path

POLL = 0.02  # seconds between probes while the daemon restarts (each probe is a few ms)
# OpenSSL's (and LibreSSL's) reasons for a peer whose first bytes are not a TLS record: an
# HTTP server, an SSH banner, any plain protocol.
NOT_TLS = frozenset(
    {
        "WRONG_VERSION_NUMBER",
        "UNKNOWN_PROTOCOL",
        "HTTP_REQUEST",
        "PACKET_LENGTH_TOO_LONG",
        "RECORD_LAYER_FAILURE",
    }
)


@dataclass(frozen=True)
class Probe:
    ok: bool
    detail: str  # one line: the server version, or why the request failed
    served_cert: bytes | None = None  # DER of the certificate the daemon presented
    not_tls: bool = False  # something answered, but not with TLS: not dockerd


def probe(
    port: int,
    ca_cert: Path,
    client_cert: Path,
    client_key: Path,
    *,
    host: str = "127.0.0.1",
    server_name: str | None = "localhost",
    timeout: float = 3.0,
) -> Probe:
    """GET /version through host:port, verifying the daemon's certificate for `server_name`.

    Like `docker --tlsverify -H tcp://localhost:PORT version`: mutual TLS with the machine's
    client certificate, the store's CA, and hostname checking (none when `server_name` is None:
    after a rollback the old certificate may not name localhost, yet the daemon must answer).
    """
    try:
        context = ssl.create_default_context(cafile=str(ca_cert))
        context.load_cert_chain(str(client_cert), str(client_key))
        context.check_hostname = server_name is not None
    except (OSError, ssl.SSLError) as exc:
        return Probe(False, f"cannot load the client certificates: {exc}")
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=server_name or host) as tls,
        ):
            served = tls.getpeercert(binary_form=True)
            request = (
                f"GET /version HTTP/1.1\r\nHost: {server_name or host}\r\nConnection: close\r\n\r\n"
            )
            tls.sendall(request.encode())
            response = _read_all(tls)
    except ssl.SSLCertVerificationError as exc:
        return Probe(False, f"the daemon's certificate was rejected: {exc.verify_message}")
    except (OSError, ssl.SSLError) as exc:
        reason = "timed out" if isinstance(exc, socket.timeout) else (exc.strerror or str(exc))
        plain = isinstance(exc, ssl.SSLError) and exc.reason in NOT_TLS
        return Probe(False, f"{host}:{port}: {reason}", not_tls=plain)
    head, _, body = response.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode(errors="replace")
    if " 200 " not in f"{status} ":
        return Probe(False, f"the daemon answered {status or 'nothing'}", served)
    return Probe(True, f"Docker {_version(body)}", served)


def _read_all(tls: ssl.SSLSocket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = tls.recv(65536)
        except ssl.SSLZeroReturnError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _version(body: bytes) -> str:
    start, end = body.find(b"{"), body.rfind(b"}")
    try:
        return str(json.loads(body[start : end + 1]).get("Version", "?"))
    except ValueError:
        return "?"


def wait_for(
    port: int,
    ca_cert: Path,
    client_cert: Path,
    client_key: Path,
    *,
    expected_cert: bytes | None,
    deadline: float,
    server_name: str | None = "localhost",
) -> Probe:
    """Probe until the daemon answers presenting `expected_cert` (DER), or `deadline` passes."""
    while True:
        result = probe(port, ca_cert, client_cert, client_key, server_name=server_name)
        if result.ok and (expected_cert is None or result.served_cert == expected_cert):
            return result
        if time.monotonic() >= deadline:
            if result.ok:
                return Probe(
                    False, "the daemon still presents the previous certificate", result.served_cert
                )
            return result
        time.sleep(POLL)
