"""The TLS probe against real sockets: what it says when the port's program is not dockerd."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from docker_vpn_helper.adapters import daemon
from tests.support import store as dm


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """The store's CA and client pair, as docker-machine makes them."""
    store = tmp_path_factory.mktemp("store")
    dm.create_certs(store)
    certs = store / "certs"
    return certs / "ca.pem", certs / "cert.pem", certs / "key.pem"


@contextlib.contextmanager
def plain_server(first_words: bytes) -> Iterator[int]:
    """A program on 127.0.0.1 that reads the client's first bytes and answers `first_words`."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def answer() -> None:
        with listener:
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                with conn:
                    conn.recv(4096)
                    conn.sendall(first_words)

    threading.Thread(target=answer, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


@pytest.mark.parametrize(
    "first_words",
    [b"HTTP/1.0 400 Bad Request\r\n\r\nno", b"SSH-2.0-OpenSSH_9.2p1\r\n"],
    ids=["http", "ssh"],
)
def test_a_program_that_does_not_speak_tls_is_said_to(client, first_words):
    with plain_server(first_words) as port:
        found = daemon.probe(port, *client, timeout=3)
    assert not found.ok and found.not_tls, found
    assert "WRONG_VERSION_NUMBER" in found.detail or "wrong version" in found.detail


def test_nothing_listening_is_not_a_program_without_tls(client):
    with socket.socket() as probe_port:
        probe_port.bind(("127.0.0.1", 0))
        port = probe_port.getsockname()[1]
    found = daemon.probe(port, *client, timeout=3)
    assert not found.ok and not found.not_tls
    assert found.detail == f"127.0.0.1:{port}: Connection refused"
