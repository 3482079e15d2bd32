"""The Docker engine API through the fixed path (tcp://localhost:<port>, mutual TLS), by the Docker
SDK for Python, the field's own client. `docker` (and requests under it) is imported inside the
functions only: `env.print` must start without it.

Two choices made here, each checked by tests/adapters/test_engine.py:

* The client ignores the environment (requests' `trust_env = False`). requests otherwise lets
  REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE replace the CA given to the SDK (`TLSConfig(ca_cert=...)`
  ends up as the session's `verify`, which a per-request value from the environment overrides), and
  the daemon's certificate fails with `unable to get local issuer certificate`; it would also send
  localhost through HTTPS_PROXY. The docker CLI ignores both, and so does this.
* API version 1.24 (Docker 1.12, the SDK's minimum), not negotiated: every boot2docker from 1.12 to
  19.03 speaks it, `/containers/json` and `/events` carry all we read at that version, and it saves
  the `/version` round trip a negotiation costs on each connection.
"""

from __future__ import annotations

import contextlib
import re
import ssl
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import HelperError

API_VERSION = "1.24"
TIMEOUT = 10.0  # seconds for one request (the event stream itself never times out)


class Engine:
    """One client (one pool of TLS connections) to the daemon behind 127.0.0.1:<port>."""

    def __init__(
        self,
        port: int,
        ca_cert: Path,
        client_cert: Path,
        client_key: Path,
        *,
        timeout: float = TIMEOUT,
    ) -> None:
        import docker

        self.url = f"tcp://localhost:{port}"
        self.client_cert = client_cert
        try:
            tls = docker.tls.TLSConfig(
                client_cert=(str(client_cert), str(client_key)), ca_cert=str(ca_cert), verify=True
            )
            self._api = docker.APIClient(
                base_url=self.url, tls=tls, version=API_VERSION, timeout=timeout
            )
        except docker.errors.DockerException as exc:  # TLSParameterError: a file is missing
            raise HelperError(
                f"cannot use the Docker client certificates: {_one_line(exc)}"
            ) from None
        self._api.trust_env = False

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._api.close()

    def containers(self) -> list[dict[str, Any]]:
        """`GET /containers/json`: the running containers, as the engine API lists them."""
        try:
            return list(self._api.containers())
        except Exception as exc:
            raise self._failure("for its containers", exc) from None

    def events(self, actions: Iterable[str] | None = None, since: float | None = None) -> Events:
        """Open `GET /events` for container events (only `actions`, e.g. start/die, if given).

        The request is made here, so a caller that opens the stream before listing the
        containers misses no event in between; `since` (the daemon's clock) replays older ones.
        """
        return Events(self._open_events(actions, since))

    def _open_events(self, actions: Iterable[str] | None, since: float | None) -> Any:
        filters: dict[str, list[str]] = {"type": ["container"]}
        if actions is not None:
            filters["event"] = sorted(actions)
        try:
            return self._api.events(decode=True, filters=filters, since=since)
        except Exception as exc:
            raise self._failure("for its events", exc) from None

    def _failure(self, what: str, exc: BaseException) -> HelperError:
        reason = _reason(exc, self.client_cert)
        return HelperError(f"cannot ask the Docker daemon at {self.url} {what}: {reason}")


class Events:
    """A live event stream: iterating yields decoded events (`{"Type": "container", "Action":
    "start", "Actor": {"ID": ..., "Attributes": {"name": ...}}, ...}`) and ends when the daemon
    closes the stream (it stops or restarts) or `close()` is called, from any thread."""

    def __init__(self, stream: Any, owner: Engine | None = None) -> None:
        self._stream = stream
        self._owner = owner  # closed with the stream, when the stream has a client of its own

    def __iter__(self) -> Iterator[dict[str, Any]]:
        try:
            for event in self._stream:  # the SDK ends it on a reset or a protocol error
                if isinstance(event, dict):
                    yield event
        finally:
            self.close()

    def __enter__(self) -> Events:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):  # already closed by the daemon
            self._stream.close()
        if self._owner is not None:
            self._owner.close()


def containers(port: int, ca_cert: Path, client_cert: Path, client_key: Path) -> list[dict]:
    """The running containers of the daemon behind 127.0.0.1:<port> (one connection)."""
    with Engine(port, ca_cert, client_cert, client_key) as engine:
        return engine.containers()


def events(
    port: int,
    ca_cert: Path,
    client_cert: Path,
    client_key: Path,
    actions: Iterable[str] | None = None,
) -> Events:
    """Container events of the daemon behind 127.0.0.1:<port>, on a connection of their own."""
    engine = Engine(port, ca_cert, client_cert, client_key)
    try:
        return Events(engine._open_events(actions, None), owner=engine)
    except BaseException:
        engine.close()
        raise


def _reason(exc: BaseException, client_cert: Path) -> str:
    """One line for what went wrong, from under the SDK's and urllib3's wrappers."""
    import docker
    import requests

    if isinstance(exc, docker.errors.APIError):
        status = exc.response.status_code if exc.response is not None else "?"
        text = _one_line(exc.explanation or exc)
        if "is newer than server" in text:
            text += "; the Docker SDK needs Docker 1.12 or later in the VM (docker-machine upgrade)"
        return f"it answered {status}: {text}"
    if isinstance(exc, requests.exceptions.Timeout):
        return "no answer in time"
    chain = list(_causes(exc))
    for cause in chain:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"its certificate was rejected: {cause.verify_message or cause.reason}"
    for cause in chain:
        if isinstance(cause, ssl.SSLError):  # an alert, or EOF: TLS 1.3 refuses clients late
            detail = re.sub(r" \(_ssl\.c:\d+\)$", "", _one_line(cause.strerror or cause))
            return f"the TLS handshake failed ({detail}): does the daemon trust {client_cert}?"
    for cause in reversed(chain):
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
    return _one_line(chain[-1])


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """exc, then what it wraps: __cause__/__context__, urllib3's `reason`, exceptions in args."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        inner = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        inner += list(current.args)
        todo += [e for e in inner if isinstance(e, BaseException)]


def _one_line(value: object) -> str:
    text = re.sub(r"\s+", " ", str(value)).strip()
    # urllib3 names its objects: "<urllib3.connection.HTTPSConnection object at 0x7f...>: ..."
    return re.sub(r"<[\w.]+ object at 0x[0-9a-f]+>: ", "", text)
