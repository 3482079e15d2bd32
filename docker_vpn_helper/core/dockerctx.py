"""The docker context for a machine, as `docker context create/update/inspect` see it. Pure.

`docker context inspect NAME` prints a JSON list of one object: `Name`, `Metadata`
(`Description`), `Endpoints.docker` (`Host`, `SkipTLSVerify`), `TLSMaterial.docker` (file names)
and `Storage.TLSPath`, the folder whose `docker/{ca,cert,key}.pem` are the copies it made.
An unknown context prints `[]` and `context "NAME": context not found: ...` and exits 1.
"""

from __future__ import annotations

import json
import re
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
