"""The boot2docker guest over SSH: the one place the tool talks to the VM, through Fabric.

We reach the guest the way `docker-machine ssh` does (127.0.0.1:<SSHPort>, the VirtualBox NAT
forward, which keeps working on the VPN), with only the machine's key and no host key checks.
Fabric and paramiko are imported lazily: `env.print` runs at shell start-up and must stay light.
"""

from __future__ import annotations

import io
import logging
import os
import secrets
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from docker_vpn_helper.core import guestscripts as scripts
from docker_vpn_helper.core.commands import Command
from docker_vpn_helper.core.profile import parse_profile
from docker_vpn_helper.core.text import last_line
from docker_vpn_helper.errors import HelperError

if TYPE_CHECKING:
    from fabric import Config, Connection
    from paramiko import PKey

NO_EXIT_STATUS = -1  # what paramiko reports for a channel closed without an exit status

# Pre-2016 boot2docker sshds verify only the SHA-1 `ssh-rsa` signature; paramiko signs RSA keys
# with rsa-sha2-512 first (modern OpenSSH lists it in server-sig-algs even when its config
# refuses it, and old ones send no list at all), so a refused rsa-sha2 login is retried once
# with these disabled.
LEGACY_RSA = {"pubkeys": ["rsa-sha2-512", "rsa-sha2-256"]}

# paramiko logs connection failures with tracebacks at ERROR; without a handler of its own,
# Python would print them on stderr. They still propagate to any handler the CLI installs.
logging.getLogger("paramiko").addHandler(logging.NullHandler())


@dataclass(frozen=True)
class DaemonFiles:
    """Where the guest's dockerd takes its TLS files from, and the certificate it serves now."""

    ca_cert_path: str
    server_cert_path: str
    server_key_path: str
    server_cert_pem: bytes | None
    profile_found: bool
    server_key_sha256: str | None = None  # the key's checksum (the key stays in the VM)
    ca_cert_pem: bytes | None = None  # the CA the daemon checks clients with (CACERT)


def _fabric_config() -> Config:
    """A Fabric config that reads no file (no ~/.ssh/config, no fabric.yml, no env vars)."""
    from fabric import Config
    from fabric.runners import Remote

    class WholeStdin(Remote):
        """Fabric's runner, sending stdin in one write: invoke's sends a byte per 10 ms tick,
        each decoded as text (3 KB took 30 s in the test sshd, and random bytes came out wrong)."""

        def handle_stdin(self, input_, output, echo=False):
            try:
                self._write_proc_stdin(input_.read())
                self.close_proc_stdin()
            except OSError:
                pass  # the channel closed (command exited or timed out): its status tells why

    return Config(
        lazy=True,
        runtime_ssh_path=None,
        overrides={"load_ssh_configs": False, "runners": {"remote": WholeStdin}},
    )


class Guest:
    """One SSH connection to a docker-machine guest, opened on first use and reused."""

    def __init__(
        self,
        port: int,
        user: str,
        key_path: str | os.PathLike[str],
        *,
        host: str = "127.0.0.1",
        connect_timeout: float = 10.0,
        command_timeout: float = 60.0,
        machine: str | None = None,
    ) -> None:
        self.port = int(port)
        self.user = user
        self.key_path = os.fspath(key_path)
        self.host = host
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self.machine = machine or "NAME"
        #: Signature algorithm the guest accepted for our key (diagnostics), after connecting.
        self.signature_algorithm: str | None = None
        #: SSH connections opened so far (a legacy guest costs two: the refused sha2 attempt).
        self.connections_opened = 0
        self._conn: Connection | None = None

    def __enter__(self) -> Guest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def _where(self) -> str:
        return f"{self.host}:{self.port}"

    def close(self) -> None:
        """Close the connection; a later call opens a new one."""
        if self._conn is not None:
            self._conn.client.close()
            self._conn = None

    # -- connecting -------------------------------------------------------------------------

    def connect(self) -> None:
        """Open the connection now (e.g. in the background while other stages work)."""
        self._connection()

    def _connection(self) -> Connection:
        """The open connection, (re)opened if needed."""
        if self._conn is None or not self._conn.is_connected:
            self.close()
            self._conn = self._open(self._load_key(), legacy=False)
        return self._conn

    def _load_key(self) -> PKey:
        """Load the machine key, refusing an unprotected one like ssh does."""
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
        from paramiko import PKey, RSAKey
        from paramiko.pkey import UnknownKeyType

        path = self.key_path
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            raise HelperError(
                f"SSH key {path} not found (docker-machine keeps it as machines/<name>/id_rsa)"
            ) from None
        except OSError as exc:
            raise HelperError(f"cannot read SSH key {path}: {exc.strerror}") from None
        if mode & 0o077:
            raise HelperError(
                f"SSH key {path} is accessible by group/others (mode {mode & 0o777:04o}), "
                f"ssh would refuse it: run `chmod 600 {path}`"
            )
        try:
            # docker-machine's key is PEM RSA: load it once, without cryptography's slow RSA
            # consistency check (PKey.from_path pays it twice); it is the user's own key, used
            # only to sign. Other formats and key types go through paramiko's generic loader.
            with open(path, "rb") as key_file:
                data = key_file.read()
            try:
                loaded = load_pem_private_key(data, None, unsafe_skip_rsa_key_validation=True)
            except (ValueError, UnsupportedAlgorithm):
                loaded = None
            if isinstance(loaded, rsa.RSAPrivateKey):
                return RSAKey(key=loaded)
            return PKey.from_path(path)
        except TypeError:
            raise HelperError(f"SSH key {path} is passphrase-protected") from None
        except (UnknownKeyType, ValueError, OSError):
            raise HelperError(f"SSH key {path} is not a usable private key") from None

    def _open(self, pkey: PKey, *, legacy: bool) -> Connection:
        """Connect and authenticate; retry once with `ssh-rsa` if rsa-sha2 was refused."""
        from fabric import Connection
        from paramiko import MissingHostKeyPolicy
        from paramiko.ssh_exception import AuthenticationException, SSHException

        timeout = self.connect_timeout
        connect_kwargs = {
            "pkey": pkey,
            "look_for_keys": False,
            "allow_agent": False,
            "timeout": timeout,
            "banner_timeout": timeout,
            "auth_timeout": timeout,
            "channel_timeout": timeout,
        }
        if legacy:
            connect_kwargs["disabled_algorithms"] = LEGACY_RSA
        conn = Connection(
            self.host,
            user=self.user,
            port=self.port,
            config=_fabric_config(),
            connect_kwargs=connect_kwargs,
        )
        # The base policy accepts an unknown host key and stores nothing, like docker-machine's
        # StrictHostKeyChecking=no + UserKnownHostsFile=/dev/null (the VM's key changes on
        # re-creation and the port is reused).
        conn.client.set_missing_host_key_policy(MissingHostKeyPolicy())
        self.connections_opened += 1
        try:
            conn.connect_kwargs["sock"] = self._dial()
            conn.open()
        except AuthenticationException:
            tried = _signature_algorithm(conn) or ""
            conn.client.close()
            if not legacy and tried.startswith("rsa-sha2-"):
                return self._open(pkey, legacy=True)
            raise HelperError(
                f"the guest on {self._where} refused SSH key {self.key_path} for user "
                f"{self.user!r} (is it the machine's id_rsa?)"
            ) from None
        except (OSError, EOFError) as exc:
            conn.client.close()
            raise HelperError(self._unreachable(_why(exc, timeout))) from None
        except SSHException as exc:
            transport = conn.client.get_transport()
            spoke_ssh = transport is not None and bool(transport.remote_version)
            conn.client.close()
            if not spoke_ssh:
                raise HelperError(self._unreachable("no SSH banner")) from None
            raise HelperError(f"SSH handshake with {self._where} failed: {exc}") from None
        self.signature_algorithm = _signature_algorithm(conn) or pkey.get_name()
        return conn

    def _dial(self) -> socket.socket:
        """The TCP connection for SSH, with Nagle's algorithm off.

        SSH's small request/reply packets otherwise wait for the peer's delayed ACK in the
        handshake and in every command (paramiko leaves Nagle on; docs/PERFORMANCE.md).
        """
        sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _unreachable(self, why: str) -> str:
        return (
            f"nothing answers SSH on {self._where} ({why}): the VirtualBox NAT `ssh` forward "
            f"or the VM may be down; try `docker-machine start {self.machine}`"
        )

    # -- commands ---------------------------------------------------------------------------

    def run(self, command: str, *, timeout: float | None = None, stdin: bytes | None = None) -> str:
        """Run a shell command in the guest and return its stdout; quote values with shlex.quote."""
        return self._exec(command, scripts.short_name(command), timeout=timeout, stdin=stdin)

    def _exec(
        self, command: str, name: str, *, timeout: float | None = None, stdin: bytes | None = None
    ) -> str:
        """Run `command`; any failure becomes a one-line HelperError naming `name`."""
        from invoke.exceptions import CommandTimedOut, ThreadException
        from paramiko.ssh_exception import SSHException

        conn = self._connection()
        limit = self.command_timeout if timeout is None else timeout
        timed_out = HelperError(
            f"guest command `{name}` timed out after {limit:g}s on {self._where}"
        )
        started = time.monotonic()
        try:
            result = conn.run(
                command,
                hide=True,
                warn=True,
                in_stream=False if stdin is None else io.BytesIO(stdin),
                timeout=limit,
            )
        except CommandTimedOut:
            raise timed_out from None
        except (ThreadException, SSHException, OSError, EOFError):
            self.close()
            raise HelperError(
                f"lost the SSH connection to {self._where} while running `{name}`"
            ) from None
        if result.exited == NO_EXIT_STATUS and time.monotonic() - started >= limit:
            # invoke calls it a time-out only once its timer thread has ended; when the timer's
            # kill closes the channel before that, run() returns the channel's "no status".
            raise timed_out
        if result.exited != 0:
            raise HelperError(
                f"guest command `{name}` failed (exit {result.exited}): "
                f"{last_line(result.stderr, result.stdout, default='no output')[:200]}"
            )
        return result.stdout

    def read_daemon_files(self, *, profile_path: str = scripts.PROFILE_PATH) -> DaemonFiles:
        """Read the profile, the served certificate, its key's checksum and the CA the daemon
        checks clients with, in one round trip.

        The guest sources the profile in a subshell, as the init script does, to find the
        certificate and the key; the reported paths come from `parse_profile`, and the rare
        profile the two read differently costs a second command. The key itself never leaves
        the VM: only its sha256.
        """
        mark = f"--dvh-{secrets.token_hex(8)}"
        out = self._exec(scripts.daemon_files_script(profile_path, mark), "read daemon files")
        sections = scripts.sections(out, mark)
        profile = sections["profile"][1] if "profile" in sections else None
        values = parse_profile(profile) if profile is not None else {}
        server_cert = values.get("SERVERCERT") or scripts.DEFAULT_SERVER_CERT
        server_key = values.get("SERVERKEY") or scripts.DEFAULT_SERVER_KEY
        if "cert" in sections:
            read_path, pem = sections["cert"]
        else:
            read_path, pem = sections.get("none", ("", ""))[0], None
        if read_path != server_cert:
            pem = self._read_file(server_cert)
        key_header = sections.get("keysha", sections.get("nokey", ("- ", "")))[0]
        sha, _, key_path = key_header.partition(" ")
        if key_path != server_key:
            sha = self._sha256_file(server_key) or "-"
        ca_cert = values.get("CACERT") or scripts.DEFAULT_CA_CERT
        ca_path, ca_pem = sections.get("ca", ("", None))
        if ca_path != ca_cert:
            ca_pem = self._read_file(ca_cert)
        return DaemonFiles(
            ca_cert_path=ca_cert,
            server_cert_path=server_cert,
            server_key_path=server_key,
            server_cert_pem=None if pem is None else pem.encode(),
            profile_found=profile is not None,
            server_key_sha256=None if sha == "-" else sha,
            ca_cert_pem=None if ca_pem is None else ca_pem.encode(),
        )

    def read_unit_daemon_files(self, drop_in: str) -> DaemonFiles:
        """minikube's VM: the TLS files docker.service's drop-in names (core/minikube's reader),
        the served certificate, its key's checksum and the CA, in three round trips."""
        from docker_vpn_helper.core.minikube import unit_tls_files

        unit = self.read_files([drop_in])[0]
        files = unit_tls_files((unit or b"").decode(errors="replace"))
        cert_pem, ca_pem = self.read_files([files.cert, files.ca])
        return DaemonFiles(
            ca_cert_path=files.ca,
            server_cert_path=files.cert,
            server_key_path=files.key,
            server_cert_pem=cert_pem,
            profile_found=True,
            server_key_sha256=self._sha256_file(files.key),
            ca_cert_pem=ca_pem,
        )

    def _sha256_file(self, path: str) -> str | None:
        """A guest file's sha256, None if it does not exist."""
        out = self._exec(scripts.sha256_file_script(path), "checksum file")
        return out.strip() or None

    def read_files(self, paths: Sequence[str]) -> list[bytes | None]:
        """Several root-owned guest files in one round trip; None for one that does not exist."""
        mark = f"--dvh-{secrets.token_hex(8)}"
        out = self._exec(scripts.read_files_script(paths, mark), "read files")
        return scripts.split_files(out, mark)

    def read_folder(self, folder: str, patterns: Sequence[str]) -> dict[str, bytes]:
        """{path: content} of the guest files in `folder` matching the shell `patterns`
        (`*.pem`, `*.crt`), in one round trip."""
        mark = f"--dvh-{secrets.token_hex(8)}"
        out = self._exec(scripts.read_folder_script(folder, patterns, mark), "read folder")
        return scripts.split_folder(out, mark)

    def _read_file(self, path: str) -> str | None:
        """A guest file's text, None if it does not exist."""
        out = self._exec(scripts.read_file_script(path), "read file")
        return out[2:] if out.startswith("y\n") else None

    def install_files(self, files: Sequence[tuple[str, bytes, int]], backup_dir: str) -> list[str]:
        """Replace root-owned guest files atomically, in one command, after backing them up.

        Contents travel over the command's stdin (no SFTP: not every guest has it) into
        temporaries beside the targets; nothing is moved unless every sha256 matches.
        Returns one backup path per file, in order (`backup_dir/<basename>`), or "" for a
        target that did not exist, so `zip(backups, targets)` feeds `restore_files`.
        """
        script = scripts.install_script(files, backup_dir)
        stdin = b"".join(content for _, content, _ in files)
        return self._exec(script, "install files", stdin=stdin).splitlines()

    def restore_files(
        self,
        backups: Sequence[tuple[str, str]],
        backup_dir: str | None = None,
        *,
        skip_missing: bool = False,
    ) -> list[str]:
        """Put back what `install_files` replaced, in one command: copy beside, then rename.

        A pair whose backup is "" removes the target (it did not exist before the install).
        Every backup is checked first, so a missing one changes nothing; with `skip_missing`
        (a run stopped before it made every backup, so those targets were never replaced),
        its target is left as it is instead. With `backup_dir`, the files being replaced are
        kept there first (so a restore can be undone too); returns their backup paths like
        `install_files`.
        """
        script = scripts.restore_script(backups, backup_dir, skip_missing)
        return self._exec(script, "restore files").splitlines()

    def restart_policies(self) -> dict[str, str]:
        """{name: restart policy} of the running containers, asked in the VM (no TLS needed); a
        daemon that does not answer runs none."""
        return scripts.parse_policies(self._exec(scripts.RESTART_POLICIES, "docker ps"))

    def restart_daemon(
        self,
        command: Command | None = None,
        *,
        timeout: float = 60.0,
        flavour: scripts.Flavour | None = None,
    ) -> None:
        """Restart dockerd so it serves the new certificate (it does not reload on SIGHUP):
        `command`, core.guestscripts.restart_command's for the guest's `flavour` (by default
        boot2docker's, for `timeout`).

        The restart runs detached from this SSH session: in a session of its own (`setsid`,
        where the guest has it), SIGHUP and SIGPIPE ignored, output in the flavour's
        restart_dir/restart.log, its exit status written to restart_dir/restart.status when it
        ends. A client killed or
        cut off between the script's stop and its start no longer takes the script, and so the
        daemon, with it; the outcome stays readable in the VM. The same command then waits, in
        the guest, for that status (a restart an interrupted run left running is waited for
        first), so one round trip both starts and reports the restart.
        """
        flavour = flavour or scripts.BOOT2DOCKER
        command = command or scripts.restart_command(timeout, flavour)
        name = command.what
        wait = command.timeout - scripts.RESTART_MARGIN
        out = self._exec(command.shell(), name, timeout=command.timeout)
        lines = out.splitlines()
        verdict = lines[0] if lines else ""
        log = f"{flavour.restart_dir}/restart.log"
        if verdict == "running":
            raise HelperError(
                f"`{name}` did not finish within {wait:g}s on {self._where}; it goes on in "
                f"the VM (its output: {log})"
            )
        if verdict == "busy":
            raise HelperError(
                f"an earlier `{name}` is still running in the VM after {wait:g}s (its output: "
                f"{log}): wait for it, then run the same command again"
            )
        status = verdict.partition(" ")[2]
        if status != "0":
            why = last_line("\n".join(lines[1:]), default="no output")[:200]
            raise HelperError(f"guest command `{name}` failed (exit {status}): {why} (see {log})")


def _signature_algorithm(conn: Connection) -> str | None:
    """The public-key signature algorithm paramiko offered (private attribute, paramiko >= 2.9)."""
    transport = conn.client.get_transport()
    return getattr(transport, "_agreed_pubkey_algorithm", None)


def _why(exc: BaseException, timeout: float) -> str:
    """Why a TCP/SSH connect failed, in a few words."""
    from paramiko.ssh_exception import NoValidConnectionsError

    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"no answer within {timeout:g}s"
    if isinstance(exc, (ConnectionRefusedError, NoValidConnectionsError)):
        return "connection refused"
    if isinstance(exc, EOFError):
        return "connection closed"
    return exc.strerror or type(exc).__name__
