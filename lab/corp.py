"""The lab's corporate network: a registry behind TLS inspection, and an HTTP proxy on the Mac.

    corp = Corp(lab).up("default")     # namespace <NS>-corp, its registry holding lab/bb
    corp.pull("default")               # `docker pull` through the machine's forward (the oracle)
    corp.proxy_only()                  # the registry reachable only through tinyproxy on the
                                       # lab Mac's 127.0.0.1:8888
    corp.down()

The "corporate network" is a namespace of its own, `<NS>-corp`, joined to the lab's Mac by a
veth pair (172.30.0.1 on the Mac, 172.30.0.10 in it): what a VPN tunnel to the office is to a
laptop. Its registry (Debian's `docker-registry`, the distribution registry v2) serves the lab's
offline image over TLS with a certificate from the "company root", a CA the VM does not trust:
what a TLS-inspecting proxy presents for every site. The company root is written to
`<lab>/corp/root.pem`, where a test hands it to the tool (vpnhelper.ca_bundle) as IT would
install it on a Mac.

The VM reaches the corporate network the way a VirtualBox guest does, through the NAT: its
default route goes to 10.0.2.2, which is the Mac (the NAT link's peer gets that address and
the Mac forwards). In the proxy variant the Mac forwards nothing: the registry is reachable
only through tinyproxy on the Mac's 127.0.0.1:8888, which the VM reaches as 10.0.2.2:8888 where
VirtualBox lets the NAT reach the host's loopback. Nothing here reaches outside the lab's
namespaces: the registry is filled from the guest's own loopback.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

from docker_vpn_helper.errors import HelperError

from . import guest, image, net, proc, state, virtualbox
from .paths import CORP_NS, HOST_NS, netns_path, vm_ns

if TYPE_CHECKING:
    from .lab import Lab

HOST_SIDE, CORP_SIDE = "corp0", "eth0"
HOST_IP, REGISTRY_IP = "172.30.0.1", "172.30.0.10"
NET = "172.30.0.0/24"
REGISTRY = f"{REGISTRY_IP}:5000"
REPOSITORY = f"{REGISTRY}/lab/bb"
LOCAL_REGISTRY = "127.0.0.1:5001"  # the guest's own loopback, where the image is pushed from
PROXY_PORT = 8888
NAT_GATEWAY = "10.0.2.2/24"
PROGRAMS = {"docker-registry": "docker-registry", "tinyproxy": "tinyproxy"}


def refusal() -> str:
    """What the corporate network needs and this host lacks ("" when nothing)."""
    absent = [f"{p} ({pkg})" for p, pkg in PROGRAMS.items() if shutil.which(p) is None]
    return f"the lab's corporate network needs {', '.join(absent)}" if absent else ""


def registry_config(root: Path, address: str, tls: bool) -> str:
    lines = [
        "version: 0.1",
        "log:",
        "  level: warn",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {root / 'registry'}",
        "http:",
        f"  addr: {address}",
    ]
    if tls:
        lines += [
            "  tls:",
            f"    certificate: {root / 'registry.pem'}",
            f"    key: {root / 'registry-key.pem'}",
        ]
    return "\n".join(lines) + "\n"


def tinyproxy_config(root: Path) -> str:
    """A proxy on the Mac's loopback that tunnels (CONNECT) to the registry's port only."""
    return (
        f"Port {PROXY_PORT}\nListen 127.0.0.1\nTimeout 30\nMaxClients 20\n"
        f"Allow 127.0.0.1\nConnectPort 5000\nLogLevel Info\n"
        f'LogFile "{root / "tinyproxy.log"}"\nPidFile "{root / "tinyproxy.pid"}"\n'
    )


class Corp:
    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.root = lab.paths.root / "corp"

    @property
    def root_pem(self) -> Path:
        """The company root, as IT hands it out (what vpnhelper.ca_bundle names in the tests)."""
        return self.root / "root.pem"

    # ---- building ------------------------------------------------------------------------------

    def up(self, machine: str = "default") -> Corp:
        """The corporate network with its registry, filled with the lab's image, reachable from
        `machine` through the NAT (the Mac forwards)."""
        missing = refusal()
        if missing:
            raise HelperError(missing)
        self.root.mkdir(parents=True, exist_ok=True)
        self._certificates()
        self._namespace()
        self._start(
            "registry",
            ["docker-registry", "serve", str(self._config("registry.yml", REGISTRY, True))],
            CORP_NS,
        )
        self._wait_listening(CORP_NS, REGISTRY_IP, 5000)
        self._fill(machine)
        self.route(machine, True)
        return self

    def _certificates(self) -> None:
        from tests.support import corp as pki  # as lab/store.py builds the store: tests/support

        if (self.root / "registry.pem").exists():
            return
        root, root_key = pki.company_root("Lab Corp Root CA")
        cert, key = pki.server_cert(root, root_key, [REGISTRY_IP, "registry.corp.lab"])
        (self.root / "root.pem").write_bytes(pki.pem(root))
        (self.root / "registry.pem").write_bytes(pki.pem(cert) + pki.pem(root))
        (self.root / "registry-key.pem").write_bytes(pki.key_pem(key))
        (self.root / "registry-key.pem").chmod(0o600)

    def _namespace(self) -> None:
        if not net.exists(CORP_NS):
            net.ip("netns", "add", CORP_NS)
        net.ip("link", "set", "lo", "up", ns=CORP_NS)
        if HOST_SIDE not in net.ip("-o", "link", "show", ns=HOST_NS):
            net.ip(
                "link",
                "add",
                HOST_SIDE,
                "type",
                "veth",
                "peer",
                "name",
                CORP_SIDE,
                "netns",
                CORP_NS,
                ns=HOST_NS,
            )
            net.ip("addr", "add", f"{HOST_IP}/24", "dev", HOST_SIDE, ns=HOST_NS)
            net.ip("addr", "add", f"{REGISTRY_IP}/24", "dev", CORP_SIDE, ns=CORP_NS)
        net.ip("link", "set", HOST_SIDE, "up", ns=HOST_NS)
        net.ip("link", "set", CORP_SIDE, "up", ns=CORP_NS)
        net.ip("route", "replace", "default", "via", HOST_IP, ns=CORP_NS)

    def _config(self, name: str, address: str, tls: bool) -> Path:
        path = self.root / name
        path.write_text(registry_config(self.root, address, tls))
        return path

    def _start(self, name: str, argv: list[str], ns: str) -> int:
        """A long-lived process in namespace `ns`, noted in the lab's state for `stop`."""
        pid = proc.spawn_daemon(
            ["nsenter", f"--net={netns_path(ns)}", *argv], self.root / f"{name}.log"
        )
        with state.locked(self.lab.paths) as st:
            st.setdefault("corp", {})[name] = pid
        return pid

    def _stop(self, name: str) -> None:
        with state.locked(self.lab.paths) as st:
            pid = st.get("corp", {}).pop(name, None)
        if pid and proc.alive(pid):
            proc.kill(pid)

    def _wait_listening(self, ns: str, host: str, port: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        argv = ["nsenter", f"--net={netns_path(ns)}", "ss", "-Hltn", f"src {host}:{port}"]
        while not proc.run(argv, check=False).stdout.strip():
            if time.monotonic() > deadline:
                raise HelperError(
                    f"nothing listens on {host}:{port} in {ns}: see {self.root}/*.log"
                )
            time.sleep(0.05)

    def _fill(self, machine: str) -> None:
        """Push the lab's image into the registry's storage from the guest's loopback (a plain
        HTTP registry on the same storage: dockerd allows HTTP to 127.0.0.0/8), then forget it
        there, so that a pull must ask the corporate registry."""
        vm_pid = self.lab._vm(machine)["pid"]
        self.lab.load_image(machine)
        config = self._config("fill.yml", LOCAL_REGISTRY, False)
        ns = vm_ns(machine)
        pid = self._start("fill", ["docker-registry", "serve", str(config)], ns)
        try:
            self._wait_listening(ns, "127.0.0.1", 5001)
            local = f"{LOCAL_REGISTRY}/lab/bb"
            for argv in (
                ["docker", "tag", image.IMAGE, local],
                ["docker", "push", local],
                ["docker", "rmi", local],
            ):
                done = guest.run_in(vm_pid, argv, timeout=120)
                if done.returncode != 0:
                    raise HelperError(
                        f"{' '.join(argv)} failed in the guest: {done.stderr.strip()}"
                    )
        finally:
            self._stop("fill")
            proc.wait_dead(pid, 5)

    # ---- the ways the VM reaches it ------------------------------------------------------------

    def route(self, machine: str, on: bool) -> None:
        """The Mac forwards the VM's NAT traffic into the corporate network (on), or not."""
        index = virtualbox.find(state.load(self.lab.paths), machine)["index"]
        link = f"vnat{index}"
        if on:
            net.ip("addr", "replace", NAT_GATEWAY, "dev", link, ns=HOST_NS)
        else:
            net.ip("addr", "del", NAT_GATEWAY, "dev", link, ns=HOST_NS, check=False)
        sysctl = ["nsenter", f"--net={netns_path(HOST_NS)}", "sysctl", "-qw"]
        proc.run([*sysctl, f"net.ipv4.ip_forward={int(on)}"])

    def proxy_only(self, machine: str = "default") -> None:
        """The registry reachable only through tinyproxy on the Mac's 127.0.0.1:8888."""
        self.route(machine, False)
        conf = self.root / "tinyproxy.conf"
        conf.write_text(tinyproxy_config(self.root))
        self._stop("tinyproxy")
        self._start("tinyproxy", ["tinyproxy", "-d", "-c", str(conf)], HOST_NS)
        self._wait_listening(HOST_NS, "127.0.0.1", PROXY_PORT)

    def proxy_log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.root / "tinyproxy.log").read_text(errors="replace")
        return ""

    # ---- the oracle ----------------------------------------------------------------------------

    def pull(self, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """`docker pull` of the registry's image, by the real docker CLI on the lab's Mac, with
        `env` (DOCKER_HOST & co.: the machine through its forward)."""
        return self.lab.run_on_host(["docker", "pull", REPOSITORY], env=env, timeout=timeout)

    def forget_image(self, machine: str) -> None:
        """The pulled image out of the VM again (a next pull must ask the registry)."""
        guest.run_in(self.lab._vm(machine)["pid"], ["docker", "rmi", REPOSITORY])

    def down(self) -> None:
        for name in ("tinyproxy", "registry", "fill"):
            self._stop(name)
        with contextlib.suppress(Exception):
            for machine in state.load(self.lab.paths)["vms"]:
                self.route(machine, False)
        net.ip("link", "delete", HOST_SIDE, ns=HOST_NS, check=False)
        net.delete(CORP_NS)
