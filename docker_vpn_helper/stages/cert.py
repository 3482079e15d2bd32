"""cert.issue and cert.deploy: a daemon certificate valid for localhost/127.0.0.1, in the VM.

cryptography is imported here only: `env.print` never loads this module.
"""

from __future__ import annotations

import getpass
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from cryptography import x509

from .. import errors
from ..adapters import signals
from ..core import certs, minikube, store
from ..core.fsutil import atomic_write, read_optional, write_together
from ..core.plans.cert import CertPlan, DeployPlan, ForeignCA, plan_deploy
from ..core.store import OPENSSL_CONFIG, REMOTE_DIR
from ..errors import HelperError
from ..guestfiles import install
from ..report import say
from ..session import Session
from . import Stage

CERT_MODE = 0o644
KEY_MODE = 0o600


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


def assess(s: Session, renew_days: int, force: bool = False) -> CertPlan:
    """The store's server.pem judged against the names it needs (cert.issue and doctor)."""
    if not s.view.exists():  # a dry run before machine.create
        return CertPlan((), (), note="docker-machine create issues it for localhost and 127.0.0.1")
    machine = s.machine
    now = s.now()
    authority = certs.load_authority(machine.auth.ca_cert, machine.auth.ca_key, now)
    # minikube's server.pem is the last provisioned profile's: only the forward's names count.
    names = certs.wanted_names("", [], []) if s.settings.minikube else wanted_names(machine)
    current = read_optional(machine.auth.server_cert)
    key = read_optional(machine.auth.server_key)
    problems = certs.problems(current, key, authority, names, now, renew_days)
    until = f"{certs.expiry(current):%Y-%m-%d}" if current and not problems else ""
    return CertPlan(
        tuple(names.all()),
        tuple(problems),
        force=force,
        # minikube's provisioning names localhost and 127.0.0.1 itself: its config stays.
        record_sans=not s.settings.minikube and store.with_loopback_sans(machine) is not None,
        config_path=str(machine.config_path),
        valid_until=until,
    )


def plan_issue(s: Session, force: bool = False) -> CertPlan:
    return assess(s, s.settings.renew_days, force)


def apply_issue(s: Session, plan: CertPlan) -> None:
    if plan.issue:
        names = write_certificate(s)
        say(f"issued a new server certificate for {', '.join(names)} ({plan.reason})")
    if plan.record_sans:
        record_sans(s)


ISSUE = Stage("cert.issue", "Issuing the daemon certificate", plan_issue, apply_issue)


def record_sans(s: Session) -> None:
    """Put localhost and 127.0.0.1 in ServerCertSANs, so `docker-machine regenerate-certs` keeps them."""
    machine = s.machine
    updated = store.with_loopback_sans(machine)
    if updated is None:
        return
    s.journal.back_up([machine.config_path])
    store.write_config(machine, updated)
    s.view.refresh(vm=False)
    say(f"recorded localhost and 127.0.0.1 in ServerCertSANs (backup in {s.journal.folder})")


def write_certificate(s: Session) -> list[str]:
    """Back up the current pair, then replace key and certificate atomically, as a unit
    (key 0600); the names it covers. For minikube too, the VM's address and the profile's
    name, as minikube's own provisioning names them: `minikube docker-env` without the VPN
    dials the VM's address."""
    machine = s.machine
    auth = machine.auth
    now = s.now()
    authority = certs.load_authority(auth.ca_cert, auth.ca_key, now)
    names = wanted_names(machine)
    org = _organization(read_optional(auth.server_cert), machine.name)
    config_path = auth.server_cert.parent / OPENSSL_CONFIG
    s.journal.back_up([auth.server_cert, auth.server_key, config_path])
    # RSA key generation releases the GIL: render the openssl config (jinja2's import) beside it.
    with ThreadPoolExecutor(max_workers=1) as pool:
        config = pool.submit(certs.render_openssl_config, names, org, s.name, certs.VALIDITY_DAYS)
        cert_pem, key_pem = certs.issue(authority, names, org, now)
    with signals.deferred():  # a Ctrl-C waits until key and certificate are both in place
        write_together(
            [(auth.server_key, key_pem, KEY_MODE), (auth.server_cert, cert_pem, CERT_MODE)]
        )
    atomic_write(config_path, config.result().encode(), CERT_MODE)
    return names.all()


def plan_upload(s: Session) -> DeployPlan:
    """Upload when cert.issue made a new certificate or the VM has another; no SSH when the
    daemon already serves the store's certificate through the forward."""
    if s.projected and s.creates():
        return DeployPlan(False, "docker-machine create deploys its own certificate")
    issue = s.issue_plan()
    issued = issue is not None and issue.issue
    if s.projected:
        return plan_deploy(issued, False, None, "", "")
    machine = s.machine
    local_cert = read_optional(machine.auth.server_cert)
    if not issued and (local_cert is None or read_optional(machine.auth.server_key) is None):
        raise HelperError(f"{machine.auth.server_cert} or its key is missing: run cert.issue first")
    if not issued and s.view.serves_store_certificate(s.port):
        return plan_deploy(False, True, None, "", "")
    if s.settings.minikube and not issued:
        if s.forward_pending():
            return DeployPlan(False, minikube.FORWARD_PENDING)
        if s.view.served(s.port).ok:
            return DeployPlan(False, minikube.SERVES_ANOTHER)
    guest = s.guest()
    if s.settings.minikube:  # the files docker.service's drop-in names
        remote = guest.read_unit_daemon_files(minikube.DOCKER_DROP_IN)
    else:
        remote = guest.read_daemon_files()
    notes = []
    if guest.signature_algorithm == "ssh-rsa":
        notes.append(
            "the VM's sshd only accepts legacy ssh-rsa signatures (a pre-2016 boot2docker): used"
        )
    if not remote.profile_found:
        notes.append(f"no {REMOTE_DIR}/profile in the VM: using boot2docker's default paths")
    same = (
        not issued
        and remote.server_cert_pem is not None
        and local_cert is not None
        and _same_cert(remote.server_cert_pem, local_cert)
    )
    local_key = read_optional(machine.auth.server_key) or b""
    key_same = remote.server_key_sha256 == hashlib.sha256(local_key).hexdigest()
    store_ca = read_optional(machine.auth.ca_cert, "CA certificate") or b""
    ca_same = remote.ca_cert_pem is not None and _same_cert(remote.ca_cert_pem, store_ca)
    try:
        chosen = plan_deploy(
            issued, False, same, remote.server_cert_path, remote.server_key_path, key_same, ca_same
        )
    except ForeignCA:
        found = "is not" if remote.ca_cert_pem is not None else "is missing, so it is not"
        raise errors.ForeignCA(
            f"the VM's CA certificate {remote.ca_cert_path} {found} the store's "
            f"{machine.auth.ca_cert}: restarted with it, the daemon would refuse every client "
            f"of this store; give the VM the store's CA, then repair: run `docker-machine "
            f"regenerate-certs -f {s.name} && {s.rerun_hint()}`",
            machine.auth.ca_cert,
        ) from None
    return replace(chosen, notes=tuple(notes))


def apply_upload(s: Session, plan: DeployPlan) -> None:
    """Note what will be replaced (write-ahead: a run stopped at any point can be undone),
    then replace the VM's certificate and key as a unit."""
    auth = s.machine.auth
    cert_pem, key_pem = auth.server_cert.read_bytes(), auth.server_key.read_bytes()
    if not certs.pair_matches(cert_pem, key_pem):  # cert.issue replaces such a pair first
        raise HelperError(
            f"{auth.server_cert} and {auth.server_key} do not match: not uploaded; run "
            f"`{s.rerun_hint()}` again (cert.issue replaces them)"
        )
    files = [(plan.cert_path, cert_pem, CERT_MODE), (plan.key_path, key_pem, KEY_MODE)]
    backup_dir = install(s, files, certs.fingerprint(cert_pem))
    say(
        f"uploaded the certificate and its key to the VM ({plan.why}; previous files kept in "
        f"{backup_dir})"
    )


DEPLOY = Stage("cert.deploy", "Deploying the certificate to the VM", plan_upload, apply_upload)


def _same_cert(remote_pem: bytes, local_pem: bytes) -> bool:
    try:
        return certs.fingerprint(remote_pem) == certs.fingerprint(local_pem)
    except ValueError:
        return False
