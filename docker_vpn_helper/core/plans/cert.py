"""cert.issue and cert.deploy: keep or issue server.pem; upload it and its key, or not."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Plan


@dataclass(frozen=True)
class CertPlan(Plan):
    """cert.issue: keep server.pem, or issue a new one; record the loopback names."""

    names: tuple[str, ...]  # what the certificate must cover
    problems: tuple[str, ...]  # why the current one cannot stay (empty: it can)
    force: bool = False
    record_sans: bool = False  # ServerCertSANs lacks localhost/127.0.0.1
    config_path: str = ""
    valid_until: str = ""  # of the current one, when it stays
    note: str = ""  # what is seen instead, when there is no certificate to judge yet

    @property
    def issue(self) -> bool:
        return bool(self.problems) or self.force

    @property
    def reason(self) -> str:
        return "; ".join(self.problems) if self.problems else "--force"

    @property
    def changes(self) -> tuple[str, ...]:
        return ("cert",) * self.issue + ("config",) * self.record_sans

    @property
    def problem(self) -> str:
        return self.reason if self.problems else ""

    def seen(self) -> str:
        return self.note or (
            f"server.pem already covers {', '.join(self.names)}, is signed by this CA and is "
            f"valid until {self.valid_until}"
        )

    def actions(self) -> list[str]:
        done = [f"issue a new server certificate ({self.reason})"] if self.issue else []
        if self.record_sans:
            done.append(f"record localhost and 127.0.0.1 in {self.config_path} (ServerCertSANs)")
        return done


@dataclass(frozen=True)
class DeployPlan(Plan):
    """cert.deploy: upload server.pem and its key into the VM, or leave the VM's."""

    upload: bool
    why: str  # what was seen: the reason to upload, or why not
    cert_path: str = ""
    key_path: str = ""
    certain: bool = True  # False: decided only once the VM can be read (dry run)
    notes: tuple[str, ...] = ()  # what was seen of the guest on the way

    @property
    def changes(self) -> tuple[str, ...]:
        return ("deploy",) if self.upload else ()

    @property
    def problem(self) -> str:
        return self.why if self.upload and self.certain else ""

    def seen(self) -> str:
        return self.why

    def actions(self) -> list[str]:
        if not self.upload:
            return []
        if not self.certain:
            return [f"upload server.pem and server-key.pem if the VM's differ ({self.why})"]
        return [
            f"upload server.pem and server-key.pem to {self.cert_path} and {self.key_path} "
            f"({self.why})"
        ]


class ForeignCA(Exception):
    """The VM's daemon checks clients with another CA than the store's: restarted, it would
    refuse every client the store has, and no certificate this tool deploys changes that."""


def plan_deploy(
    issued: bool,
    serves_it: bool,
    remote_matches: bool | None,
    cert_path: str,
    key_path: str,
    key_matches: bool = True,
    ca_matches: bool = True,
) -> DeployPlan:
    """`issued`: cert.issue replaces server.pem in this run; `serves_it`: the daemon presents
    exactly the store's server.pem through the forward (so the VM has it and its key);
    `remote_matches`: the VM's server.pem compared with the store's (None: not read);
    `key_matches`: the VM's server key's checksum compared with the store's. Both files go up
    together, whichever differs. `ca_matches`: the VM's CA (the profile's CACERT) is the
    store's; else ForeignCA, before anything is uploaded or restarted."""
    if not ca_matches and not serves_it:
        raise ForeignCA()
    if issued:
        return DeployPlan(True, "cert.issue issues a new certificate", cert_path, key_path)
    if serves_it:
        return DeployPlan(False, "the daemon already serves this certificate")
    if remote_matches is None:
        return DeployPlan(True, "the VM cannot be read before it runs", certain=False)
    if not remote_matches:
        return DeployPlan(True, "the VM has another certificate", cert_path, key_path)
    if not key_matches:
        return DeployPlan(
            True, f"the VM's server key is not the store's ({key_path})", cert_path, key_path
        )
    return DeployPlan(False, f"the VM already has this certificate and its key ({cert_path})")
