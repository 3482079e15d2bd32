"""The Debian packages the lab needs, and a check that the host has them before `up` builds anything.

One list, `debian-packages.txt` beside this file: .ci/run installs it, the README prints it as one
apt-get line, and `up` names it when a program the lab runs is missing. It also holds what the
tests run beside the lab (the shells env.print is evaluated in, make, emacs, systemd-analyze):
`up` checks only the lab's own programs.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

LIST = Path(__file__).with_name("debian-packages.txt")

# The programs the lab itself runs, and the Debian package of each.
PROGRAMS = {
    "ip": "iproute2",
    "nsenter": "util-linux",
    "unshare": "util-linux",
    "tini": "tini",
    "sshd": "openssh-server",
    "ssh": "openssh-client",
    "dockerd": "docker.io",
    "containerd": "docker.io",
    "docker": "docker.io",
    "socat": "socat",
    "busybox": "busybox-static",
    "openssl": "openssl",
    "ps": "procps",
    "sudo": "sudo",
}
# sshd and friends live in sbin, which a user's PATH may leave out.
SEARCH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def packages() -> list[str]:
    return LIST.read_text().split()


def apt_line(extra: list[str] | None = None) -> str:
    """The one command that installs everything (as the README prints it)."""
    wanted = [*packages(), *(p for p in extra or [] if p not in packages())]
    return "sudo apt-get install -y --no-install-recommends " + " ".join(wanted)


def missing(search: str | None = None) -> dict[str, str]:
    """{program: its package} for the lab's programs this host lacks."""
    path = search or f"{os.environ.get('PATH', '')}:{SEARCH}"
    return {prog: pkg for prog, pkg in PROGRAMS.items() if shutil.which(prog, path=path) is None}


def refusal(search: str | None = None) -> str:
    """What to tell before building anything ("" when every program is there)."""
    absent = missing(search)
    if not absent:
        return ""
    names = ", ".join(f"{prog} ({pkg})" for prog, pkg in absent.items())
    return f"the lab needs programs this host lacks: {names}; install them with: " + apt_line(
        sorted(set(absent.values()))
    )


# How a boot log names a program it could not run: `unshare: failed to execute tini: No such
# file or directory`, `/etc/rc.d/boot2docker: 22: /usr/sbin/sshd: not found`, busybox's
# `can't execute 'x'`.
_MISSING = (
    re.compile(r"failed to execute (\S+?):"),
    re.compile(r"(\S+): (?:command )?not found"),
    re.compile(r"can't execute '([^']+)'"),
)


def likely_package(log: str) -> str:
    """The package of the program a boot log says it could not run (the last such), or ""."""
    for line in reversed(log.splitlines()):
        for pattern in _MISSING:
            found = pattern.search(line)
            program = os.path.basename(found.group(1)) if found else ""
            if program in PROGRAMS:
                return PROGRAMS[program]
    return ""
