"""The root scripts the tool runs in the VM (boot2docker's, or minikube's): pure text, built
here, run by adapters/guest.py over the run's one SSH connection.

Every value in a script is quoted with shlex.quote; each script runs as root in the guest's
POSIX sh (`as_root`). What a plan shows of the daemon's restart is `restart_command`, the very
command the guest runs.
"""

from __future__ import annotations

import hashlib
import posixpath
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from .commands import Command

PROFILE_PATH = "/var/lib/boot2docker/profile"
DEFAULT_CA_CERT = "/var/lib/boot2docker/ca.pem"
DEFAULT_SERVER_CERT = "/var/lib/boot2docker/server.pem"
DEFAULT_SERVER_KEY = "/var/lib/boot2docker/server-key.pem"
INIT_SCRIPT = "/etc/init.d/docker"


@dataclass(frozen=True)
class Flavour:
    """What differs between the guests whose daemon files the tool replaces: where it keeps,
    on the VM's persistent disk, the files it replaces (`backups`) and the detached restart's
    pid, output and exit status (`restart_dir`), and the root shell words restarting dockerd."""

    name: str
    backups: str
    restart_dir: str
    restart: str

    def backup_dir(self, stamp: str) -> str:
        return f"{self.backups}/{stamp}"


BOOT2DOCKER = Flavour(
    "boot2docker",
    "/var/lib/boot2docker/backups",
    "/var/lib/boot2docker/docker-vpn-helper",
    f"{INIT_SCRIPT} restart",
)
# minikube's VM: systemd's docker.service, whose drop-in (core/minikube.DOCKER_DROP_IN) names
# the TLS files; /var/lib/minikube is on its persistent disk. The reload first, as systemd
# runs the command line it loaded, not the one on disk.
MINIKUBE = Flavour(
    "minikube",
    "/var/lib/minikube/docker-vpn-helper/backups",
    "/var/lib/minikube/docker-vpn-helper",
    "{ systemctl daemon-reload && systemctl restart docker; }",
)

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


def restart_job(flavour: Flavour = BOOT2DOCKER) -> str:
    """The detached job: the flavour's restart, its output and exit status kept in its
    restart_dir."""
    folder = flavour.restart_dir
    pid, log = f"{folder}/restart.pid", f"{folder}/restart.log"
    status = f"{folder}/restart.status"
    return (
        f"echo $$ > {shlex.quote(pid)}; {flavour.restart} > {shlex.quote(log)} "
        f"2>&1; echo $? > {shlex.quote(status + '.tmp')} && "
        f"mv -f {shlex.quote(status + '.tmp')} {shlex.quote(status)}"
    )


def restart_lines(timeout: float, flavour: Flavour = BOOT2DOCKER) -> list[str]:
    """The root script that starts the detached restart and waits for its status (see
    Guest.restart_daemon); it prints `exit N` and the log's last lines, `running` (time-out) or
    `busy` (an earlier restart never ended)."""
    folder = shlex.quote(flavour.restart_dir)
    pid, log = f"{flavour.restart_dir}/restart.pid", f"{flavour.restart_dir}/restart.log"
    status = f"{flavour.restart_dir}/restart.status"
    job = restart_job(flavour)
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


def restart_command(timeout: float, flavour: Flavour = BOOT2DOCKER) -> Command:
    """The daemon's restart in the guest, detached from the SSH session (see restart_lines),
    waiting up to `timeout` for its status."""
    script = "\n".join(restart_lines(timeout, flavour))
    what = flavour.restart.strip("{}; ")
    shown = f"sudo {SETSID} sh -c {shlex.quote(restart_job(flavour))}"
    return Command(("sudo", "sh", "-c", script), "guest", what, timeout + RESTART_MARGIN, shown)


def daemon_files_script(profile_path: str, mark: str) -> str:
    """Print the profile, the served certificate, its key's checksum and the CA, each after a
    `mark` line naming it (`sections` splits them); the profile is sourced in a subshell, as
    the init script does."""
    script = f"""
p={shlex.quote(profile_path)}
c=$( [ -f "$p" ] && . "$p" </dev/null >/dev/null 2>&1; printf %s "$SERVERCERT" )
c=${{c:-{DEFAULT_SERVER_CERT}}}
k=$( [ -f "$p" ] && . "$p" </dev/null >/dev/null 2>&1; printf %s "$SERVERKEY" )
k=${{k:-{DEFAULT_SERVER_KEY}}}
a=$( [ -f "$p" ] && . "$p" </dev/null >/dev/null 2>&1; printf %s "$CACERT" )
a=${{a:-{DEFAULT_CA_CERT}}}
if [ -f "$p" ]; then printf '%s\\n' '{mark}profile'; cat "$p"; fi
if [ -f "$c" ]; then printf '\\n%s\\n' "{mark}cert $c"; cat "$c"
else printf '\\n%s\\n' "{mark}none $c"; fi
if [ -f "$k" ]; then set -- $(sha256sum "$k"); printf '\\n%s\\n' "{mark}keysha $1 $k"
else printf '\\n%s\\n' "{mark}nokey - $k"; fi
if [ -f "$a" ]; then printf '\\n%s\\n' "{mark}ca $a"; cat "$a"; fi
printf '\\n%s\\n' '{mark}end'
"""
    return as_root([script])


def sections(out: str, mark: str) -> dict[str, tuple[str, str]]:
    """{kind: (path, body)} of `daemon_files_script`'s output."""
    found = {}
    for part in ("\n" + out).split("\n" + mark)[1:]:
        header, _, body = part.partition("\n")
        kind, _, path = header.partition(" ")
        found[kind] = (path, body)
    return found


def sha256_file_script(path: str) -> str:
    """Print a guest file's sha256, nothing when it does not exist."""
    quoted = shlex.quote(path)
    return as_root([f'if [ -f {quoted} ]; then set -- $(sha256sum {quoted}); echo "$1"; fi'])


def read_file_script(path: str) -> str:
    """Print `y` and a guest file's text, nothing when it does not exist."""
    quoted = shlex.quote(path)
    return as_root([f"if [ -f {quoted} ]; then echo y; cat {quoted}; fi"])


def read_files_script(paths: Sequence[str], mark: str) -> str:
    """Print each file after a `mark` line (`y`: there, `n`: missing); `split_files` reads it."""
    return as_root(
        [
            f"if [ -f {shlex.quote(path)} ]; then printf '%s\\n' '{mark}y'; cat {shlex.quote(path)}; "
            f"else printf '%s\\n' '{mark}n'; fi; printf '\\n'"
            for path in paths
        ]
    )


def read_folder_script(folder: str, patterns: Sequence[str], mark: str) -> str:
    """Print each file of `folder` matching the shell `patterns` after a `mark<path>` line;
    `split_folder` reads it."""
    globs = " ".join(f"{shlex.quote(folder)}/{pattern}" for pattern in patterns)
    return as_root(
        [
            f'for f in {globs}; do [ -f "$f" ] || continue; '
            f"printf '%s\\n' \"{mark}$f\"; cat \"$f\"; printf '\\n'; done"
        ]
    )


def split_folder(out: str, mark: str) -> dict[str, bytes]:
    found = {}
    for part in out.split(mark)[1:]:
        path, _, body = part.partition("\n")
        found[path] = body[:-1].encode()
    return found


def split_files(out: str, mark: str) -> list[bytes | None]:
    found: list[bytes | None] = []
    for part in out.split(mark)[1:]:
        kind, _, body = part.partition("\n")
        found.append(body[:-1].encode() if kind == "y" else None)
    return found


def install_script(files: Sequence[tuple[str, bytes, int]], backup_dir: str) -> str:
    """Replace root-owned files (path, content, mode) as a unit from the command's stdin (the
    contents, one after the other), after checking every sha256 and backing the targets up in
    `backup_dir`; prints one backup path per file ("" for a target that was new)."""
    names = [posixpath.basename(path) for path, _, _ in files]
    if len(set(names)) != len(names) or not all(p.startswith("/") for p, _, _ in files):
        raise ValueError("install_files needs absolute targets with distinct names")
    temps = [f"t{i}" for i in range(len(files))]
    cleanup = " ".join(f'"${temp}"' for temp in temps)
    lines = [*SCRIPT_PRELUDE, f"trap 'rm -f {cleanup}' EXIT"]
    for folder in dict.fromkeys(posixpath.dirname(path) for path, _, _ in files):
        quoted = shlex.quote(folder)
        lines.append(f"mkdir -p {quoted} || fail cannot create {quoted}")
    for temp, (path, _, _) in zip(temps, files):
        lines.append(
            f"{temp}=$(mktemp {temp_template(path)}) || fail cannot write {shlex.quote(path)}"
        )
    for temp, (path, content, _) in zip(temps, files):
        lines += [
            # dd fails on a write error (disk full): say why, in its own last words.
            f'e=$(dd bs=1 count={len(content)} of="${temp}" 2>&1) || fail cannot write '
            f"{shlex.quote(path)} in the VM: "
            "\"$(printf '%s\\n' \"$e\" | sed -n 's/.*: //p' | head -n 1)\"",
            f'set -- $(sha256sum "${temp}")',
            f'[ "$1" = {sha256(content)} ] || fail checksum mismatch for {shlex.quote(path)}: '
            "upload incomplete, nothing changed",
        ]
    lines += backup_lines([path for path, _, _ in files], backup_dir)
    for temp, (_, _, mode) in zip(temps, files):
        lines.append(f'chmod {mode:o} "${temp}" && chown 0:0 "${temp}" || fail cannot chmod')
    # The files are replaced as a unit: nothing stops the script between the renames (it
    # writes nothing until they are done, so a closed channel cannot either).
    lines.append(SHIELD)
    for temp, (path, _, _) in zip(temps, files):
        target = shlex.quote(path)
        lines.append(f'mv -f "${temp}" {target} || fail cannot move the new {target} into place')
    lines.append(print_backups(len(files)))
    return as_root(lines)


def restore_script(
    backups: Sequence[tuple[str, str]], backup_dir: str | None, skip_missing: bool
) -> str:
    """Put back (backup, target) pairs: copy beside, then rename; a "" backup removes its
    target. See Guest.restore_files."""
    lines = [*SCRIPT_PRELUDE, "trap 'rm -f \"$t\"' EXIT"]
    for saved, _ in backups:
        if saved and not skip_missing:
            quoted = shlex.quote(saved)
            lines.append(f"[ -f {quoted} ] || fail backup {quoted} is missing")
    if backup_dir is not None:
        lines += backup_lines([path for _, path in backups], backup_dir)
    lines.append(SHIELD)
    for saved, path in backups:
        target = shlex.quote(path)
        if not saved:
            lines.append(f"rm -f {target} || fail cannot remove {target}")
            continue
        quoted = shlex.quote(saved)
        lines.append(
            f"if [ -f {quoted} ]; then t=$(mktemp {temp_template(path)}) && "
            f'cp -p {quoted} "$t" && mv -f "$t" {target} || fail cannot restore {target}; fi'
        )
    if backup_dir is not None:
        lines.append(print_backups(len(backups)))
    return as_root(lines)


# {name: restart policy} of the running containers (a daemon that does not answer runs none).
RESTART_POLICIES = (
    'ids=$(sudo docker ps -q 2>/dev/null) || exit 0; [ -z "$ids" ] || sudo docker '
    "inspect --format '{{.Name}} {{.HostConfig.RestartPolicy.Name}}' $ids"
)


def parse_policies(out: str) -> dict[str, str]:
    policies = {}
    for line in out.splitlines():
        name, _, policy = line.strip().partition(" ")
        if name:
            policies[name.lstrip("/")] = policy.strip()
    return policies
