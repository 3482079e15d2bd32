"""Free TCP ports for the tests' own listeners."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A 127.0.0.1 port nothing listens on (at the moment of asking)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
