"""A boot2docker look-alike guest: its disk, its "ISO", and powering it on and off.

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

from . import proc, store
from .paths import LabPaths, netns_path, vm_ns

REMOTE_DIR = "/var/lib/boot2docker"
GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ISO_FILES = ("boot.sh", "rc.boot2docker", "docker.init")
STORAGE_DRIVER = "vfs"  # works everywhere; boot2docker's aufs/overlay2 need kernel support we lack


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


def create(
    paths: LabPaths,
    machine: str,
    legacy_ssh: bool,
    reject_new_certs: bool,
    provisioned: bool = True,
) -> None:
    """Make the VM: its persistent disk (user data, host key) and its ISO folder.

    provisioned=True also puts the daemon's certs and profile on the disk, the way docker-machine's
    provisioning leaves them; otherwise the first boot has none and dockerd cannot start yet.
    """
    vm = paths.vm_dir(machine)
    disk = vm / "disk" / "var" / "lib" / "boot2docker"
    mdir = paths.machine_dir(machine)
    (vm / "root").mkdir(parents=True, exist_ok=True)
    (vm / "disk" / "var" / "lib" / "docker").mkdir(parents=True, exist_ok=True)
    disk.mkdir(parents=True, exist_ok=True)
    original = ""
    if provisioned:
        server = (mdir / "server.pem").read_bytes()
        original = hashlib.sha256(server).hexdigest()
        store.write(disk / "ca.pem", (paths.store / "certs" / "ca.pem").read_bytes())
        store.write(disk / "server.pem", server)
        store.write(disk / "server-key.pem", (mdir / "server-key.pem").read_bytes(), 0o600)
        store.write(disk / "profile", profile().encode())
    store.write(disk / "userdata.tar", userdata_tar((mdir / "id_rsa.pub").read_bytes()))
    host_key = store.host_key(paths, machine)
    store.write(disk / "ssh" / "ssh_host_rsa_key", store.key_pem(host_key), 0o600)
    store.write(disk / "ssh" / "ssh_host_rsa_key.pub", store.ssh_public_line(host_key))
    iso = vm / "iso"
    for name in ISO_FILES:
        store.write(iso / name, read_file(name), 0o755)
    store.write(iso / "sshd_config", sshd_config(legacy_ssh).encode())
    store.write(iso / "os-release", os_release(legacy_ssh).encode())
    conf = f"REJECT_NEW_CERTS={int(reject_new_certs)}\nORIGINAL_SERVER_SHA256={original}\n"
    store.write(iso / "lab.conf", conf.encode())


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
