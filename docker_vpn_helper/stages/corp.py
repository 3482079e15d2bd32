"""corp.sync: the VM's daemon trusts the host's extra roots and uses the host's proxy.

Behind a TLS-inspecting network, `docker pull` in the VM fails with `x509: certificate signed by
unknown authority` until the company root is in the VM, and times out until the daemon uses
the company's proxy. This stage reads both on the host (adapters/corporate.py), compares them
with the VM (its certs folder, its running bundle, its profile) and writes what is missing:
the roots into /var/lib/boot2docker/certs (loaded at every boot) and the running bundle, the
proxy into our block of /var/lib/boot2docker/profile. The daemon restarts only when the
bundle or the profile changed. Every file goes through the journal, so `restore` puts back
exactly what was there (and removes the roots that were not).

What the VM was given (the roots' fingerprints, a digest of our profile lines, the VM's UUID) is
recorded in the machine's state file. A run whose host wants exactly that, on a machine proven
healthy without SSH (the daemon serves the store's certificate through our forward, so the disk
those files are on is the one written), plans nothing and reads no VM; any difference, or no
proof, reads the VM as before. `restore` forgets the record when it puts VM files back.
"""

from __future__ import annotations

import time
from dataclasses import replace

from ..adapters import corporate, daemon, signals
from ..core import store, trust
from ..core.plans.corp import (
    PROFILE_PATH,
    RECORD_KEY,
    CorpPlan,
    VMTrust,
    as_recorded,
    compare,
    projected,
    want,
)
from ..core.plans.daemon import NO_RESTART_POLICIES
from ..core.proxy import HostProxy, mask_text
from ..errors import HelperError
from ..guestfiles import install, probe_args, put_back, restart, restart_command
from ..report import say
from ..session import Session
from . import Stage

OFF = "turned off (vpnhelper.corp_roots and vpnhelper.corp_proxy are off)"
MINIKUBE_OFF = "not done for minikube's VMs yet: its daemon's roots and proxy stay as they are"


def _host(s: Session) -> tuple[trust.Found, HostProxy]:
    settings = s.settings
    found = corporate.host_roots(s.c, settings.ca_bundle) if settings.corp_roots else trust.Found()
    host = corporate.host_proxy(s.c, settings.proxy) if settings.corp_proxy else HostProxy()
    return found, host


def read_vm(s: Session) -> VMTrust:
    """The VM's profile, running bundle and certs folder (two round trips over the run's SSH)."""
    guest = s.guest()
    profile, bundle = guest.read_files([PROFILE_PATH, trust.GUEST_BUNDLE])
    certs = guest.read_folder(trust.GUEST_CERTS_DIR, ["*.pem", "*.crt"])
    return VMTrust(None if profile is None else profile.decode(errors="replace"), certs, bundle)


def plan(s: Session, ask_containers: bool = True) -> CorpPlan:
    """`ask_containers`: before a restart, ask the VM which running containers it stops (doctor
    does not). No SSH when the state file records that the VM has what the host wants and the
    daemon serves the store's certificate through our forward; else the VM is read."""
    settings = s.settings
    if not settings.corp_roots and not settings.corp_proxy:
        return CorpPlan(off=OFF)
    if settings.minikube:  # its daemon reads /etc/docker and a systemd unit, not boot2docker's
        return CorpPlan(off=MINIKUBE_OFF)
    found, host = _host(s)
    addresses = [s.machine.ip] if s.view.exists() and s.machine.ip else []
    if s.projected:
        return projected(found, host, addresses)
    wanted = want(
        found,
        host,
        addresses,
        roots_on=settings.corp_roots,
        proxy_on=settings.corp_proxy,
        loopback_reachable=s.view.loopback_reachable() if host.any else None,
        name=s.name,
    )
    info = s.view.vm()
    vm_id = info.raw.get("UUID", "") if info is not None else ""
    recorded = store.remembered(settings.storage_path, s.name, RECORD_KEY)
    if recorded == wanted.record(vm_id) and s.view.serves_store_certificate(s.port):
        return as_recorded(wanted)
    chosen = compare(wanted, read_vm(s), restart_command(s), recorded, vm_id)
    if chosen.restart and ask_containers and not s.dry_run:
        stops = sorted(
            n for n, p in s.guest().restart_policies().items() if p in NO_RESTART_POLICIES
        )
        if stops:
            note = (
                f"restarting the daemon stops {len(stops)} running container(s) without a "
                f"restart policy ({', '.join(stops)}): start them again with `docker start`"
            )
            chosen = replace(chosen, notes=(*chosen.notes, note))
    return chosen


def apply(s: Session, plan: CorpPlan) -> None:
    """Write what the VM lacks (journalled first: restore removes the roots and puts the bundle
    and profile back), then run the plan's restart if the bundle or the profile changed; a
    daemon that does not come back gets the previous files again."""
    files = plan.files()
    folder = install(s, files, None)
    mine = [pair for pair in s.journal.guest_backups if pair[1] in {p for p, _, _ in files}]
    copied = f"{len(plan.persist)} root(s) to {trust.GUEST_CERTS_DIR}" if plan.persist else ""
    loaded = f"{len(plan.load)} to the running bundle" if plan.load else ""
    proxy = f"the proxy lines to {PROFILE_PATH}" if plan.proxy_changes else ""
    said = ", ".join(p for p in (copied, loaded, proxy) if p)
    say(f"wrote {said} (previous files kept in {folder})")
    if not plan.commands:
        s.journal.settle_guest([], "served")
        _record(s, plan)
        return
    with signals.deferred():
        failure = _restart(s, plan)
        if failure is None:
            s.journal.settle_guest([], "served")
            _record(s, plan)
            say(f"restarted the daemon: it answers on tcp://localhost:{s.port}")
            return
        put_back(s, mine)
        s.journal.settle_guest([], "rolled back")
    raise HelperError(
        f"the daemon did not come back after the restart ({mask_text(failure)}); the previous "
        "profile and bundle were put back and the daemon restarted"
    )


def _record(s: Session, plan: CorpPlan) -> None:
    if plan.record is not None:
        store.remember(s.machine, RECORD_KEY, dict(plan.record))
        say(f"recorded what the VM has in {store.STATE_FILE} (the next healthy run reads no VM)")


def _restart(s: Session, plan: CorpPlan) -> str | None:
    """Run the plan's restart in the VM; why the daemon does not answer afterwards, or None."""
    try:
        for command in plan.commands:
            restart(s, command)  # exactly the plan's command
    except HelperError as exc:
        return exc.reason
    deadline = time.monotonic() + s.settings.daemon_wait
    probe = daemon.wait_for(*probe_args(s), expected_cert=None, deadline=deadline, server_name=None)
    return None if probe.ok else probe.detail


STAGE = Stage("corp.sync", "Giving the VM the host's trusted roots and proxy", plan, apply)
