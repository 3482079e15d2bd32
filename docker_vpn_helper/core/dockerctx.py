"""The docker context for a machine, as `docker context create/update/inspect` see it. Pure.

`docker context inspect NAME` prints a JSON list of one object: `Name`, `Metadata`
(`Description`), `Endpoints.docker` (`Host`, `SkipTLSVerify`), `TLSMaterial.docker` (file names)
and `Storage.TLSPath`, the folder whose `docker/{ca,cert,key}.pem` are the copies it made.
An unknown context prints `[]` and `context "NAME": context not found: ...` and exits 1.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# docker's own rule for context names; `default` is its built-in context and cannot be created.
_CONTEXT_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$")
RESERVED_NAME = "default"
TLS_FILES = ("ca.pem", "cert.pem", "key.pem")
# `--docker` is one CSV record of key=value fields: these would split or break it.
_UNSAFE = (",", '"', "\n", "\r")


def context_name(machine: str) -> str:
    """The machine's name, unless docker refuses it (`default`, one letter): docker-machine-NAME."""
    if machine != RESERVED_NAME and _CONTEXT_NAME.match(machine):
        return machine
    return f"docker-machine-{machine}"


@dataclass(frozen=True)
class Endpoint:
    """What the context should hold: the daemon's URL, its description, the client TLS files."""

    host: str
    cert_dir: Path
    description: str

    def spec(self) -> str:
        """The `--docker` value; raise ValueError when a path cannot be written in it."""
        fields = [f"host={self.host}"]
        for key, name in zip(("ca", "cert", "key"), TLS_FILES):
            path = str(self.cert_dir / name)
            if any(ch in path for ch in _UNSAFE):
                raise ValueError(
                    f"{path} contains a comma, a double quote or a line break, which docker's "
                    '--docker "host=...,ca=..." syntax cannot carry'
                )
            fields.append(f"{key}={path}")
        return ",".join(fields)


@dataclass(frozen=True)
class Context:
    """An existing context as `docker context inspect` describes it."""

    host: str
    skip_tls_verify: bool
    description: str
    tls_dir: Path | None  # where docker keeps its copies of the TLS files, None if it has none
    name: str = ""


def parse_inspect(text: str) -> Context | None:
    """Parse `docker context inspect NAME` stdout; None for `[]` (no such context).

    Raise ValueError when the text is not such JSON.
    """
    try:
        data = json.loads(text or "[]")
    except ValueError as exc:
        raise ValueError(f"docker context inspect printed no JSON: {exc}") from None
    if not isinstance(data, list) or (data and not isinstance(data[0], dict)):
        raise ValueError("docker context inspect printed something else than a list of contexts")
    if not data:
        return None
    entry = data[0]
    docker = (entry.get("Endpoints") or {}).get("docker") or {}
    tls_path = (entry.get("Storage") or {}).get("TLSPath") or ""
    has_tls = bool((entry.get("TLSMaterial") or {}).get("docker"))
    return Context(
        host=str(docker.get("Host") or ""),
        skip_tls_verify=bool(docker.get("SkipTLSVerify")),
        description=str((entry.get("Metadata") or {}).get("Description") or ""),
        tls_dir=Path(tls_path) / "docker" if has_tls and tls_path.startswith("/") else None,
        name=str(entry.get("Name") or ""),
    )


def differences(current: Context, wanted: Endpoint) -> list[str]:
    """What an existing context lacks, in words; empty when it is already right.

    The TLS files are compared by content: a regenerated CA or client pair makes docker's
    copies stale although the paths did not change.
    """
    found = []
    if current.host != wanted.host:
        found.append(f"host {current.host or 'unset'}")
    if current.skip_tls_verify:
        found.append("TLS verification off")
    if current.description != wanted.description:
        found.append("another description")
    if current.tls_dir is None:
        found.append("no TLS files")
    else:
        stale = [
            name
            for name in TLS_FILES
            if _read(current.tls_dir / name) != _read(wanted.cert_dir / name)
        ]
        if stale:
            found.append(f"other {', '.join(stale)}")
    return found


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


# -- what the user's docker will talk to (doctor) ----------------------------------------------


@dataclass(frozen=True)
class Target:
    """The daemon `docker` reaches from an environment, and how: `via` says where it comes from
    (DOCKER_HOST, a context), `tls` whether it verifies TLS, `cert_dir` the client files it
    presents (None: none)."""

    via: str
    host: str
    tls: bool
    cert_dir: Path | None


def target_from_environment(environ: Mapping[str, str]) -> Target | None:
    """docker's own rule: DOCKER_HOST wins over every context; with it, DOCKER_TLS_VERIFY (or
    DOCKER_TLS) turns TLS on and DOCKER_CERT_PATH (default: docker's config folder) holds the
    client files. None: no DOCKER_HOST, docker takes its context."""
    host = environ.get("DOCKER_HOST", "")
    if not host:
        return None
    tls = bool(environ.get("DOCKER_TLS_VERIFY") or environ.get("DOCKER_TLS"))
    config = environ.get("DOCKER_CONFIG") or str(Path(environ.get("HOME", "~")) / ".docker")
    cert_dir = Path(environ.get("DOCKER_CERT_PATH") or config)
    return Target(f"DOCKER_HOST={host}", host, tls, cert_dir)


def target_from_context(context: Context, chosen_by: str) -> Target:
    """A context's endpoint; `chosen_by` says how docker came to use it (DOCKER_CONTEXT, ...)."""
    tls = context.tls_dir is not None and not context.skip_tls_verify
    return Target(
        f"docker context {context.name!r} ({chosen_by})", context.host, tls, context.tls_dir
    )


@dataclass(frozen=True)
class Expected:
    """What reaching machine `machine` takes: its forward, its TLS files, its host-only address."""

    machine: str
    port: int  # the daemon's forward on 127.0.0.1
    cert_dir: Path  # the machine folder: DOCKER_CERT_PATH as env.print prints it
    vm_ip: str | None
    daemon_port: int
    others: Mapping[int, str]  # {host port: machine} of the store's other machines


def judge_target(target: Target, expected: Expected, hijacked: bool | None) -> tuple[str, str]:
    """(status, what was seen) for `target` against `expected`: "ok", "warn" (it works, but not
    with this machine or not behind a VPN) or "fail". `hijacked`: whether a VPN took the route to
    the VM's address (None: not known)."""
    from urllib.parse import urlsplit

    machine = expected.machine
    try:
        url = urlsplit(target.host)
        host, port = url.hostname or "", url.port
    except ValueError:
        return "fail", f"{target.via}: docker cannot use this address"
    if url.scheme == "ssh":
        if host == f"docker-machine-{machine}":
            return "ok", f"{target.via}: machine {machine!r} over SSH (env.ssh-config)"
        return "fail", f"{target.via}: not machine {machine!r}"
    if url.scheme not in ("tcp", "https", "http"):
        return "fail", f"{target.via}: docker talks to a local daemon, not to machine {machine!r}"
    forward = f"tcp://localhost:{expected.port}"
    if host in ("localhost", "127.0.0.1") and port == expected.port:
        if not target.tls:
            return "fail", (
                f"{target.via} without DOCKER_TLS_VERIFY=1: docker speaks plain HTTP to a "
                "daemon that only speaks TLS"
            )
        if target.cert_dir is None or not same_files(target.cert_dir, expected.cert_dir):
            where = target.cert_dir or "no TLS files"
            return "fail", (
                f"{target.via} with the client certificates of {where}, not machine "
                f"{machine!r}'s ({expected.cert_dir}): the daemon refuses them"
            )
        return "ok", f"{target.via}: machine {machine!r} through its forward, with its certificates"
    if host in ("localhost", "127.0.0.1") and port in expected.others:
        return "warn", f"{target.via}: machine {expected.others[port]!r}, not {machine!r}"
    if expected.vm_ip and host == expected.vm_ip and port == expected.daemon_port:
        if hijacked:
            return "fail", (
                f"{target.via}: the VPN took the route to {host}, so docker hangs; "
                f"{forward} reaches the same daemon"
            )
        return "warn", (
            f"{target.via}: the VM's host-only address works only until a VPN takes its route; "
            f"{forward} always works"
        )
    return "fail", f"{target.via}: not machine {machine!r} (its daemon is on {forward})"


def same_files(folder: Path, wanted: Path) -> bool:
    """Whether `folder` holds the same ca.pem, cert.pem and key.pem as `wanted`."""
    return all(
        _read(folder / name) is not None and _read(folder / name) == _read(wanted / name)
        for name in TLS_FILES
    )
