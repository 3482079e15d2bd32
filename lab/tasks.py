"""invoke tasks for the lab: `lab.up`, `lab.down`, `lab.vpn-on`, `lab.vpn-off`, `lab.status`,
`lab.shell`, `lab.exec`, `lab.image`, `lab.demo`.

Progress and the demo's transcript go to stderr; `lab.status` prints JSON on stdout. The clone's
tasks.py adds this collection to the tool's tasks (`invoke lab.demo`); `python -m lab demo` runs it
alone. The installed `docker-vpn-helper` does not have it.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from invoke import Collection, task
from invoke.exceptions import Exit

from docker_vpn_helper.errors import HelperError

from . import image, proc
from .paths import DEMO_DIR, FIRST_MACHINE, HOST_NS, NS_PREFIX

if TYPE_CHECKING:
    from .lab import Lab


def _lab() -> Lab:
    """The lab, imported on first use: it loads cryptography, which `env.print` must not pay for."""
    from .lab import Lab

    return Lab()


DIRECT = "tcp://192.168.99.100:2376"
FORWARDED = "tcp://localhost:2376"


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@task(
    iterable=["machine"],
    help={
        "machine": f"machine name (repeatable; default: {FIRST_MACHINE})",
        "legacy-ssh": "guest sshd accepts only ssh-rsa signatures (pre-2016 boot2docker)",
        "cert-profile": "daemon certificate as docker-machine v0.16 (IP+localhost) or v0.4 (IP only)",
        "virtualbox": "the VirtualBox the stand-ins are: 5.2, 6.1 (default), 7.0.0, 7.0.2 or 7.1",
        "minikube": "also minikube's VirtualBox VM, profile `minikube` (~/.minikube, ~/.kube/config)",
    },
)
def up(c, machine=None, legacy_ssh=False, cert_profile="v0.16", virtualbox="", minikube=False):
    """Build the lab (idempotent): dvhlab-host, the store, and each machine running."""
    started = time.monotonic()
    machines = tuple(machine or [FIRST_MACHINE])
    lab = _lab()
    if virtualbox:
        lab.set_virtualbox(virtualbox)
    lab = lab.up(machines, legacy_ssh=legacy_ssh, cert_profile=cert_profile)
    if minikube:
        lab.up(("minikube",), flavour="minikube")
    say(f"lab up in {time.monotonic() - started:.1f} s at {lab.paths.root}")
    for name, vm in lab.status()["machines"].items():
        say(f"  {name}: {vm['state']} {vm['ip']}, ssh on 127.0.0.1:{vm['ssh_port']}")
    say("use it on the lab's Mac: lab.shell, or lab.exec -- CMD (e.g. docker-vpn-helper fix)")


@task
def down(c):
    """Tear the lab down: no processes, mounts, namespaces or files left."""
    started = time.monotonic()
    _lab().down()
    say(f"lab down in {time.monotonic() - started:.1f} s")


@task(name="vpn-on", help={"mode": "drop (hangs, default), unreachable, blackhole or prohibit"})
def vpn_on(c, mode="drop"):
    """Connect the fake VPN: 192.168.99.0/24 goes into utun0, which its client holds open.

    routes.restore refuses to take the route while the client holds it.
    """
    lab = _lab()
    lab.vpn_on(mode)
    say(f"VPN on ({mode}): {lab.status()['route']}")


@task(
    name="vpn-off",
    help={
        "keep-stale-route": "the client quits but its route stays, on the dead utun0 (what "
        "routes.restore repairs)"
    },
)
def vpn_off(c, keep_stale_route=False):
    """Disconnect the fake VPN: its client quits and 192.168.99.0/24 goes back to vboxnet0."""
    lab = _lab()
    lab.vpn_off(keep_stale_route)
    say(f"VPN off: {lab.status()['route']}")


@task
def status(c):
    """Print the lab's state as JSON."""
    print(json.dumps(_lab().status(), indent=2))


def _on_the_mac(argv: list[str], env: dict[str, str] | None = None) -> None:
    code = _lab().attach(argv, env)
    if code:
        raise Exit(code=code)


@task
def shell(c):
    """Open a shell on the lab's Mac, where the lab's own commands run.

    Its network namespace, the stand-ins and the tool on PATH, MACHINE_STORAGE_PATH, HOME,
    DVH_LAB_DIR and DVH_LAB_NS as the lab's own commands have them.
    """
    lab = _lab()
    env = lab.host_env()
    env["PS1"] = f"[lab {lab.paths.root} Mac] \\w\\$ "
    say(f"a shell on the lab's Mac (namespace {HOST_NS}); `exit` leaves it")
    _on_the_mac(["/bin/bash", "--norc", "--noprofile"], env)


def _remainder(argv: list[str]) -> list[str]:
    """The words after `--` on the command line, as typed (invoke keeps them as one string)."""
    return argv[argv.index("--") + 1 :] if "--" in argv else []


@task(name="exec")
def exec_(c):
    """Run the command after `--` on the lab's Mac and exit with its status.

    It runs as in lab.shell: `invoke lab.exec -- docker-vpn-helper fix`.
    """
    argv = _remainder(sys.argv)
    if not argv:
        raise HelperError(
            "lab.exec: give the command after --, e.g. lab.exec -- docker-vpn-helper fix"
        )
    _on_the_mac(argv)


@task(
    name="image",
    help={
        "machine": f"the machine whose daemon gets it (default: {FIRST_MACHINE})",
        "port": "the port the example publishes (default 8080)",
    },
)
def image_(c, machine=FIRST_MACHINE, port=8080):
    """Load the lab's offline image into a machine and print a `docker run -d -p` line to copy.

    No registry is reachable from the lab: its busybox image serves a page (HTTP) or echoes UDP.
    """
    name = _lab().load_image(machine)
    say(f"{name} is loaded in the daemon of {machine!r}; on the lab's Mac (lab.shell), after fix:")
    run = ["docker", "run", "-d", "--init", "-p", f"{port}:{port}", name, *image.http_server(port)]
    print(shlex.join(run), flush=True)
    say(
        f"then `docker-vpn-helper ports.sync --machine {machine}` forwards 127.0.0.1:{port}, and "
        f"`curl -sS http://127.0.0.1:{port}/` answers: {image.PAGE.strip()}"
    )


def _docker_version(lab: Lab, host: str) -> bool:
    env = lab.host_env()
    env.update(
        DOCKER_HOST=host,
        DOCKER_TLS_VERIFY="1",
        DOCKER_CERT_PATH=str(lab.paths.machine_dir(FIRST_MACHINE)),
    )
    say(f"$ DOCKER_HOST={host} docker version")
    version = [
        "docker",
        "version",
        "--format",
        "Client {{.Client.Version}}, Server {{.Server.Version}}",
    ]
    result = lab.run_on_host(["timeout", "8", *version], env=env, timeout=15)
    for line in (result.stdout + result.stderr).strip().splitlines():
        say(f"  {line}")
    if result.returncode == 124:
        say("  (no answer after 8 s: timed out)")
    return result.returncode == 0


def _fix(lab: Lab, round_: int) -> None:
    argv = [sys.executable, "-m", "docker_vpn_helper", "fix"]
    say(f"$ docker-vpn-helper fix   # machine {FIRST_MACHINE!r}, round {round_}")
    result = lab.run_on_host(argv, timeout=180)
    for line in result.stderr.strip().splitlines():
        say(f"  {line}")
    for line in result.stdout.strip().splitlines():
        say(f"  (stdout) {line}")
    if result.returncode != 0:
        raise HelperError(f"demo: fix failed with exit status {result.returncode}")


def _in_own_lab(keep: bool) -> None:
    """The demo again, in its own lab (DEMO_DIR, namespaces named after it): the namespace names
    are fixed when the lab's modules load, so a child process gets them."""
    argv = [sys.executable, "-m", "lab", "demo", *(["--keep"] if keep else [])]
    env = {**os.environ, "DVH_LAB_DIR": DEMO_DIR}
    code = subprocess.run(argv, env=env, cwd=Path(__file__).resolve().parent.parent).returncode
    if code:
        raise Exit(code=code)


def _claim(lab: Lab) -> None:
    """The demo's own lab: whatever an earlier demo left there goes, unless one runs there now
    (its PID, in the lab's folder, names a live demo)."""
    pidfile = lab.paths.root / "demo.pid"
    try:
        pid = int(pidfile.read_text())
    except (OSError, ValueError):
        pid = 0
    if pid and proc.alive(pid) and "demo" in proc.cmdline(pid):
        raise HelperError(
            f"lab.demo: another demo is running in {lab.paths.root} (pid {pid}): let it finish"
        )
    lab.down()
    lab.paths.root.mkdir(parents=True)
    pidfile.write_text(f"{os.getpid()}\n")


@task(help={"keep": "leave the lab up at the end"})
def demo(c, keep=False):
    """The story: lab up, VPN on, docker breaks, `fix` repairs it (twice), lab down.

    It builds and takes down a lab of its own (/run/dvhlab-demo, or the one DVH_LAB_DIR and
    DVH_LAB_NS name); it refuses to run in a lab that is up, e.g. the one lab.up built.
    """
    if not {"DVH_LAB_DIR", "DVH_LAB_NS"} & set(os.environ):
        _in_own_lab(keep)
        return
    lab = _lab()
    if lab.paths.root == Path(DEMO_DIR):
        _claim(lab)
    elif lab.status()["up"]:
        raise HelperError(
            f"lab.demo: a lab is up in {lab.paths.root} (namespace {HOST_NS}), which the demo "
            "would take down: run the demo without DVH_LAB_DIR and DVH_LAB_NS (it has a lab of "
            "its own), or take that lab down first with lab.down"
        )
    try:
        say(
            f"== a Mac with docker-machine's VM {FIRST_MACHINE!r} at 192.168.99.100 (made by "
            f"docker-machine 0.4), in the lab {lab.paths.root}"
        )
        lab.up(cert_profile="v0.4")
        if not _docker_version(lab, DIRECT):
            raise HelperError("demo: docker does not work even without the VPN")
        say("== the VPN connects and takes 192.168.99.0/24")
        lab.vpn_on("drop")
        say(f"  route now: {lab.status()['route']}")
        _docker_version(lab, DIRECT)
        say("== forwarding the port by hand is not enough: the certificate does not name localhost")
        rule = [
            "VBoxManage",
            "controlvm",
            FIRST_MACHINE,
            "natpf1",
            "docker,tcp,127.0.0.1,2376,,2376",
        ]
        say("$ " + " ".join(rule))
        lab.run_on_host(rule)
        _docker_version(lab, FORWARDED)
        say("== the helper repairs it")
        _fix(lab, 1)
        if not _docker_version(lab, FORWARDED):
            raise HelperError("demo: docker still fails through tcp://localhost:2376 after fix")
        say("== running it again changes nothing that works")
        _fix(lab, 2)
        if not _docker_version(lab, FORWARDED):
            raise HelperError("demo: docker fails after the second fix")
        say("== done")
    finally:
        if keep:
            say(
                f"the lab stays up: sudo DVH_LAB_DIR={lab.paths.root} DVH_LAB_NS={NS_PREFIX} "
                ".venv/bin/invoke lab.shell (or lab.down)"
            )
        else:
            lab.down()


lab = Collection("lab", up, down, vpn_on, vpn_off, status, shell, exec_, image_, demo)
