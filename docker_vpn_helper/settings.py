"""All configuration in one place: invoke config under `vpnhelper`, CLI flags on top.

Invoke merges, lowest first: these defaults, /etc/invoke.yaml, ~/.invoke.yaml, ./invoke.yaml,
INVOKE_VPNHELPER_* environment variables, -f FILE; the task flags (--machine, --storage-path,
--port) win over all of them. The store also honours MACHINE_STORAGE_PATH like docker-machine.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .core import minikube
from .core.store import remembered_port
from .errors import HelperError

CONFIG_KEY = "vpnhelper"  # the section of invoke's configuration that is ours

DEFAULTS: dict[str, Any] = {
    "machine": "default",
    # None: $MACHINE_STORAGE_PATH, else ~/.docker/machine (docker-machine's own rule).
    "storage_path": None,
    "host_port": 2376,
    "daemon_port": 2376,
    "nat_rule": "docker",
    "vboxmanage": "VBoxManage",
    "docker_machine": "docker-machine",
    # None: the platform's own command (macOS VirtualBoxStartup.sh, Linux vboxdrv).
    "kext_command": None,
    "renew_days": 30,
    "warn_days": 60,  # doctor warns this long before expiry, earlier than cert.issue renews
    "ssh_connect_timeout": 10.0,
    "command_timeout": 60.0,
    "daemon_wait": 60.0,
    "vboxmanage_timeout": 30.0,
    # VirtualBox 6.1.28+ (macOS, Linux): the host-only ranges it allows beyond 192.168.56.0/21.
    "vbox_networks_conf": "/etc/vbox/networks.conf",
    # corp.sync (issue 23): give the VM the host's extra trusted roots / its proxy. None means
    # on; false, 0, no or off (also as INVOKE_VPNHELPER_CORP_ROOTS=false: a None default lets
    # invoke hand the word over instead of casting any non-empty word to True) turns it off.
    "corp_roots": None,
    "corp_proxy": None,
    "ca_bundle": None,  # a PEM bundle of roots to copy besides the platform's own
    "proxy": "",  # the proxy URL when neither macOS's system proxy nor the environment names one
}

MACOS_KEXT_COMMAND = (
    '"/Library/Application Support/VirtualBox/LaunchDaemons/VirtualBoxStartup.sh" restart'
)
LINUX_KEXT_COMMAND = "systemctl restart vboxdrv"


@dataclass(frozen=True)
class Settings:
    """The resolved configuration of one run against one machine."""

    machine: str
    storage_path: Path
    host_port: int
    daemon_port: int
    nat_rule: str
    vboxmanage: str
    docker_machine: str
    kext_command: str | None
    renew_days: int
    warn_days: int
    ssh_connect_timeout: float
    command_timeout: float
    daemon_wait: float
    vboxmanage_timeout: float
    vbox_networks_conf: str = "/etc/vbox/networks.conf"
    corp_roots: bool = True
    corp_proxy: bool = True
    ca_bundle: str | None = None
    proxy: str = ""
    dry_run: bool = False
    # Where host_port came from: "flag" (--port), "remembered" (an earlier run gave this machine
    # that port) or "config" (the configured default, which a new forward may move past when
    # another machine already has it).
    port_source: str = "config"
    # Where storage_path came from: "flag" (--storage-path), "config" (vpnhelper.storage_path),
    # "environment" ($MACHINE_STORAGE_PATH) or "default" (~/.docker/machine, docker-machine's
    # own default, the only store that may not exist yet on a first run).
    storage_source: str = "default"

    @property
    def minikube(self) -> bool:
        """The store is minikube's home (its name is always `.minikube`, core/minikube.home):
        the machine is a minikube profile's VM."""
        return self.storage_path.name == ".minikube"

    def selector(self) -> list[str]:
        """The flags that name this machine on our command line."""
        if self.minikube:
            return ["--minikube", "--profile", self.machine]
        return ["--machine", self.machine]


def _flag(value: Any) -> bool:
    """A setting that is on unless turned off: None (unset) is on."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no", "off")
    return bool(value)


PORTS = range(1, 65536)


def check_flags(flags: Mapping[str, Any]) -> None:
    """Refuse, before anything runs, a flag value that cannot be meant: an empty --machine or
    --storage-path (which would quietly mean the default), a --port outside 1-65535 (0 or
    absent: the default), a --shell that is no format."""
    machines = flags.get("machine")
    for machine in machines if isinstance(machines, list) else [machines]:
        if machine == "":
            raise HelperError("--machine '' names no machine: give its name, or leave it out")
    if flags.get("storage_path") == "":
        raise HelperError("--storage-path '' names no folder: give the store, or leave it out")
    port = flags.get("port")
    if isinstance(port, int) and port and port not in PORTS:
        raise HelperError(f"--port {port} is not a port: give one from 1 to 65535, or leave it out")
    shell = flags.get("shell")
    if shell is not None:
        from .core.envfmt import FORMATS

        if shell not in FORMATS:
            raise HelperError(f"--shell {shell!r} is not a format: one of {', '.join(FORMATS)}")


def default_storage_path(environ: Mapping[str, str]) -> Path:
    """docker-machine's rule: $MACHINE_STORAGE_PATH, else ~/.docker/machine."""
    configured = environ.get("MACHINE_STORAGE_PATH")
    if configured:
        return absolute(configured)
    return absolute(Path(environ.get("HOME") or Path.home()) / ".docker" / "machine")


def absolute(path: str | Path) -> Path:
    """`path` from the current folder, `~` expanded: what is printed (DOCKER_CERT_PATH) is
    eval'd in other folders, where a relative store path would point elsewhere."""
    return Path(os.path.abspath(Path(path).expanduser()))


def minikube_flags(flags: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """A task's flags with `--minikube [--profile NAME]` turned into what they name: minikube's
    home as the store and the profile (default `minikube`) as the machine."""
    chosen = dict(flags)
    if not chosen.pop("minikube", False):
        if chosen.pop("profile", None):
            raise HelperError("--profile names a minikube profile: give --minikube with it")
        return chosen
    given = [name for name in ("machine", "storage_path", "all_") if chosen.get(name)]
    if given:
        shown = ", ".join("--" + name.strip("_").replace("_", "-") for name in given)
        raise HelperError(
            f"--minikube names the store (minikube's home) and --profile the machine: drop {shown}"
        )
    user_home = Path(environ.get("HOME") or Path.home())
    chosen["storage_path"] = str(absolute(minikube.home(environ, user_home)))
    chosen["machine"] = minikube.validate_profile(
        chosen.pop("profile", None) or minikube.DEFAULT_PROFILE
    )
    return chosen


def resolve(
    config: Mapping[str, Any],
    *,
    machine: str | None = None,
    storage_path: str | None = None,
    port: int = 0,
    dry_run: bool = False,
    environ: Mapping[str, str] = os.environ,
) -> Settings:
    """Merge task flags over the `vpnhelper` config section (an empty or 0 flag means unset).

    The host port: --port, else the port an earlier run gave this machine, else the config's.
    """
    section = dict(DEFAULTS)
    section.update({k: v for k, v in dict(config).items() if k in DEFAULTS})
    store = storage_path or section["storage_path"]
    store_path = absolute(store) if store else default_storage_path(environ)
    if storage_path:
        storage_source = "flag"
    elif store:
        storage_source = "config"
    else:
        storage_source = "environment" if environ.get("MACHINE_STORAGE_PATH") else "default"
    name = machine or section["machine"]
    remembered = None if port else remembered_port(store_path, name)
    if port:
        host_port, source = int(port), "flag"
    elif remembered:
        host_port, source = remembered, "remembered"
    else:
        host_port, source = int(section["host_port"]), "config"
    return Settings(
        machine=name,
        storage_path=store_path,
        host_port=host_port,
        daemon_port=int(section["daemon_port"]),
        nat_rule=str(section["nat_rule"]),
        vboxmanage=str(section["vboxmanage"]),
        docker_machine=str(section["docker_machine"]),
        kext_command=section["kext_command"],
        renew_days=int(section["renew_days"]),
        warn_days=int(section["warn_days"]),
        ssh_connect_timeout=float(section["ssh_connect_timeout"]),
        command_timeout=float(section["command_timeout"]),
        daemon_wait=float(section["daemon_wait"]),
        vboxmanage_timeout=float(section["vboxmanage_timeout"]),
        vbox_networks_conf=str(section["vbox_networks_conf"]),
        corp_roots=_flag(section["corp_roots"]),
        corp_proxy=_flag(section["corp_proxy"]),
        ca_bundle=str(section["ca_bundle"]) if section["ca_bundle"] else None,
        proxy=str(section["proxy"] or ""),
        dry_run=bool(dry_run),
        port_source=source,
        storage_source=storage_source,
    )
