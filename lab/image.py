"""A tiny container image built offline (the lab reaches no registry), shared by tests and demos.

`bb:lab` holds Debian's static busybox (busybox-static) with a few applets, a page to serve, and
socat with the shared libraries it needs: Debian's busybox `nc` has no UDP mode (`-u`), and no
busybox applet answers UDP, so the UDP echo is socat's. The root file system is put together on
the lab's host (the guest sees the same /usr), copied into the guest and `docker import`ed there.

    lab.load_image("default")                       # once per VM disk; cheap when already there
    lab.guest_run("default", ["docker", "run", "-d", "-p", "8080:8080", IMAGE, *http_server(8080)])
    lab.guest_run("default", ["docker", "run", "-d", "-p", "5353:5353/udp", IMAGE, *udp_echo(5353)])
"""

from __future__ import annotations

import io
import re
import subprocess
import tarfile
from pathlib import Path

from docker_vpn_helper.errors import HelperError

from . import guest

IMAGE = "bb:lab"
PAGE = "hello from the lab\n"
BUSYBOX = Path("/usr/bin/busybox")  # static, from Debian's busybox-static
APPLETS = ("sh", "httpd", "nc", "sleep", "cat", "echo", "ls", "wget")
SOCAT = Path("/usr/bin/socat")


def http_server(port: int = 8080) -> list[str]:
    """The container command serving PAGE (busybox httpd) on `port` inside the container."""
    return ["/bin/httpd", "-f", "-p", str(port), "-h", "/www"]


def udp_echo(port: int = 5353) -> list[str]:
    """The container command echoing every UDP datagram on `port` back to its sender."""
    return ["/bin/socat", f"UDP4-RECVFROM:{port},fork", "PIPE"]


def _shared_libraries(program: Path) -> list[Path]:
    """The files the dynamic loader maps for `program` (ldd's paths, loader included)."""
    out = subprocess.run(
        ["ldd", str(program)], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    found = []
    for line in out.splitlines():
        match = re.search(r"(?:=>\s*)?(/\S+)\s+\(0x", line)
        if match:
            found.append(Path(match.group(1)))
    return found


def _add_file(tar: tarfile.TarFile, source: Path, name: str, mode: int = 0o755) -> None:
    data = source.read_bytes()  # follows symlinks: the image gets the real file at that name
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))


def rootfs() -> bytes:
    """The image's root file system as a tar."""
    for program, package in ((BUSYBOX, "busybox-static"), (SOCAT, "socat")):
        if not program.is_file():
            raise HelperError(f"the lab's image needs {program} (Debian package {package})")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for folder in ("bin", "www", "tmp"):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if folder == "tmp" else 0o755
            tar.addfile(info)
        _add_file(tar, BUSYBOX, "bin/busybox")
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname, link.mode = tarfile.SYMTYPE, "busybox", 0o777
            tar.addfile(link)
        page = PAGE.encode()
        info = tarfile.TarInfo("www/index.html")
        info.size, info.mode = len(page), 0o644
        tar.addfile(info, io.BytesIO(page))
        _add_file(tar, SOCAT, "bin/socat")
        for library in _shared_libraries(SOCAT):
            _add_file(tar, library, str(library).lstrip("/"))
    return buf.getvalue()


def load(vm_pid: int | None) -> str:
    """Import IMAGE into the daemon of the guest whose VM process is `vm_pid`, unless it has it
    (the image lives on the VM's disk, so it survives a stop/start but not `lab down`)."""
    if guest.run_in(vm_pid, ["docker", "image", "inspect", IMAGE]).returncode == 0:
        return IMAGE
    root = guest.guest_root(vm_pid)
    if root is None:
        raise HelperError("the VM is not running")
    tar = root / "tmp" / "lab-rootfs.tar"
    tar.write_bytes(rootfs())
    try:
        done = guest.run_in(vm_pid, ["docker", "import", "/tmp/lab-rootfs.tar", IMAGE])
    finally:
        tar.unlink()
    if done.returncode != 0:
        raise HelperError(f"docker import {IMAGE} failed in the guest: {done.stderr.strip()}")
    return IMAGE
