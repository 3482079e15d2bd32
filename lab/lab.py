"""The Lab: a Mac behind a VPN, on Linux. Namespaces stand in for the Mac and its VMs, the stand-ins
for VirtualBox and docker-machine; SSH, TLS, dockerd and the docker CLI are real.

    lab = Lab().up()          # dvhlab-host + one boot2docker-like guest "default" at 192.168.99.100
    lab.vpn_on()              # 192.168.99.0/24 now goes into utun0
    lab.run_on_host(["docker-machine", "ls"])
    lab.down()
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from pathlib import Path
from typing import Any

import docker_vpn_helper
from docker_vpn_helper.errors import HelperError

from . import guest, image, natfwd, natpf, net, packages, proc, state, store, virtualbox
from .paths import (
    FIRST_GUEST_HOST,
    FIRST_MACHINE,
    HOST_NS,
    MACHINE_NAME,
    NS_PREFIX,
    VPN_DEV,
    LabPaths,
    default_dir,
    mentions,
    netns_path,
    vm_ns,
)

# Below Linux's ephemeral range (32768-60999): an outgoing connection of the lab's Mac holding the
# chosen port would make the forwarder's bind fail, and the machine's SSH look dead.
SSH_PORTS = (20000, 32000)
STAND_INS = {"VBoxManage": "vboxmanage", "docker-machine": "docker_machine"}
KEXT_SCRIPT = "VirtualBoxStartup.sh"
CLIENT_ENV_DROP = (
    "REQUESTS_CA_BUNDLE",  # lab.md pitfall 8: requests-based clients would ignore the Docker CA
    "CURL_CA_BUNDLE",
    "DOCKER_HOST",
    "DOCKER_TLS_VERIFY",
    "DOCKER_CERT_PATH",
    "DOCKER_MACHINE_NAME",
    "DOCKER_CONTEXT",
    "DOCKER_CONFIG",
    "MINIKUBE_HOME",  # the lab's Mac has its own ~/.minikube and ~/.kube/config
    "KUBECONFIG",
    "MINIKUBE_ACTIVE_DOCKERD",
)


def _is_vpn_client(pid: int | None) -> bool:
    return bool(pid) and proc.alive(pid) and any("vpnclient.py" in a for a in proc.cmdline(pid))


def _stop_vpn_client(pid: int | None) -> None:
    if _is_vpn_client(pid):
        proc.kill(pid, signal.SIGKILL, wait=2)  # type: ignore[arg-type]


def require_root() -> None:
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        raise HelperError(
            "the lab needs root on Linux (network namespaces, tun devices, a multi-user sshd)"
        )


FLAVOURS = ("boot2docker", "minikube")


def variant_of(
    legacy_ssh: bool = False,
    cert_profile: str = "v0.16",
    reject_new_certs: bool = False,
    flavour: str = "boot2docker",
    apiserver_loopback: bool = True,
) -> dict[str, Any]:
    """A guest's variant, validated: legacy_ssh, cert_profile (v0.16|v0.4), reject_new_certs,
    flavour (boot2docker: docker-machine's VM; minikube: minikube's VirtualBox VM, whose
    cert_profile v0.16 is minikube's own daemon certificate and v0.4 one naming only the VM's
    address) and apiserver_loopback (minikube: its API server's certificate names 127.0.0.1,
    as from minikube 1.7.3 on)."""
    if cert_profile not in store.CERT_PROFILES:
        raise HelperError(
            f"unknown cert profile {cert_profile!r} (one of {', '.join(store.CERT_PROFILES)})"
        )
    if flavour not in FLAVOURS:
        raise HelperError(f"unknown guest flavour {flavour!r} (one of {', '.join(FLAVOURS)})")
    variant = {
        "legacy_ssh": bool(legacy_ssh),
        "cert_profile": cert_profile,
        "reject_new_certs": bool(reject_new_certs),
    }
    if flavour == "boot2docker":
        if not apiserver_loopback:
            raise HelperError("apiserver_loopback is a minikube guest's variant")
        return variant  # as recorded before minikube guests existed: labs stay as they are
    if legacy_ssh or reject_new_certs:
        raise HelperError("a minikube guest has no legacy_ssh or reject_new_certs variant")
    return {**variant, "flavour": flavour, "apiserver_loopback": bool(apiserver_loopback)}


def _minikube_node(name: str, ip: str, ssh_port: int, variant: dict[str, Any]) -> store.Node:
    """The minikube profile of a minikube guest (v0.4: a daemon certificate naming the IP only)."""
    hosts = (ip,) if variant["cert_profile"] == "v0.4" else None
    return store.Node(name, ip, ssh_port, variant["apiserver_loopback"], hosts)


def _is_minikube(vm: dict[str, Any]) -> bool:
    return vm["variant"].get("flavour") == "minikube"


def write_kubeconfig(paths: LabPaths, st: dict[str, Any]) -> None:
    """~/.kube/config for the lab's minikube guests, as `minikube start` leaves it."""
    nodes = [
        _minikube_node(vm["name"], vm["ip"], 0, vm["variant"])
        for vm in st["vms"].values()
        if _is_minikube(vm)
    ]
    store.write_kubeconfig(paths, nodes)


def create_vm(
    paths: LabPaths,
    st: dict[str, Any],
    name: str,
    variant: dict[str, Any],
    sans: list[str] | None = None,
    provisioned: bool = True,
) -> virtualbox.VM:
    """Register a new machine: store entry, disk and ISO, NICs, VM record with its `ssh` NAT rule.

    provisioned=True writes the daemon's certs and profile straight onto the disk (a machine created
    earlier); False leaves that to docker-machine's provisioning over SSH.
    """
    if not MACHINE_NAME.match(name):
        raise HelperError(f"invalid machine name {name!r}")
    used = {vm["index"] for vm in st["vms"].values()}
    index = next(i for i in range(150) if i not in used)
    address = f"192.168.99.{FIRST_GUEST_HOST + index}"
    taken = {r["hostport"] for vm in st["vms"].values() for r in vm["rules"]}
    ssh_port = random.choice([p for p in range(*SSH_PORTS) if p not in taken])
    if variant.get("flavour") == "minikube":
        return _create_minikube_vm(paths, st, name, variant, address, index, ssh_port)
    store.create_machine_files(
        paths,
        name,
        address,
        ssh_port,
        list(sans or []),
        guest.STORAGE_DRIVER,
        variant["cert_profile"],
    )
    guest.create(paths, name, variant["legacy_ssh"], variant["reject_new_certs"], provisioned)
    vm = virtualbox.register(paths, st, name, address, index, variant)
    return _attach(paths, vm, index, ssh_port)


def _create_minikube_vm(
    paths: LabPaths,
    st: dict[str, Any],
    name: str,
    variant: dict[str, Any],
    address: str,
    index: int,
    ssh_port: int,
) -> virtualbox.VM:
    """A VM of minikube's VirtualBox driver: its profile in ~/.minikube, ~/.kube/config, disk."""
    store.create_minikube_files(paths, _minikube_node(name, address, ssh_port, variant))
    guest.create_minikube(paths, name, paths.minikube_home, address)
    folder = paths.minikube_home / "machines" / name
    vm = virtualbox.register(paths, st, name, address, index, variant, folder)
    # minikube's VirtualBox driver: --host-dns-resolver on, --dns-proxy off by default.
    virtualbox.set_nat_dns(paths, vm, proxy=False, host_resolver=True)
    write_kubeconfig(paths, st)
    return _attach(paths, vm, index, ssh_port)


def _attach(paths: LabPaths, vm: virtualbox.VM, index: int, ssh_port: int) -> virtualbox.VM:
    """The VM's NICs and its `ssh` NAT rule."""
    net.ensure_guest(vm["name"], index, vm["ip"], vm["mac1"], vm["mac2"])
    vm["rules"].append(natpf.Rule("ssh", "tcp", "127.0.0.1", ssh_port, "", 22).to_json())
    virtualbox.save_settings(paths, vm)
    return vm


def _mac_commands(paths: LabPaths) -> dict[str, str]:
    """<lab>/bin's shell stand-ins for what a Mac's user has: VirtualBox's kernel-extension
    restart (KEXT_SCRIPT, what lab.shell's INVOKE_VPNHELPER_KEXT_COMMAND runs with sudo), and ssh
    reading the lab's ~/.ssh/config."""
    ssh = shutil.which("ssh", path=packages.SEARCH) or "/usr/bin/ssh"
    return {
        KEXT_SCRIPT: (
            "#!/bin/sh\n"
            "# lab stand-in for VirtualBox 5/6's /Library/Application Support/VirtualBox/\n"
            "# LaunchDaemons/VirtualBoxStartup.sh (generated by lab/lab.py): the lab has no kernel\n"
            "# extensions; it says what the real one does and notes each call in its log.\n"
            'case "$1" in start|stop|restart) ;; *) echo "Usage: $0 {start|stop|restart}" >&2;'
            " exit 1;; esac\n"
            '[ "$(id -u)" = 0 ] || { echo "$0: must be run as root" >&2; exit 1; }\n'
            f"echo \"$1\" >> '{paths.kext_log}'\n"
            '[ "$1" = start ] || for k in VBoxUSB VBoxNetFlt VBoxNetAdp VBoxDrv; do'
            ' echo "Unloading $k.kext"; done\n'
            '[ "$1" = stop ] || for k in VBoxDrv VBoxUSB VBoxNetFlt VBoxNetAdp; do'
            ' echo "Loading $k.kext"; done\n'
        ),
        "ssh": (
            "#!/bin/sh\n"
            "# lab stand-in for ssh (generated by lab/lab.py): OpenSSH reads ~/.ssh/config in the\n"
            "# passwd entry's home (root's), not in $HOME; on a Mac both are the user's home, so it\n"
            "# is given $HOME's. A -F of the caller's comes later and wins.\n"
            f'[ -f "$HOME/.ssh/config" ] && exec {ssh} -F "$HOME/.ssh/config" "$@"\n'
            f'exec {ssh} "$@"\n'
        ),
    }


def _kill_leftovers(paths: LabPaths) -> None:
    """Kill whatever lives in a lab namespace or names the lab folder (a crashed `up` leaves such)."""
    inodes = set()
    for ns in net.lab_namespaces():
        with contextlib.suppress(OSError):
            inodes.add(os.stat(netns_path(ns)).st_ino)
    spared = proc.ancestors()
    marker = str(paths.root)
    for _ in range(5):
        victims = [
            p
            for p in proc.all_pids()
            if p not in spared
            and proc.alive(p)
            and (proc.netns_inode(p) in inodes or any(mentions(a, marker) for a in proc.cmdline(p)))
        ]
        if not victims:
            return
        for p in victims:
            proc.kill(p, signal.SIGKILL, wait=0)
        for p in victims:
            proc.wait_dead(p, 5)


def _unmount_under(root: Path) -> None:
    """Lazily unmount anything still mounted below the lab folder in our mount namespace."""
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    for point in sorted(points, key=len, reverse=True):
        if point == str(root) or point.startswith(str(root) + "/"):
            proc.run(["umount", "-l", point], check=False)


class Lab:
    """One lab in one folder (default /run/dvhlab, or $DVH_LAB_DIR). Every method needs root on Linux."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.paths = LabPaths(Path(directory or default_dir()).absolute())
        if any(c in str(self.paths.root) for c in ":, "):
            raise HelperError(
                f"the lab folder must not contain ':', ',' or spaces: {self.paths.root}"
            )

    # ---- life cycle ---------------------------------------------------------------------------

    def up(self, machines: tuple[str, ...] | list[str] = (FIRST_MACHINE,), **variant: Any) -> Lab:
        """Build the lab (idempotent): the host, the store, and each machine running with `variant`.

        A machine that exists with another variant is rebuilt; a half-built lab is torn down first.
        """
        missing = packages.refusal() if sys.platform.startswith("linux") else ""
        if missing:  # first: before root is asked for, before anything is built
            raise HelperError(missing)
        require_root()
        wanted = variant_of(**variant)
        if not self._consistent():
            self.down()
        for folder in (self.paths.root, self.paths.home, self.paths.logs):
            folder.mkdir(parents=True, exist_ok=True)
        self._write_stand_ins()
        if not self.paths.networks_conf.exists():  # as a docker-machine user on 6.1.28+ has it
            self.allow_hostonly_ranges("* 192.168.99.0/24\n")
        net.ensure_host()
        store.ensure_certs(self.paths)
        for name in machines:
            current = state.load(self.paths)["vms"].get(name)
            if current and current["variant"] != wanted:
                self.remove_machine(name)
                current = None
            if current is None:
                self.add_machine(name, **variant)
            elif current["state"] != "running":
                self.start_vm(name)
        return self

    def add_machine(self, name: str, **variant: Any) -> None:
        """Create and boot one more machine (next address: .100, .101, ...)."""
        require_root()
        wanted = variant_of(**variant)
        with state.locked(self.paths) as st:
            if name in st["vms"]:
                raise HelperError(f"machine {name!r} already exists")
            vm = create_vm(self.paths, st, name, wanted)
            virtualbox.start(self.paths, st, vm, wait=True)

    def remove_machine(self, name: str) -> None:
        """Power a machine off and delete it: VM record, namespace, disk and store entry."""
        require_root()
        with state.locked(self.paths) as st:
            vm = st["vms"].pop(name, None)
            if vm and vm["state"] == "running":
                virtualbox.stop(vm, graceful=False)
            if vm and _is_minikube(vm):
                shutil.rmtree(self.paths.minikube_home / "profiles" / name, ignore_errors=True)
                write_kubeconfig(self.paths, st)
        net.delete(vm_ns(name))
        guest.destroy(self.paths, name)
        folder = virtualbox.machine_folder(self.paths, vm) if vm else self.paths.machine_dir(name)
        shutil.rmtree(folder, ignore_errors=True)

    def down(self) -> None:
        """Remove everything: processes, namespaces, mounts, the folder and its files (the key
        cache too: nothing is left in /run). Idempotent."""
        require_root()
        with contextlib.suppress(Exception):
            for vm in state.load(self.paths)["vms"].values():
                for pid in [*vm.get("forwarders", {}).values(), vm.get("gateway")]:
                    natpf.stop(pid)
                guest.power_off(vm.get("pid"), graceful=False)
        _kill_leftovers(self.paths)
        _unmount_under(self.paths.root)
        for ns in net.lab_namespaces():
            net.delete(ns)
        if self.paths.root.exists():
            for entry in self.paths.root.iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink()
            with contextlib.suppress(OSError):  # still busy (a lazy unmount in progress)
                self.paths.root.rmdir()

    def _consistent(self) -> bool:
        """Whether the state file matches reality (namespaces exist, running VMs have processes)."""
        st = state.load(self.paths)
        if not st["vms"] and not self.paths.state.exists():
            return not net.lab_namespaces()
        if not net.exists(HOST_NS):
            return False
        for vm in st["vms"].values():
            if not net.exists(vm_ns(vm["name"])):
                return False
            if vm["state"] == "running" and not proc.alive(vm["pid"]):
                return False
        return True

    def _write_stand_ins(self) -> None:
        """<lab>/bin: the VBoxManage and docker-machine wrappers."""
        # Started like a native VBoxManage would be: no `site` (an editable install's import
        # hook alone costs ~20 ms a call). PYTHONPATH instead: the clone this lab package lives
        # in (the lab and tests/support, which builds its store, are never installed), the
        # folder holding docker_vpn_helper (the same clone, or an install) and the libraries,
        # so that the wrappers work from any folder.
        # PYTHONSAFEPATH (3.11+): `-m` must not find another `lab` package in the caller's
        # working directory (another clone).
        clone = Path(__file__).resolve().parent.parent
        package_root = Path(docker_vpn_helper.__file__).resolve().parent.parent
        libraries = [sysconfig.get_path(kind) for kind in ("purelib", "platlib")]
        path = ":".join(dict.fromkeys([str(clone), str(package_root), *libraries]))
        for command, module in STAND_INS.items():
            script = (
                "#!/bin/sh\n"
                f"# lab stand-in for {command} (generated by lab/lab.py)\n"
                f"export DVH_LAB_DIR='{self.paths.root}' DVH_LAB_NS='{NS_PREFIX}' PYTHONSAFEPATH=1\n"
                f'export PYTHONPATH="{path}${{PYTHONPATH:+:$PYTHONPATH}}"\n'
                f'exec "{sys.executable}" -S -m lab.{module} "$@"\n'
            )
            store.write(self.paths.bin / command, script.encode(), 0o755)
        for command, script in _mac_commands(self.paths).items():
            store.write(self.paths.bin / command, script.encode(), 0o755)

    # ---- VirtualBox itself -----------------------------------------------------------------------

    def set_virtualbox(self, version: str) -> None:
        """Make the stand-ins behave as VirtualBox `version` (a key of virtualbox.VERSIONS:
        5.2, 6.1, 7.0.0, 7.0.2, 7.1), as if the Mac's VirtualBox had been changed: VMs keep their
        settings files; new ones get the version's format."""
        if version not in virtualbox.VERSIONS:
            raise HelperError(
                f"unknown VirtualBox version {version!r} (one of {', '.join(virtualbox.VERSIONS)})"
            )
        with state.locked(self.paths) as st:
            st["virtualbox"] = version

    def allow_hostonly_ranges(self, text: str | None) -> None:
        """Write the Mac's /etc/vbox/networks.conf (`<lab>/etc/vbox/networks.conf`); None
        removes it (VirtualBox 6.1.28+ then allows only 192.168.56.0/21)."""
        conf = self.paths.networks_conf
        if text is None:
            conf.unlink(missing_ok=True)
            return
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(text)

    # ---- the VPN -------------------------------------------------------------------------------

    def vpn_on(self, mode: str = "drop") -> None:
        """Connect the fake VPN: 192.168.99.0/24 goes into utun0 (`drop` hangs, `unreachable`/
        `blackhole`/`prohibit` fail fast) and its client holds utun0 open, as a connected VPN's
        does (so `routes.restore` refuses to take the route)."""
        require_root()
        if mode not in net.VPN_MODES:
            raise HelperError(f"unknown VPN mode {mode!r} (one of {', '.join(net.VPN_MODES)})")
        net.vpn_on(mode)
        with state.locked(self.paths) as st:
            st["vpn"] = mode
            if not _is_vpn_client(st.get("vpn_client")):
                st["vpn_client"] = self._start_vpn_client()

    def vpn_off(self, keep_stale_route: bool = False) -> None:
        """Disconnect: the client quits and 192.168.99.0/24 goes back to vboxnet0, or, with
        keep_stale_route, stays on the dead utun0 (a client that quit without cleaning up)."""
        require_root()
        with state.locked(self.paths) as st:
            _stop_vpn_client(st.pop("vpn_client", None))
            net.vpn_off(keep_stale_route)
            st["vpn"] = "stale-route" if keep_stale_route else None

    def _start_vpn_client(self) -> int:
        script = Path(__file__).with_name("vpnclient.py")
        argv = ["nsenter", f"--net={netns_path(HOST_NS)}", sys.executable, "-I", "-S"]
        pid = proc.spawn_daemon([*argv, str(script), VPN_DEV], self.paths.logs / "vpnclient.log")
        deadline = time.monotonic() + 5.0
        while not net.carrier(VPN_DEV):
            if not proc.alive(pid) or time.monotonic() > deadline:
                raise HelperError(
                    f"the fake VPN's client did not attach to {VPN_DEV}: see "
                    f"{self.paths.logs / 'vpnclient.log'}"
                )
            time.sleep(0.02)
        return pid

    # ---- VMs -------------------------------------------------------------------------------------

    def stop_vm(self, machine: str) -> None:
        """ACPI shutdown of a machine (dockerd stops cleanly), like `docker-machine stop`."""
        require_root()
        with state.locked(self.paths) as st:
            vm = virtualbox.find(st, machine)
            if vm["state"] == "running":
                virtualbox.stop(vm, graceful=True)

    def start_vm(self, machine: str) -> None:
        """Boot a stopped machine and wait until sshd and dockerd are up (NAT forwards restart too)."""
        require_root()
        with state.locked(self.paths) as st:
            vm = virtualbox.find(st, machine)
            if vm["state"] == "running":
                # e.g. just started by `VBoxManage startvm`
                guest.wait_booted(vm["pid"], log=guest.console_log(self.paths, machine))
                return
            if vm["pid"]:
                virtualbox.stop(vm, graceful=False)  # an aborted VM's leftovers
            virtualbox.start(self.paths, st, vm, wait=True)

    def daemon_pid(self, machine: str) -> int | None:
        """dockerd's PID inside the guest, or None when it does not run."""
        return guest.daemon_pid(self._vm(machine)["pid"])

    def guest_run(
        self, machine: str, argv: list[str], timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        """Run argv as root on the guest's "console" (all its namespaces); output captured as text."""
        require_root()
        return guest.run_in(self._vm(machine)["pid"], argv, timeout)

    # ---- containers ------------------------------------------------------------------------------

    def load_image(self, machine: str) -> str:
        """Import the lab's offline busybox image into the machine's daemon (unless it has it) and
        return its name, `lab.image.IMAGE`. Commands for it: `image.http_server(port)`,
        `image.udp_echo(port)`."""
        require_root()
        return image.load(self._vm(machine)["pid"])

    def udp_exchange(
        self, port: int, payload: bytes = b"ping", host: str = "127.0.0.1", timeout: float = 2.0
    ) -> bytes | None:
        """Send one datagram from the lab's Mac to host:port; the first reply, or None when none
        came within `timeout` (UDP has no "connection refused" to wait for)."""
        require_root()
        answer: list[bytes | None] = [None]

        def exchange() -> None:
            natfwd.enter_netns(netns_path(HOST_NS))  # this thread only
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.settimeout(timeout)
                sock.sendto(payload, (host, port))
                with contextlib.suppress(OSError):  # timeout, or ICMP port unreachable
                    answer[0] = sock.recv(65535)

        worker = threading.Thread(target=exchange, daemon=True)
        worker.start()
        worker.join(timeout + 5)
        return answer[0]

    def _vm(self, machine: str) -> virtualbox.VM:
        try:
            return virtualbox.find(state.load(self.paths), machine)
        except virtualbox.VBoxError as exc:
            raise HelperError(f"no lab machine {machine!r}") from exc

    # ---- the host --------------------------------------------------------------------------------

    def host_env(self) -> dict[str, str]:
        """Environment for running the tool on the lab's Mac: stand-ins first on PATH, then the
        folder of this interpreter (a virtualenv's `docker-vpn-helper`, which sudo's PATH leaves
        out), the lab's store as MACHINE_STORAGE_PATH, HOME in the lab, the kernel-extension
        restart's stand-in as the tool's kext_command, no inherited Docker or CA-bundle
        variables."""
        env = {k: v for k, v in os.environ.items() if k not in CLIENT_ENV_DROP}
        tool = os.path.dirname(sys.executable)
        inherited = os.environ.get("PATH", os.defpath)
        env["PATH"] = os.pathsep.join(
            dict.fromkeys([str(self.paths.bin), tool, *inherited.split(os.pathsep)])
        )
        env["MACHINE_STORAGE_PATH"] = str(self.paths.store)
        env["HOME"] = str(self.paths.home)
        env["DVH_LAB_DIR"] = str(self.paths.root)
        env["DVH_LAB_NS"] = NS_PREFIX
        # The tool reads the lab Mac's /etc/vbox/networks.conf, as the stand-ins do.
        env["INVOKE_VPNHELPER_VBOX_NETWORKS_CONF"] = str(self.paths.networks_conf)
        # The Mac's kernel-extension restart, as kexts.restart runs it before a create.
        env["INVOKE_VPNHELPER_KEXT_COMMAND"] = f"{self.paths.bin / KEXT_SCRIPT} restart"
        return env

    def attach(self, argv: list[str], env: dict[str, str] | None = None) -> int:
        """Run argv on the lab's Mac with the caller's terminal (stdin, stdout, stderr): what
        `lab.shell` and `lab.exec` do; its exit status."""
        require_root()
        if not net.exists(HOST_NS):
            raise HelperError(
                f"the lab is not up (no namespace {HOST_NS}): bring it up first with lab.up"
            )
        cmd = ["nsenter", f"--net={netns_path(HOST_NS)}", *argv]
        try:
            return subprocess.run(cmd, env=self.host_env() if env is None else env).returncode
        except KeyboardInterrupt:
            return 130

    def run_on_host(
        self,
        argv: list[str],
        env: dict[str, str] | None = None,
        timeout: float = 120.0,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run argv on the lab's Mac (nsenter --net into dvhlab-host), output captured as text.

        On timeout the whole process group is killed and returncode is 124, like timeout(1).
        """
        require_root()
        cmd = ["nsenter", f"--net={netns_path(HOST_NS)}", *argv]
        child = subprocess.Popen(
            cmd,
            env=self.host_env() if env is None else env,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            out, err = child.communicate(input, timeout=timeout)
            return subprocess.CompletedProcess(cmd, child.returncode, out, err)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            out, err = child.communicate()
            return subprocess.CompletedProcess(
                cmd, 124, out, err + f"\n[lab: timed out after {timeout} s]"
            )

    def status(self) -> dict[str, Any]:
        """What the lab looks like now: namespaces, VPN, host route and each machine."""
        st = state.load(self.paths)
        machines = {}
        for name in st["vms"]:
            vm = virtualbox.find(st, name)
            machines[name] = {
                "state": vm["state"],
                "ip": vm["ip"],
                "ssh_port": next((r["hostport"] for r in vm["rules"] if r["name"] == "ssh"), None),
                "rules": [str(r) for r in virtualbox.rules(vm)],
                "nat_dns": virtualbox.nat_dns(vm),
                "localhost_reachable": virtualbox.localhost_reachable(vm),
                "extradata": vm.get("extradata", {}),
                "variant": vm["variant"],
                "daemon_pid": guest.daemon_pid(vm["pid"]) if vm["state"] == "running" else None,
            }
        up = net.exists(HOST_NS)
        return {
            "dir": str(self.paths.root),
            "store": str(self.paths.store),
            "up": up,
            "namespaces": net.lab_namespaces(),
            "virtualbox": virtualbox.version_text(st),
            "vpn": st.get("vpn"),
            "vpn_client": _is_vpn_client(st.get("vpn_client")),  # holds utun0: connected
            "route": net.route_to_hostonly() if up else "",
            "machines": machines,
        }
