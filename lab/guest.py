"""The lab's guests: a boot2docker look-alike (docker-machine's VMs) and a minikube look-alike
(minikube's VirtualBox VMs: systemd's docker.service, an API server); their disks, their "ISO",
and powering them on and off.

The guest runs as `nsenter --net=<vm netns> unshare --mount --uts --pid ... tini -- files/boot.sh`,
which builds a private root in RAM and pivots into it (see files/boot.sh): dockerd, sshd and the
`docker` user then live entirely inside the VM, never on the real host (lab.md pitfalls 1, 2, 5).
"""

from __future__ import annotations

import hashlib
import io
import shutil
import signal
import subprocess
import tarfile
import time
from pathlib import Path

from docker_vpn_helper.errors import HelperError
from tests.support import minikube

from . import proc, store
from .paths import LabPaths, netns_path, vm_ns

REMOTE_DIR = "/var/lib/boot2docker"
GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ISO_FILES = ("boot.sh", "dockerd.sh", "rc.boot2docker", "docker.init")
MINIKUBE_ISO_FILES = ("boot.sh", "dockerd.sh", "rc.minikube", "systemctl", "apiserver.py")
STORAGE_DRIVER = "vfs"  # works everywhere; boot2docker's aufs/overlay2 need kernel support we lack
# The minikube guest: docker.service's drop-in, dockerd (Debian's path), the folders its disk keeps.
DROP_IN = "/etc/systemd/system/docker.service.d/10-machine.conf"
DOCKERD = "/usr/sbin/dockerd"
MINIKUBE_PERSISTENT = ("etc/docker", "etc/systemd/system/docker.service.d", "var/lib/minikube")
MINIKUBE_OS_RELEASE = (
    "NAME=Buildroot\nVERSION=2021.02.12\nID=buildroot\nVERSION_ID=2021.02.12\n"
    'PRETTY_NAME="Buildroot 2021.02.12"\n'
)


def profile(storage_driver: str = STORAGE_DRIVER) -> str:
    """/var/lib/boot2docker/profile exactly as docker-machine's boot2docker provisioner renders it."""
    return (
        "\nEXTRA_ARGS='\n--label provider=virtualbox\n\n'\n"
        f"CACERT={REMOTE_DIR}/ca.pem\n"
        "DOCKER_HOST='-H tcp://0.0.0.0:2376'\n"
        f"DOCKER_STORAGE={storage_driver}\n"
        "DOCKER_TLS=auto\n"
        f"SERVERKEY={REMOTE_DIR}/server-key.pem\n"
        f"SERVERCERT={REMOTE_DIR}/server.pem\n\n\n"
    )


def sshd_config(legacy_ssh: bool) -> str:
    """A boot2docker-like sshd; `legacy_ssh` accepts only the pre-2016 `ssh-rsa` signatures."""
    lines = [
        "Port 22",
        "ListenAddress 0.0.0.0",
        f"HostKey {REMOTE_DIR}/ssh/ssh_host_rsa_key",
        "PidFile /run/sshd.pid",
        "PermitRootLogin no",
        "PubkeyAuthentication yes",
        "AuthorizedKeysFile .ssh/authorized_keys .ssh/authorized_keys2",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "PrintMotd no",
        "X11Forwarding no",
    ]
    if legacy_ssh:
        # No SFTP either: not every old ISO had it, uploads must go over an exec channel.
        lines += ["HostKeyAlgorithms ssh-rsa", "PubkeyAcceptedAlgorithms ssh-rsa"]
    else:
        # OpenSSH 7.x/8.x of boot2docker 17-19 still took ssh-rsa, which docker-machine signs with.
        lines += ["HostKeyAlgorithms +ssh-rsa", "PubkeyAcceptedAlgorithms +ssh-rsa"]
        lines.append("Subsystem sftp /usr/lib/openssh/sftp-server")
    return "\n".join(lines) + "\n"


def os_release(legacy_ssh: bool) -> str:
    version = "1.9.1" if legacy_ssh else "19.03.12"
    return (
        f"NAME=Boot2Docker\nVERSION={version}\nID=boot2docker\nID_LIKE=tcl\n"
        f'VERSION_ID={version}\nPRETTY_NAME="Boot2Docker {version}"\n'
        'HOME_URL="https://github.com/boot2docker/boot2docker"\n'
    )


def userdata_tar(public_key: bytes) -> bytes:
    """The tar docker-machine puts on a new disk; boot2docker unpacks it into /home/docker."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        ssh_dir = tarfile.TarInfo(".ssh")
        ssh_dir.type = tarfile.DIRTYPE
        ssh_dir.mode = 0o700
        tar.addfile(ssh_dir)
        for name in ("authorized_keys", "authorized_keys2"):
            info = tarfile.TarInfo(f".ssh/{name}")
            info.size = len(public_key)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(public_key))
    return buf.getvalue()


def read_file(name: str) -> bytes:
    """A static file of lab/files."""
    return (Path(__file__).parent / "files" / name).read_bytes()


def _disk_and_iso(
    paths: LabPaths, machine: str, legacy_ssh: bool, public_key: bytes, files: tuple[str, ...]
) -> tuple[Path, Path]:
    """What every guest has: the disk's /var/lib/boot2docker (the user data docker-machine's
    VirtualBox driver writes, the sshd host key) and /var/lib/docker, and its ISO folder with
    `files` and the sshd configuration. Returns (the disk, the ISO folder)."""
    vm = paths.vm_dir(machine)
    disk = vm / "disk"
    b2d = disk / "var" / "lib" / "boot2docker"
    (vm / "root").mkdir(parents=True, exist_ok=True)
    (disk / "var" / "lib" / "docker").mkdir(parents=True, exist_ok=True)
    b2d.mkdir(parents=True, exist_ok=True)
    store.write(b2d / "userdata.tar", userdata_tar(public_key))
    host_key = store.host_key(paths, machine)
    store.write(b2d / "ssh" / "ssh_host_rsa_key", store.key_pem(host_key), 0o600)
    store.write(b2d / "ssh" / "ssh_host_rsa_key.pub", store.ssh_public_line(host_key))
    iso = vm / "iso"
    for name in files:
        store.write(iso / name, read_file(name), 0o755)
    store.write(iso / "sshd_config", sshd_config(legacy_ssh).encode())
    return disk, iso


def create(
    paths: LabPaths,
    machine: str,
    legacy_ssh: bool,
    reject_new_certs: bool,
    provisioned: bool = True,
) -> None:
    """Make a boot2docker VM: its persistent disk (user data, host key) and its ISO folder.

    provisioned=True also puts the daemon's certs and profile on the disk, the way docker-machine's
    provisioning leaves them; otherwise the first boot has none and dockerd cannot start yet.
    """
    mdir = paths.machine_dir(machine)
    public_key = (mdir / "id_rsa.pub").read_bytes()
    disk, iso = _disk_and_iso(paths, machine, legacy_ssh, public_key, ISO_FILES)
    b2d = disk / "var" / "lib" / "boot2docker"
    original = ""
    if provisioned:
        server = (mdir / "server.pem").read_bytes()
        original = hashlib.sha256(server).hexdigest()
        store.write(b2d / "ca.pem", (paths.store / "certs" / "ca.pem").read_bytes())
        store.write(b2d / "server.pem", server)
        store.write(b2d / "server-key.pem", (mdir / "server-key.pem").read_bytes(), 0o600)
        store.write(b2d / "profile", profile().encode())
    store.write(iso / "os-release", os_release(legacy_ssh).encode())
    conf = f"REJECT_NEW_CERTS={int(reject_new_certs)}\nORIGINAL_SERVER_SHA256={original}\n"
    store.write(iso / "lab.conf", conf.encode())


def create_minikube(paths: LabPaths, machine: str, home: Path, ip: str) -> None:
    """Make a VM of minikube's VirtualBox driver from its profile in `home` (a minikube home):
    the daemon's certificates in /etc/docker and docker.service's drop-in, as minikube's
    provisioning leaves them, the cluster's certificates in /var/lib/minikube/certs."""
    public_key = (home / "machines" / machine / "id_rsa.pub").read_bytes()
    disk, iso = _disk_and_iso(paths, machine, False, public_key, MINIKUBE_ISO_FILES)
    etc_docker = disk / "etc" / "docker"
    store.write(etc_docker / "ca.pem", (home / "certs" / "ca.pem").read_bytes())
    store.write(etc_docker / "server.pem", (home / "machines" / "server.pem").read_bytes())
    key = (home / "machines" / "server-key.pem").read_bytes()
    store.write(etc_docker / "server-key.pem", key, 0o600)
    store.write(disk / DROP_IN.lstrip("/"), docker_drop_in().encode())
    certs = disk / "var" / "lib" / "minikube" / "certs"
    profile_dir = home / "profiles" / machine
    store.write(certs / "ca.crt", (home / "ca.crt").read_bytes())
    store.write(certs / "apiserver.crt", (profile_dir / "apiserver.crt").read_bytes())
    store.write(certs / "apiserver.key", (profile_dir / "apiserver.key").read_bytes(), 0o600)
    store.write(iso / "persist", "".join(f"{d}\n" for d in MINIKUBE_PERSISTENT).encode())
    store.write(iso / "hostname", f"{machine}\n".encode())
    store.write(iso / "os-release", MINIKUBE_OS_RELEASE.encode())
    version = minikube.KUBERNETES_VERSION
    conf = f"NODE_NAME={machine}\nNODE_IP={ip}\nKUBERNETES_VERSION={version}\n"
    store.write(iso / "lab.conf", conf.encode())


def docker_drop_in() -> str:
    """docker.service's drop-in as minikube's Buildroot provisioner writes it (the lab adds
    `--storage-driver vfs` and names Debian's dockerd)."""
    flags = (
        "-H tcp://0.0.0.0:2376 -H unix:///var/run/docker.sock "
        "--default-ulimit=nofile=1048576:1048576 --tlsverify --tlscacert /etc/docker/ca.pem "
        "--tlscert /etc/docker/server.pem --tlskey /etc/docker/server-key.pem "
        "--label provider=virtualbox --insecure-registry 10.96.0.0/12"
    )
    return (
        "[Unit]\nDescription=Docker Application Container Engine\n"
        "Documentation=https://docs.docker.com\nAfter=network.target minikube-automount.service "
        "docker.socket\nRequires=minikube-automount.service docker.socket\n\n"
        "[Service]\nType=notify\nRestart=on-failure\n\n"
        "# The base configuration's ExecStart is cleared first: a service may have only one.\n"
        f"ExecStart=\nExecStart={DOCKERD} {flags} --storage-driver {STORAGE_DRIVER}\n"
        "ExecReload=/bin/kill -s HUP $MAINPID\n\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )


def destroy(paths: LabPaths, machine: str) -> None:
    shutil.rmtree(paths.vm_dir(machine), ignore_errors=True)


def power_on(paths: LabPaths, machine: str) -> int:
    """Boot the guest; returns the PID of its `unshare` (the VM process, as VBoxHeadless would be)."""
    vm = paths.vm_dir(machine)
    argv = [
        "nsenter",
        f"--net={netns_path(vm_ns(machine))}",
        "unshare",
        "--mount",
        "--uts",
        "--pid",
        "--fork",
        "--kill-child",
        "--mount-proc",
        "--propagation",
        "private",
        "tini",
        "--",
        "/bin/sh",
        str(vm / "iso" / "boot.sh"),
        str(vm),
    ]
    return proc.spawn_daemon(argv, console_log(paths, machine))


def console_log(paths: LabPaths, machine: str) -> Path:
    """Where a guest's boot writes (its stage 1, boot.sh, and what it starts)."""
    return paths.vm_dir(machine) / "console.log"


def init_pid(vm_pid: int | None) -> int | None:
    """tini, the guest's PID 1, seen from the host."""
    if not proc.alive(vm_pid):
        return None
    kids = proc.children(vm_pid)  # type: ignore[arg-type]
    return kids[0] if kids else None


def guest_root(vm_pid: int | None) -> Path | None:
    """The guest's root file system, reachable from the host through /proc/<tini>/root."""
    pid = init_pid(vm_pid)
    return Path(f"/proc/{pid}/root") if pid else None


def booted(vm_pid: int | None) -> bool:
    root = guest_root(vm_pid)
    return bool(root) and (root / "run" / "boot2docker.booted").exists()  # type: ignore[operator]


def wait_booted(vm_pid: int, timeout: float = 30.0, log: Path | None = None) -> None:
    """Wait until the guest has booted; a guest that dies or hangs is one line naming its boot
    log (`log`, the VM's console.log) and the package a missing program is likely in."""
    deadline = time.monotonic() + timeout
    while not booted(vm_pid):
        if not proc.alive(vm_pid):
            raise HelperError(boot_failure("died while booting", log))
        if time.monotonic() > deadline:
            raise HelperError(boot_failure(f"did not boot within {timeout:.0f} s", log))
        time.sleep(0.05)


def boot_failure(what: str, log: Path | None) -> str:
    """`the guest <what>: <the log's last line>; its boot log: <log>` and the likely package."""
    from . import packages

    if log is None:
        return f"the guest {what}"
    try:
        text = log.read_text(errors="replace")
    except OSError:
        text = ""
    last = next((line.strip() for line in reversed(text.splitlines()) if line.strip()), "")
    said = f": {last}" if last else ""
    line = f"the guest {what}{said}; its boot log: {log}"
    package = packages.likely_package(text)
    if package:
        line += f"; likely missing Debian package: {package} ({packages.apt_line([package])})"
    return line


def power_off(vm_pid: int | None, graceful: bool, timeout: float = 40.0) -> None:
    """ACPI shutdown (the guest stops dockerd first) or a hard power-off of the whole PID namespace."""
    init = init_pid(vm_pid)
    if graceful and init:
        proc.kill(init, signal.SIGTERM)
        if proc.wait_dead(vm_pid, timeout):  # type: ignore[arg-type]
            return
    if init:
        proc.kill(init, signal.SIGKILL)  # PID 1 of the namespace: the kernel kills everything in it
    proc.kill(vm_pid, signal.SIGKILL)


def run_in(
    vm_pid: int | None, argv: list[str], timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run argv as root inside every namespace of the guest, as if on its console."""
    init = init_pid(vm_pid)
    if not init:
        raise RuntimeError("the VM is not running")
    # env -C /: the guest's root has no such folder as the caller's (or tini's) working folder.
    cmd = ["nsenter", "-t", str(init), "-m", "-u", "-i", "-n", "-p", "-r"]
    cmd += ["env", "-i", "-C", "/", f"PATH={GUEST_PATH}", "HOME=/root", *argv]
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def daemon_pid(vm_pid: int | None) -> int | None:
    """dockerd's PID inside the guest (what `cat /var/run/docker.pid` shows there), if it runs."""
    root = guest_root(vm_pid)
    if not root:
        return None
    try:
        pid = int((root / "run" / "docker.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        status = (root / "proc" / str(pid) / "status").read_text()
    except OSError:
        return None
    state = next((ln.split()[1] for ln in status.splitlines() if ln.startswith("State:")), "X")
    return pid if state not in ("Z", "X") else None
