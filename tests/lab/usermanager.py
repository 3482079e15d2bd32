"""A real systemd user manager for a user that exists only in the test (docs/LAB.md, "A real
systemd user manager"): what a Linux user's login session runs, so that `systemctl --user`
shows what that user would see of the login agent.

Root starts it in private mount and network namespaces: the test user's passwd and group
entries are bind-mounted over copies of /etc/passwd and /etc/group (no user is ever added to
the host), a tmpfs over /run/systemd holds the `system` folder systemctl looks for, and the
network has only its own loopback (nothing of the host's or of another lab's). The manager
gets a cgroup of its own under /sys/fs/cgroup/{unified,systemd}/user.slice (hybrid v1 + v2,
as on this kind of machine) and a session bus (dbus-daemon). The Python running the agent is
a venv made from /usr/bin/python3 whose paths point at this interpreter's packages and at
this checkout, bind-mounted where the user can read them (a checkout under /root is not).
Everything lives in one folder and goes with `stop()`.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
UID = 64242  # not a user of the host: it exists in the manager's mount namespace only
NAME = "dvhagent"
CGROUPS = ("unified", "systemd")
NEEDED = ("/lib/systemd/systemd", "/usr/bin/dbus-daemon", "/usr/bin/setpriv", "/usr/bin/python3")


def missing() -> str | None:
    """Why a user manager cannot start here (None: it can)."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return "a user manager for another user needs root on Linux"
    absent = [path for path in NEEDED if not Path(path).exists()]
    if absent:
        return f"missing {', '.join(absent)} (lab/debian-packages.txt: systemd, dbus)"
    if not all(Path("/sys/fs/cgroup", c).is_dir() for c in CGROUPS):
        return "no hybrid cgroup hierarchy (/sys/fs/cgroup/unified and /sys/fs/cgroup/systemd)"
    return None


class UserManager:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.home = folder / "home"
        self.runtime = folder / "runtime"
        self.log = folder / "manager.log"
        self.proc: subprocess.Popen | None = None

    @property
    def cgroups(self) -> list[Path]:
        slice_ = f"user.slice/user-{UID}.slice/user@{UID}.service"
        return [Path("/sys/fs/cgroup", c, slice_) for c in CGROUPS]

    def start(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        for path in (
            self.home,
            self.runtime,
            self.folder / "py" / "site",
            self.folder / "py" / "src",
        ):
            path.mkdir(parents=True)
        self.folder.chmod(0o755)
        self.runtime.chmod(0o700)
        for path in (self.home, self.runtime):
            os.chown(path, UID, UID)
        passwd = Path("/etc/passwd").read_text() + f"{NAME}:x:{UID}:{UID}::{self.home}:/bin/sh\n"
        (self.folder / "passwd").write_text(passwd)
        (self.folder / "group").write_text(Path("/etc/group").read_text() + f"{NAME}:x:{UID}:\n")
        self._venv()
        for cgroup in self.cgroups:
            cgroup.mkdir(parents=True, exist_ok=True)
            os.chown(cgroup, UID, UID)
            for name in ("cgroup.procs", "tasks", "cgroup.subtree_control"):
                with contextlib.suppress(FileNotFoundError):
                    os.chown(cgroup / name, UID, UID)
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--net", "--propagation", "private", "sh", "-c", self._script()],
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while self._state() not in ("running", "degraded"):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(
                    f"the user manager did not start: {self.log.read_text()[-2000:]}"
                )
            time.sleep(0.1)

    def _state(self) -> str:
        try:
            return self.user("systemctl", "--user", "is-system-running").stdout.strip()
        except RuntimeError:  # not started yet
            return ""

    def _venv(self) -> None:
        """A venv of /usr/bin/python3 (its packages: this interpreter's, and this checkout)."""
        venv = self.folder / "venv"
        subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", str(venv)], check=True)
        (site,) = venv.glob("lib/python3*/site-packages")
        site.joinpath("dvh-test.pth").write_text(
            f"{self.folder / 'py' / 'src'}\n{self.folder / 'py' / 'site'}\n"
        )

    def _script(self) -> str:
        """What runs in the new namespaces: mounts, cgroups, then the user's bus and manager."""
        f = self.folder
        mounts = [
            f"mount --bind {f}/passwd /etc/passwd",
            f"mount --bind {f}/group /etc/group",
            "mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system",
            f"mount --bind {shlex.quote(sysconfig.get_paths()['purelib'])} {f}/py/site",
            f"mount --bind {shlex.quote(str(REPO))} {f}/py/src",
            "ip link set lo up",
            *(f"echo $$ > {c}/cgroup.procs" for c in self.cgroups),
        ]
        user = (
            "dbus-daemon --session --address=$DBUS_SESSION_BUS_ADDRESS --fork; "
            "exec /lib/systemd/systemd --user"
        )
        return " && ".join(
            [
                *mounts,
                f"exec env {' '.join(self._env())} SYSTEMD_LOG_TARGET=console "
                f"setpriv --reuid={UID} --regid={UID} --init-groups sh -c {shlex.quote(user)}",
            ]
        )

    def _env(self) -> list[str]:
        return [
            "PATH=/usr/bin:/bin",
            f"HOME={self.home}",
            f"USER={NAME}",
            f"LOGNAME={NAME}",
            f"XDG_RUNTIME_DIR={self.runtime}",
            f"DBUS_SESSION_BUS_ADDRESS=unix:path={self.runtime}/bus",
        ]

    def manager_pid(self) -> int:
        found = subprocess.run(
            ["pgrep", "-u", str(UID), "-x", "systemd"], capture_output=True, text=True
        ).stdout.split()
        if not found:
            raise RuntimeError(f"no user manager runs: {self.log.read_text()[-2000:]}")
        return int(found[0])

    def user(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run argv as the user, in the manager's namespaces, with its session's environment."""
        enter = ["nsenter", "-t", str(self.manager_pid()), "-m", "-n"]
        as_user = ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--init-groups"]
        return subprocess.run(
            [*enter, *as_user, "env", "-i", *self._env(), *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    @property
    def python(self) -> str:
        return str(self.folder / "venv" / "bin" / "python")

    def stop(self) -> str:
        """Log the user out (SIGTERM to the manager, as logind's stop of user@UID does): it
        stops its units and exits. Returns what it said meanwhile."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(RuntimeError, ProcessLookupError):
                os.kill(self.manager_pid(), signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        subprocess.run(["pkill", "-KILL", "-u", str(UID)], check=False)  # the bus, if left
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def remove(self) -> None:
        """The cgroups (deepest first, once empty) and the folder."""
        for cgroup in self.cgroups:
            for folder in sorted(
                (p for p in cgroup.parent.rglob("*") if p.is_dir()),
                key=lambda p: len(p.parts),
                reverse=True,
            ):
                with contextlib.suppress(OSError):
                    folder.rmdir()
            for folder in (cgroup, cgroup.parent, cgroup.parent.parent):
                with contextlib.suppress(OSError):
                    folder.rmdir()
        shutil.rmtree(self.folder, ignore_errors=True)
