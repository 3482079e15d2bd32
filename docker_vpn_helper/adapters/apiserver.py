"""The API server of minikube's VM as a client meets it through its forward: the certificate
it presents on 127.0.0.1:<port> to a client presenting the profile's client certificate."""

from __future__ import annotations

import socket
import ssl
import time
from pathlib import Path


def served_certificate(
    port: int, client_cert: Path, client_key: Path, wait: float = 5.0
) -> tuple[bytes | None, str]:
    """(the certificate served, DER; None and why when nothing presented one within `wait`
    seconds: a forward VirtualBox just added may take a moment). The certificate is judged by
    the caller (core/minikube.apiserver_problem), so this handshake does not verify it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.load_cert_chain(str(client_cert), str(client_key))
    deadline = time.monotonic() + wait
    while True:
        try:
            raw = socket.create_connection(("127.0.0.1", port), timeout=2.0)
            with raw, context.wrap_socket(raw) as tls:
                return tls.getpeercert(binary_form=True), ""
        except (OSError, ssl.SSLError) as exc:
            why = str(exc) or type(exc).__name__
        if time.monotonic() > deadline:
            return None, why
        time.sleep(0.1)
