"""Where the lab keeps things: one folder (default /run/dvhlab) and a few namespace names."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DIR = "/run/dvhlab"
# lab.demo's own lab, so that it never takes down the one lab.up built (the tests have theirs:
# tests/conftest.py).
DEMO_DIR = "/run/dvhlab-demo"


def default_dir() -> Path:
    """The lab folder: $DVH_LAB_DIR, else /run/dvhlab."""
    return Path(os.environ.get("DVH_LAB_DIR") or DEFAULT_DIR)


# Namespace names are global to the machine: $DVH_LAB_NS, else the lab folder's name (dvhlab for
# /run/dvhlab), so that two labs in two folders never share a namespace.
NS_PREFIX = os.environ.get("DVH_LAB_NS") or re.sub(r"[^A-Za-z0-9_.-]", "-", default_dir().name)
HOST_NS = f"{NS_PREFIX}-host"
VM_NS_PREFIX = f"{NS_PREFIX}-vm-"
CORP_NS = f"{NS_PREFIX}-corp"  # the corporate network behind the VPN (lab/corp.py)
NETNS_DIR = Path("/run/netns")
HOSTONLY_BRIDGE = "vboxnet0"
HOSTONLY_HOST_IP = "192.168.99.1"
HOSTONLY_NET = "192.168.99.0/24"
FIRST_GUEST_HOST = 100
# The machine `up` builds when given none: the name docker-machine users have and the tool's
# default, so that a plain `docker-vpn-helper fix` works in the lab.
FIRST_MACHINE = "default"
NAT_GUEST_IP = "10.0.2.15"
VPN_DEV = "utun0"

# docker-machine's rule for machine names; also keeps names safe inside socat addresses.
MACHINE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-\.]*$")


def mentions(arg: str, folder: str) -> bool:
    """Whether a command-line word names `folder` or a path below it: /run/dvhlab must not match
    /run/dvhlab-rel, another lab running beside it."""
    return arg == folder or arg.endswith(folder) or f"{folder}/" in arg


def vm_ns(machine: str) -> str:
    return VM_NS_PREFIX + machine


def netns_path(ns: str) -> str:
    return str(NETNS_DIR / ns)


@dataclass(frozen=True)
class LabPaths:
    """Every file and folder of one lab, derived from its root folder."""

    root: Path

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def lock(self) -> Path:
        return self.root / "state.lock"

    @property
    def store(self) -> Path:
        """MACHINE_STORAGE_PATH of the lab's "Mac"."""
        return self.root / "store"

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def cache(self) -> Path:
        """Keys and CA, reused while the lab lives (a machine rebuilt keeps its host key);
        `down` removes them with the rest."""
        return self.root / "cache"

    @property
    def kext_log(self) -> Path:
        """Where the kernel extensions' stand-in (<lab>/bin/VirtualBoxStartup.sh) notes each call."""
        return self.logs / "VirtualBoxStartup.log"

    @property
    def minikube_home(self) -> Path:
        """~/.minikube of the lab's Mac (its HOME is `home`)."""
        return self.home / ".minikube"

    @property
    def kubeconfig(self) -> Path:
        """~/.kube/config of the lab's Mac, as minikube writes it."""
        return self.home / ".kube" / "config"

    @property
    def networks_conf(self) -> Path:
        """The Mac's /etc/vbox/networks.conf: which host-only ranges VirtualBox 6.1.28+ allows."""
        return self.root / "etc" / "vbox" / "networks.conf"

    def vm_dir(self, machine: str) -> Path:
        """The VM's own folder: its disk (persistent), its "ISO" and the mount point of its root."""
        return self.root / "vms" / machine

    def machine_dir(self, machine: str) -> Path:
        return self.store / "machines" / machine
