"""Read and write docker-machine's store: `<store>/machines/NAME/config.json` and the certs.

Follows docker-machine v0.16's formats: ConfigVersion 3 (and 1, written by v0.4), empty or
zero fields meaning docker-machine's defaults, unknown fields kept on write.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PROGRAM, HelperError, StoreUnreadable

# docker-machine's own rule for machine names (libmachine/host.ValidateHostName).
MACHINE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-\.]*$")
NAME_MAX = 255  # a file name's limit (Linux, macOS): the machine's folder is named after it
DEFAULT_SSH_USER = "docker"
DEFAULT_HOST_ONLY_CIDR = "192.168.99.1/24"
# Our own per-machine memory (the host port the machine's forward got, what corp.sync gave the
# VM), beside config.json.
STATE_FILE = "docker-vpn-helper.json"
# The openssl configuration that reproduces the server certificate, beside it: named as ours, so
# that a user's own openssl.cnf there is never touched (whatever has our name is backed up first).
OPENSSL_CONFIG = "docker-vpn-helper-openssl.cnf"
# docker-machine leaves the remote paths empty on disk; these are what boot2docker uses.
REMOTE_DIR = "/var/lib/boot2docker"
# The names a client reaching the daemon through the NAT forward connects to. The tool records
# them in ServerCertSANs (and passes them to `docker-machine create --tls-san`), so that
# `docker-machine regenerate-certs` keeps them.
LOOPBACK_NAMES = ("localhost", "127.0.0.1")


def validate_machine_name(name: str) -> str:
    if not name or not MACHINE_NAME.fullmatch(name):  # match() lets 'name\n' through
        raise HelperError(
            f"invalid machine name {name!r}: docker-machine names start with a letter or digit "
            "and contain only letters, digits, '-' and '.'"
        )
    if len(name) > NAME_MAX:
        shown = f"{name[:24]}...{name[-8:]}"
        raise HelperError(
            f"invalid machine name {shown!r} ({len(name)} characters): a machine is a folder "
            f"of the store, and a folder's name has at most {NAME_MAX}"
        )
    return name


def _is_dir(path: Path, store: Path) -> bool:
    """Whether `path` (in `store`) is a folder; one we may not look into is `_closed`'s line."""
    try:
        return path.is_dir()
    except PermissionError:
        raise _closed(store, path) from None


def _closed(store: Path, path: Path) -> HelperError:
    """The line for `path` in `store` that we may not reach (root's 0700 store, after `sudo
    docker-machine create`): it names the first folder on the way we may not enter."""
    folders = [store, *(p for p in reversed(path.parents) if store in p.parents)]
    shut = next((f for f in folders if f.is_dir() and not os.access(f, os.X_OK)), path.parent)
    return not_yours(shut, "read", store)


def list_machines(store: Path) -> list[str]:
    """Names of the machines that have a config.json in `store`."""
    machines = store / "machines"
    if not _is_dir(machines, store):
        return []
    return sorted(p.name for p in machines.iterdir() if (p / "config.json").is_file())


def require_store(store: Path) -> None:
    if not _is_dir(store / "machines", store):
        raise HelperError(
            f"{store} is not a docker-machine store (no machines/ folder): set --storage-path "
            "or MACHINE_STORAGE_PATH"
        )


@dataclass(frozen=True)
class StoreFacts:
    """What a store path holds, as far as deciding about a missing machine goes."""

    path: Path
    exists: bool
    is_store: bool  # it has docker-machine's machines/ or certs/ folder
    machines: tuple[str, ...]


def survey(store: Path) -> StoreFacts:
    is_store = _is_dir(store / "machines", store) or _is_dir(store / "certs", store)
    return StoreFacts(store, store.exists(), is_store, tuple(list_machines(store)))


def create_command(name: str, store: Path | None = None) -> str:
    """The command that creates machine `name` (in `store`, when it is not the default one)."""
    words = [PROGRAM, "fix", "--machine", name]
    if store is not None:
        words += ["--storage-path", str(store)]
    return shlex.join([*words, "--create"])


def closest_machine(name: str, machines: Sequence[str], *, loose: bool = False) -> str:
    """The machine `name` most likely means ("" when none is alike; `loose`: the closest one
    however little alike, when there is one)."""
    import difflib  # here: env.print loads this module and needs it only for this error

    lowered = [m for m in machines if m.lower() == name.lower()]
    close = difflib.get_close_matches(name, machines, n=1, cutoff=0 if loose else 0.6)
    return (lowered or close or [""])[0]


def missing_machine(name: str, facts: StoreFacts, create: str, *, loose: bool = False) -> str:
    """One line for a machine the store lacks: the store, its machines, the closest name (see
    closest_machine), and `create`, the command that would create it ("": none said)."""
    has = f"it has: {', '.join(facts.machines)}" if facts.machines else "it has no machines"
    guess = closest_machine(name, facts.machines, loose=loose)
    mean = f"; did you mean {guess!r}?" if guess else "."
    how = f" To create {name!r}: {create}" if create else ""
    return f"no machine {name!r} in the store {facts.path} ({has}){mean}{how}"


def owner(path: Path) -> str:
    """Who owns `path`, or its nearest existing parent: a user name, else the uid."""
    for candidate in (path, *path.parents):
        try:
            uid = candidate.stat().st_uid
        except OSError:
            continue
        try:
            import pwd

            return pwd.getpwuid(uid).pw_name
        except (ImportError, KeyError):
            return f"uid {uid}"
    return "someone else"


def store_of(path: Path) -> Path | None:
    """The docker-machine store `path` lies in (the folder above its machines/), if any."""
    for candidate in path.parents:
        if candidate.name == "machines":
            return candidate.parent
    return None


def not_yours(path: Path, verb: str, store: Path | None = None) -> StoreUnreadable:
    """One line for a file or folder of the store (`store`, else the one `path` lies in) we
    may not `verb` ("read", "write"), typically after an accidental `sudo docker-vpn-helper` or
    `sudo docker-machine create` left it to root: who owns it and the command that gives the
    store back."""
    store = store or store_of(path)
    who = owner(path)
    mine = os.geteuid() if hasattr(os, "geteuid") else -1
    belongs = f"it belongs to {who}" + (" (a run with sudo?)" if who == "root" and mine else "")
    if store is None:
        return StoreUnreadable(f"cannot {verb} {path}: {belongs}, not to you", path)
    return StoreUnreadable(
        f"cannot {verb} {path}: {belongs}, not to you: give the store back to yourself with "
        f'sudo chown -R "$USER" {shlex.quote(str(store))}',
        path,
    )


def machine_folder(store: Path, name: str) -> Path:
    """Where machine `name` lives in `store` (whether it exists or not)."""
    return store / "machines" / name


def machine_exists(store: Path, name: str) -> bool:
    """Whether `store` holds machine `name` (its folder has a config.json); checks the name."""
    validate_machine_name(name)
    config = machine_folder(store, name) / "config.json"
    try:
        return stat.S_ISREG(config.stat().st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except PermissionError:
        raise _closed(store, config) from None
    except OSError as exc:  # a path too long for the system
        raise HelperError(f"cannot look for machine {name!r} in {store}: {exc.strerror}") from None


def machine_dir(store: Path, name: str, create: str = "") -> Path:
    """The machine folder (DOCKER_CERT_PATH), after checking that the machine exists; `create`:
    the command that creates it, for the error."""
    validate_machine_name(name)
    require_store(store)
    if not machine_exists(store, name):
        raise HelperError(missing_machine(name, survey(store), create or create_command(name)))
    return machine_folder(store, name)


@dataclass(frozen=True)
class AuthPaths:
    """Where the machine's TLS material lives on the host (HostOptions.AuthOptions)."""

    ca_cert: Path
    ca_key: Path
    client_cert: Path
    client_key: Path
    server_cert: Path
    server_key: Path


@dataclass(frozen=True)
class Machine:
    """What the tool needs to know about one docker-machine machine."""

    name: str
    store: Path
    directory: Path
    config_version: int
    driver_name: str
    ip: str | None
    ssh_user: str
    ssh_port: int
    ssh_key: Path
    host_only_cidr: str
    auth: AuthPaths
    server_cert_sans: tuple[str, ...]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def config_path(self) -> Path:
        return self.directory / "config.json"

    @property
    def on_virtualbox(self) -> bool:
        """Made by docker-machine's virtualbox driver (or naming none: VirtualBox is asked)."""
        return self.driver_name in ("", "virtualbox")


def _section(data: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise HelperError(f"{path}: {key} is not a JSON object")
    return value


def _path(value: Any, default: Path) -> Path:
    """config.json's absolute path, unless it is empty or gone while the default is there.

    A store copied from another account keeps the old absolute paths; docker-machine's own
    layout beside the store is then the file meant.
    """
    if not isinstance(value, str) or not value:
        return default
    configured = Path(value)
    return default if not configured.exists() and default.exists() else configured


def read_config(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StoreUnreadable(f"cannot read {path}: {exc.strerror or exc}", path) from None
    if not text.strip():
        raise HelperError(f"{path} is empty: recreate the machine or restore a backup")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise HelperError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise HelperError(f"{path} is not a docker-machine config (not a JSON object)")
    return data


def parse_machine(store: Path, name: str, data: dict[str, Any], path: Path) -> Machine:
    """Interpret a config.json (v1 or v3) with docker-machine's defaults for empty fields."""
    version = data.get("ConfigVersion", 0)
    if not isinstance(version, int) or version > 3:
        raise HelperError(f"{path}: unsupported ConfigVersion {version!r} (known: 1 to 3)")
    driver = _section(data, "Driver", path)
    auth = _section(_section(data, "HostOptions", path), "AuthOptions", path)
    if not driver and not auth:
        raise HelperError(f"{path} has neither Driver nor HostOptions: not a docker-machine config")
    folder = machine_folder(store, name)
    certs = store / "certs"
    ssh_port = driver.get("SSHPort") or 22
    if not isinstance(ssh_port, int) or not 0 < ssh_port < 65536:
        raise HelperError(f"{path}: Driver.SSHPort {ssh_port!r} is not a port number")
    sans = auth.get("ServerCertSANs") or []
    if not isinstance(sans, list) or not all(isinstance(s, str) for s in sans):
        raise HelperError(f"{path}: HostOptions.AuthOptions.ServerCertSANs is not a list of names")
    ca_key = auth.get("CaPrivateKeyPath") or auth.get(
        "PrivateKeyPath"
    )  # v1 called it PrivateKeyPath
    return Machine(
        name=name,
        store=store,
        directory=folder,
        config_version=version,
        driver_name=str(data.get("DriverName") or ""),
        ip=driver.get("IPAddress") or None,
        ssh_user=driver.get("SSHUser") or DEFAULT_SSH_USER,
        ssh_port=ssh_port,
        ssh_key=_path(driver.get("SSHKeyPath"), folder / "id_rsa"),
        host_only_cidr=driver.get("HostOnlyCIDR") or DEFAULT_HOST_ONLY_CIDR,
        auth=AuthPaths(
            ca_cert=_path(auth.get("CaCertPath"), certs / "ca.pem"),
            ca_key=_path(ca_key, certs / "ca-key.pem"),
            client_cert=_path(auth.get("ClientCertPath"), certs / "cert.pem"),
            client_key=_path(auth.get("ClientKeyPath"), certs / "key.pem"),
            server_cert=_path(auth.get("ServerCertPath"), folder / "server.pem"),
            server_key=_path(auth.get("ServerKeyPath"), folder / "server-key.pem"),
        ),
        server_cert_sans=tuple(sans),
        raw=data,
    )


def load_machine(store: Path, name: str) -> Machine:
    folder = machine_dir(store, name)
    path = folder / "config.json"
    return parse_machine(store, name, read_config(path), path)


def with_server_cert_sans(data: dict[str, Any], names: list[str]) -> dict[str, Any] | None:
    """A copy of `data` whose ServerCertSANs also hold `names`, or None if nothing is missing.

    docker-machine regenerate-certs issues from ServerCertSANs (+ IP + localhost), so names
    recorded here survive it.
    """
    auth = data.get("HostOptions", {}).get("AuthOptions", {})
    current = list(auth.get("ServerCertSANs") or [])
    missing = [n for n in names if n not in current]
    if not missing:
        return None
    updated = json.loads(json.dumps(data))
    section = updated.setdefault("HostOptions", {}).setdefault("AuthOptions", {})
    section["ServerCertSANs"] = current + missing
    return updated


def with_loopback_sans(machine: Machine) -> dict[str, Any] | None:
    """config.json with LOOPBACK_NAMES added to ServerCertSANs, or None if they are there."""
    return with_server_cert_sans(machine.raw, list(LOOPBACK_NAMES))


def with_host_dns_resolver(machine: Machine) -> dict[str, Any] | None:
    """config.json with Driver.HostDNSResolver true (docker-machine's record of
    --virtualbox-host-dns-resolver), or None if it is."""
    if (machine.raw.get("Driver") or {}).get("HostDNSResolver") is True:
        return None
    updated = json.loads(json.dumps(machine.raw))
    updated.setdefault("Driver", {})["HostDNSResolver"] = True
    return updated


# The fields of config.json this tool changes: (section path, key). Everything else in it is
# docker-machine's own (it rewrites IPAddress, SSHPort, ... on every start).
OUR_FIELDS = ((("HostOptions", "AuthOptions"), "ServerCertSANs"), (("Driver",), "HostDNSResolver"))


def with_fields_of(current: dict[str, Any], original: dict[str, Any]) -> dict[str, Any] | None:
    """`current` with the fields this tool changes as they are in `original` (absent ones
    removed), or None when they are already so: the rest stays as docker-machine keeps it."""
    updated = json.loads(json.dumps(current))
    for path, key in OUR_FIELDS:
        source: Any = original
        target: Any = updated
        for name in path:
            source = source.get(name) if isinstance(source, dict) else None
            target = target.setdefault(name, {}) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            continue
        if isinstance(source, dict) and key in source:
            target[key] = source[key]
        else:
            target.pop(key, None)
    return None if updated == current else updated


def write_config(machine: Machine, data: dict[str, Any]) -> None:
    """Replace config.json atomically (0600, 4-space indent like docker-machine); a config.json
    that is a symbolic link stays one: the file it points to is replaced."""
    from .fsutil import atomic_write, writable_target

    target = writable_target(machine.config_path)
    atomic_write(target, (json.dumps(data, indent=4) + "\n").encode(), 0o600)


def _state(store: Path, name: str) -> dict[str, Any]:
    try:
        state = json.loads((machine_folder(store, name) / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def remembered_port(store: Path, name: str, key: str = "host_port") -> int | None:
    """The host port this machine's forward (`key`: host_port, the daemon's; apiserver_port,
    minikube's API server's) was given by an earlier run, if any."""
    port = _state(store, name).get(key)
    return port if isinstance(port, int) and 0 < port < 65536 else None


def remembered_ports(store: Path, except_name: str) -> dict[int, str]:
    """{port: machine} for every other machine of the store that has a remembered port."""
    ports = {}
    for name in list_machines(store):
        port = remembered_port(store, name) if name != except_name else None
        if port is not None:
            ports[port] = name
    return ports


def remember_port(machine: Machine, port: int, key: str = "host_port") -> None:
    """Remember the port of one of the machine's forwards (`key`), keeping the others'."""
    remember(machine, key, port)


def remembered(store: Path, name: str, key: str) -> Any:
    """What an earlier run remembered under `key` for this machine (None: nothing)."""
    return _state(store, name).get(key)


def remember(machine: Machine, key: str, value: Any) -> None:
    """Remember `value` under `key` in the machine's own state file, keeping the other keys;
    None forgets the key (and writes nothing when there is no state file)."""
    from .fsutil import atomic_write  # env.print only reads the store

    path = machine.directory / STATE_FILE
    state = _state(machine.store, machine.name)
    if value is None and (key not in state or not path.exists()):
        return
    state = {k: v for k, v in {**state, key: value}.items() if v is not None}
    atomic_write(path, json.dumps(state).encode(), 0o600)
