"""The root scripts the tool runs in the boot2docker guest: pure text, built here, run by
adapters/guest.py over the run's one SSH connection.

Every value in a script is quoted with shlex.quote; each script runs as root in the guest's
POSIX sh (`as_root`). What a plan shows of the daemon's restart is `restart_command`, the very
command the guest runs.
"""

from __future__ import annotations

import hashlib
import posixpath
import shlex
from collections.abc import Sequence

from .commands import Command

PROFILE_PATH = "/var/lib/boot2docker/profile"
DEFAULT_CA_CERT = "/var/lib/boot2docker/ca.pem"
DEFAULT_SERVER_CERT = "/var/lib/boot2docker/server.pem"
DEFAULT_SERVER_KEY = "/var/lib/boot2docker/server-key.pem"
INIT_SCRIPT = "/etc/init.d/docker"
# Where the detached daemon restart leaves its pid, output and exit status (persistent disk).
RESTART_DIR = "/var/lib/boot2docker/docker-vpn-helper"

# Puts the restart in a session of its own where the guest has it (util-linux's, or busybox's
# applet); without it, a background subshell ignoring SIGHUP and SIGPIPE (plain POSIX sh).
SETSID = "setsid"


def sha256(data: bytes) -> str:
    """Hex digest the guest's `sha256sum` must report for an uploaded file."""
    return hashlib.sha256(data).hexdigest()


def short_name(command: str) -> str:
    """A command's program name for messages: `sudo X=1 /etc/init.d/docker restart` -> `docker`."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    for word in words:
        if word != "sudo" and not word.startswith("-") and "=" not in word:
            return posixpath.basename(word) or word
    return command[:40]


def restart_job() -> str:
    """The detached job: the init script's restart, its output and exit status kept in
    RESTART_DIR."""
    pid, log = f"{RESTART_DIR}/restart.pid", f"{RESTART_DIR}/restart.log"
    status = f"{RESTART_DIR}/restart.status"
    return (
        f"echo $$ > {shlex.quote(pid)}; {shlex.quote(INIT_SCRIPT)} restart > {shlex.quote(log)} "
        f"2>&1; echo $? > {shlex.quote(status + '.tmp')} && "
        f"mv -f {shlex.quote(status + '.tmp')} {shlex.quote(status)}"
    )


def restart_lines(timeout: float) -> list[str]:
    """The root script that starts the detached restart and waits for its status (see
    Guest.restart_daemon); it prints `exit N` and the log's last lines, `running` (time-out) or
    `busy` (an earlier restart never ended)."""
    folder = shlex.quote(RESTART_DIR)
    pid, log = f"{RESTART_DIR}/restart.pid", f"{RESTART_DIR}/restart.log"
    status = f"{RESTART_DIR}/restart.status"
    job = restart_job()
    tries = max(1, round(timeout * 20))  # naps of 0.05 s: the restart is noticed soon after
    return [
        *SCRIPT_PRELUDE,
        f"mkdir -p {folder} && chmod 700 {folder} || fail cannot create {folder}",
        # 1/20 s, or whole seconds where sleep takes integers only
        "nap() { sleep 0.05 2>/dev/null || { sleep 1; n=$((n + 19)); }; }",
        f'ended() {{ n=0; while [ ! -f {shlex.quote(status)} ]; do [ "$n" -ge {tries} ] && '
        "return 1; nap; n=$((n + 1)); done; }",
        f"if [ -s {shlex.quote(pid)} ] && [ ! -f {shlex.quote(status)} ] && "
        f'kill -0 "$(cat {shlex.quote(pid)})" 2>/dev/null; then ended || {{ echo busy; exit 0; }}; fi',
        f"rm -f {shlex.quote(status)} {shlex.quote(pid)}",
        f"if command -v {SETSID} >/dev/null 2>&1; then detach={SETSID}; else detach=; fi",
        f"( trap '' HUP PIPE; exec $detach sh -c {shlex.quote(job)} ) </dev/null >/dev/null 2>&1 &",
        "ended || { echo running; exit 0; }",
        f'echo "exit $(cat {shlex.quote(status)})"',
        f"tail -n 5 {shlex.quote(log)}",
    ]


# Start of the root scripts that change files: private temporaries, exit (and so clean up) on
# hang-up, and `fail` for a one-line reason on stderr.
SCRIPT_PRELUDE = [
    "umask 077",
    "trap 'exit 1' HUP INT TERM PIPE",
    'fail() { echo "$*" >&2; exit 1; }',
]


# From here on the script ends only on its own: Ctrl-C, hang-up and a closed channel no longer
# stop it halfway through replacing a set of files.
SHIELD = "trap '' HUP INT TERM PIPE"


def backup_lines(targets: Sequence[str], backup_dir: str) -> list[str]:
    """Script lines copying each existing target into backup_dir (a copy, then a rename: a
    backup is whole or absent), noting in $b0, $b1, ... the backup path, or "" for a target
    that does not exist; `print_backups` prints them once every file is in place."""
    folder = shlex.quote(backup_dir)
    if len({posixpath.basename(t) for t in targets}) != len(targets):
        raise ValueError("backed-up targets need distinct names")
    lines = [f"mkdir -p {folder} && chmod 700 {folder} || fail cannot create {folder}"]
    for index, path in enumerate(targets):
        target = shlex.quote(path)
        saved = shlex.quote(f"{backup_dir}/{posixpath.basename(path)}")
        part = shlex.quote(f"{backup_dir}/.{posixpath.basename(path)}.part")
        lines.append(
            f"b{index}=; if [ -e {target} ]; then cp -p {target} {part} && mv -f {part} {saved} "
            f"&& b{index}={saved} || fail cannot back up {target}; fi"
        )
    return lines


def print_backups(count: int) -> str:
    """The script line printing the backups `backup_lines` made, one line per target."""
    return "printf '%s\\n' " + " ".join(f'"$b{index}"' for index in range(count))


def as_root(lines: Sequence[str]) -> str:
    """A command running the script as root in the guest's sh."""
    return f"sudo sh -c {shlex.quote(chr(10).join(lines))}"


def temp_template(path: str) -> str:
    """mktemp template beside `path`, so the final rename stays within one directory."""
    return shlex.quote(f"{posixpath.dirname(path)}/.{posixpath.basename(path)}.XXXXXX")


RESTART_MARGIN = 10.0  # seconds the SSH command may take beyond the restart's own wait


def restart_command(timeout: float) -> Command:
    """The daemon's restart in the guest, detached from the SSH session (see restart_lines),
    waiting up to `timeout` for its status."""
    script = "\n".join(restart_lines(timeout))
    what = f"{INIT_SCRIPT} restart"
    shown = f"sudo {SETSID} sh -c {shlex.quote(restart_job())}"
    return Command(("sudo", "sh", "-c", script), "guest", what, timeout + RESTART_MARGIN, shown)
