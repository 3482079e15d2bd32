"""cert.issue and cert.deploy: a daemon certificate valid for localhost/127.0.0.1, in the VM.

cryptography is imported here only: `env.print` never loads this module.
"""

from __future__ import annotations

import getpass
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cryptography import x509

from ..core import certs, store
from ..core.fsutil import atomic_write
from ..core.store import REMOTE_DIR
from ..errors import HelperError
from ..report import say
from ..session import Session

CERT_MODE = 0o644
KEY_MODE = 0o600


def _read_optional(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise HelperError(f"cannot read {path}: {exc.strerror or exc}") from None


def _organization(current: bytes | None, machine_name: str) -> str:
    """Keep the current certificate's O= (docker-machine's <user>.<machine>), else make it."""
    if current:
        try:
            attrs = x509.load_pem_x509_certificate(current).subject.get_attributes_for_oid(
                x509.oid.NameOID.ORGANIZATION_NAME
            )
            if attrs:
                return str(attrs[0].value)
        except ValueError:
            pass
    user = os.environ.get("USER") or getpass.getuser()
    return certs.organization(user, machine_name)


def wanted_names(machine: store.Machine) -> certs.SubjectNames:
    return certs.wanted_names(machine.name, [machine.ip], machine.server_cert_sans)


def assess_certificate(
    s: Session, now, renew_days: int
) -> tuple[certs.Authority, certs.SubjectNames, bytes | None, list[str]]:
    """The store's server.pem judged against the names it needs (shared by cert.issue and doctor):
    (CA, wanted names, current PEM, problems; none means it can stay)."""
    machine = s.machine
    authority = certs.load_authority(machine.auth.ca_cert, machine.auth.ca_key, now)
    names = wanted_names(machine)
    current = _read_optional(machine.auth.server_cert)
    key = _read_optional(machine.auth.server_key)
    return (
        authority,
        names,
        current,
        certs.problems(current, key, authority, names, now, renew_days),
    )


def record_sans(s: Session) -> None:
    """Put localhost and 127.0.0.1 in ServerCertSANs, so `docker-machine regenerate-certs` keeps them."""
    machine = s.machine
    updated = store.with_loopback_sans(machine)
    if updated is None:
        return
    if s.dry_run:
        say(f"would record localhost and 127.0.0.1 in {machine.config_path} (ServerCertSANs)")
    else:
        backup = store.save_config(machine, updated, stamp=s.stamp)
        s.record(local={str(machine.config_path): machine.config_path.name})
        s.reload_machine()
        say(f"recorded localhost and 127.0.0.1 in ServerCertSANs (backup in {backup})")
    s.changed.add("config")


def issue_certificate(s: Session, force: bool = False) -> None:
    machine = s.machine
    now = s.now()
    authority, names, current, found = assess_certificate(s, now, s.settings.renew_days)
    if not found and not force:
        until = certs.expiry(current)  # type: ignore[arg-type]  # no problems => it exists
        say(
            f"server.pem already covers {', '.join(names.all())}, is signed by this CA and is "
            f"valid until {until:%Y-%m-%d}: nothing to do"
        )
    else:
        reason = "; ".join(found) if found else "--force"
        if s.dry_run:
            say(f"would issue a new server certificate ({reason})")
        else:
            write_certificate(s, authority, names, _organization(current, machine.name), now)
            say(f"issued a new server certificate for {', '.join(names.all())} ({reason})")
        s.changed.add("cert")
    record_sans(s)


def write_certificate(
    s: Session, authority: certs.Authority, names: certs.SubjectNames, org: str, now
) -> None:
    """Back up the current pair, then replace key and certificate atomically (key 0600)."""
    auth = s.machine.auth
    s.back_up([auth.server_cert, auth.server_key])
    # RSA key generation (unless machine.create started it ahead) releases the GIL: render
    # openssl.cnf (jinja2's import, ~35 ms) beside it instead of after it.
    with ThreadPoolExecutor(max_workers=1) as pool:
        config = pool.submit(certs.render_openssl_config, names, org, s.name, certs.VALIDITY_DAYS)
        cert_pem, key_pem = certs.issue(authority, names, org, now, key=s.server_key())
    atomic_write(auth.server_key, key_pem, KEY_MODE)
    atomic_write(auth.server_cert, cert_pem, CERT_MODE)
    atomic_write(auth.server_cert.parent / "openssl.cnf", config.result().encode(), CERT_MODE)


def deploy_certificate(s: Session) -> None:
    machine = s.machine
    remote = s.daemon_files()
    guest = s.guest()
    if guest.signature_algorithm == "ssh-rsa":
        say("the VM's sshd only accepts legacy ssh-rsa signatures (a pre-2016 boot2docker): used")
    if not remote.profile_found:
        say(f"no {REMOTE_DIR}/profile in the VM: using boot2docker's default paths")
    local_cert = _read_optional(machine.auth.server_cert)
    local_key = _read_optional(machine.auth.server_key)
    if local_cert is None or local_key is None:
        if s.dry_run and "cert" in s.changed:
            say("would upload the certificate that cert.issue would issue")
            s.changed.add("deploy")
            return
        raise HelperError(f"{machine.auth.server_cert} or its key is missing: run cert.issue first")
    same = remote.server_cert_pem is not None and _same_cert(remote.server_cert_pem, local_cert)
    if same and "cert" not in s.changed:
        say(f"the VM already has this certificate ({remote.server_cert_path}): nothing to do")
        return
    if s.dry_run:
        say(
            f"would upload server.pem and server-key.pem to {remote.server_cert_path} and {remote.server_key_path}"
        )
    else:
        files = [
            (remote.server_cert_path, local_cert, CERT_MODE),
            (remote.server_key_path, local_key, KEY_MODE),
        ]
        backup_dir = f"{REMOTE_DIR}/backups/{s.stamp}"
        backups = guest.install_files(files, backup_dir)
        s.guest_backups = list(zip(backups, [path for path, _, _ in files]))
        s.record(guest=s.guest_backups)
        say(f"uploaded the certificate to the VM (previous files kept in {backup_dir})")
    s.changed.add("deploy")


def _same_cert(remote_pem: bytes, local_pem: bytes) -> bool:
    try:
        return certs.fingerprint(remote_pem) == certs.fingerprint(local_pem)
    except ValueError:
        return False
