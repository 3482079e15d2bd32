"""restore: walk a machine back through this tool's runs, or all the way to docker-machine's own.

Every run that changed something left `machines/NAME/backups/<UTC time>/` with the files it
replaced and a manifest.json saying what it did (core/history.py reads them). `restore` undoes
the latest run still in effect, so a second `restore` undoes the run before it rather than the
first restore; `--backup NAME` undoes that run; `--original` puts back what docker-machine left
before the tool first touched the machine: the first copy kept of every file (its certificate,
its config.json and its ServerCertSANs), the VM's own certificate, and no NAT rule of ours. What
restore replaces is itself backed up first, so a restore is a run that can be undone too.
"""

from __future__ import annotations

import json
import posixpath
from pathlib import Path

from ..adapters.host import program_name
from ..core import history, minikube, ports, store, vbox
from ..core.certs import pair_matches
from ..core.commands import Command
from ..core.fsutil import atomic_write, read_optional, writable_target
from ..core.plans.apiserver import RULE_NAME as APISERVER_RULE
from ..core.plans.corp import RECORD_KEY
from ..core.plans.restore import RestorePlan, vm_files
from ..core.store import OPENSSL_CONFIG, STATE_FILE
from ..core.vbox import NatRule, VMInfo
from ..errors import HelperError
from ..guestfiles import restore as restore_guest
from ..report import say
from ..session import Session
from . import Stage

# Files the tool writes beside docker-machine's that docker-machine never had.
OURS = (OPENSSL_CONFIG, STATE_FILE, minikube.KUBECONFIG_FILE)
VM_PAIR = ("server.pem", "server-key.pem")  # the names install_files backs them up under


def refuse_a_broken_pair(s: Session, stamp: str, cert: bytes | None, key: bytes | None) -> None:
    """A server certificate and key that do not belong together are not put back (a run
    killed between writing them left such a pair, which the next run backed up): name the
    backup before it instead."""
    if cert is None or key is None or pair_matches(cert, key):
        return
    before = [run.stamp for run in s.journal.history() if run.stamp < stamp]
    instead = (
        f"restore the one before it with `{program_name()} restore "
        f"{' '.join(s.settings.selector())} --backup "
        f"{before[-1]}`"
        if before
        else "there is no earlier backup to restore"
    )
    raise HelperError(
        f"the backup {stamp} holds a server.pem and server-key.pem that do not match "
        f"(left by an interrupted run): not restored; {instead}"
    )


def find_run(s: Session, name: str) -> history.Run:
    """The run to undo: the named one, else the latest still in effect."""
    runs = s.journal.history()
    if name:
        chosen = [run for run in runs if run.stamp == name]
        if not chosen:
            known = ", ".join(run.stamp for run in runs) or "none"
            raise HelperError(f"no backup {name!r} for {s.name!r} (backups: {known})")
        return chosen[0]
    if not runs:
        raise HelperError(
            f"no backups for {s.name!r} in {s.journal.root}: this tool has not changed it"
        )
    effective = history.in_effect(runs)
    if not effective:
        raise HelperError(
            f"nothing left to undo on {s.name!r}: every run of this tool on it is undone "
            f"(restore --list shows them; restore --backup NAME undoes a restore)"
        )
    return effective[-1]


def plan(
    s: Session, backup: str = "", forward: bool = False, original: bool = False
) -> RestorePlan:
    s.machine  # noqa: B018  (a machine the store lacks is an error, not "no backups")
    if original:
        if backup:
            raise HelperError("--original and --backup exclude each other")
        return plan_original(s)
    if forward and not backup and not history.in_effect(s.journal.history()):
        left = rule_left_behind(s)
        if left is not None:
            return left
    run = find_run(s, backup)
    notes = [f"undoing the run of {run.stamp}"]
    rules: tuple[NatRule, ...] = ()
    info = None
    added, _ = run.nat()
    if forward and not added:
        notes.append("this run did not add a NAT rule: nothing to remove")
    elif forward:
        rule = NatRule.parse(added)
        info = s.view.vm()
        if info is None or not any(r.name == rule.name for r in info.rules()):
            notes.append(f"NAT rule {rule.name!r} is already gone")
        else:
            rules = (rule,)
    api_rules, remove = apiserver_undone(s, run)
    if api_rules and info is None:
        info = s.view.vm()
    local = run.local()
    auth = s.machine.auth
    refuse_a_broken_pair(
        s,
        run.stamp,
        read_optional(local[auth.server_cert]) if auth.server_cert in local else None,
        read_optional(local[auth.server_key]) if auth.server_key in local else None,
    )
    partial = run.manifest.get("guest_state") == "installing"
    return RestorePlan(
        run.stamp,
        local,
        tuple(run.guest()),
        (*rules, *api_rules),
        info,
        remove=remove,
        notes=tuple(notes),
        partial=partial,
    )


def apiserver_undone(s: Session, run: history.Run) -> tuple[tuple[NatRule, ...], tuple[Path, ...]]:
    """minikube's VMs: the API server's forward and our kubeconfig, when `run` added them and
    they are still there (kubectl's forward is of no use without the kubeconfig)."""
    added, created = run.apiserver()
    rules: tuple[NatRule, ...] = ()
    if added:
        rule = NatRule.parse(added)
        info = s.view.vm()
        if info is not None and any(r == rule for r in info.rules()):
            rules = (rule,)
    remove = (Path(created),) if created and Path(created).exists() else ()
    return rules, remove


def rule_left_behind(s: Session) -> RestorePlan | None:
    """Every run is undone, but a plain `restore` left the NAT rule one of them added: the plan
    that deletes it (`restore --forward` once the certificates are back)."""
    info = s.view.vm()
    for run in reversed(s.journal.history()):
        added, _ = run.nat()
        if added and info is not None:
            rule = NatRule.parse(added)
            if any(r == rule for r in info.rules()):
                note = f"every run is undone; the NAT rule the run of {run.stamp} added is left"
                return RestorePlan(run.stamp, {}, (), (rule,), info, notes=(note,))
    return None


def plan_original(s: Session) -> RestorePlan:
    """Everything back as docker-machine left it before this tool's first run."""
    runs = s.journal.history()
    if not runs:
        raise HelperError(
            f"no backups for {s.name!r} in {s.journal.root}: this tool has not changed it"
        )
    first = history.original(runs)
    machine = s.machine
    # config.json: only the fields this tool changes go back; the rest is docker-machine's own
    # (it rewrites the IP and the SSH port on every start since).
    first_config = first.local.pop(machine.config_path, None)
    config = None
    if first_config is not None:
        config = store.with_fields_of(machine.raw, json.loads(first_config.read_text()))
    folder = s.view.folder
    ours = {folder / name for name in OURS}  # docker-machine never had them: removed, not put back
    local = {t: copy for t, copy in first.local.items() if t not in ours and _differs(t, copy)}
    remove = tuple(path for path in sorted(ours) if path.exists())
    info = s.view.vm()
    current = info.rules() if info is not None else ()
    daemon_rule = s.settings.nat_rule
    readd = NatRule.parse(first.nat_replaced) if first.nat_replaced else None
    rules = tuple(
        r
        for r in current
        if r != readd
        and (
            ports.is_ours(r)
            or (first.nat_added and r.name == daemon_rule)
            or (s.settings.minikube and r.name == APISERVER_RULE)
        )
    )
    if readd in current:
        readd = None
    notes = [f"going back to before {runs[0].stamp}, this tool's first run on {s.name!r}"]
    guest, lost = vm_original(s, first.guest)
    notes += [
        f"no copy of the VM's {path} from before this tool is left: it stays" for path in lost
    ]
    wanted_resolver = (config or machine.raw).get("Driver", {}).get("HostDNSResolver") is True
    dns = s.view.nat_dns()
    if dns is not None and dns.host_resolver and not wanted_resolver:
        notes.append(
            "VirtualBox keeps resolving the VM's names with the host's resolver: switch it off "
            f"while the VM is stopped with `VBoxManage modifyvm {s.name} --natdnshostresolver1 off`"
        )
    changes, loopback_note = undo_host_names(s, info, first.loopback_switched)
    return RestorePlan(
        history.ORIGINAL,
        local,
        guest,
        rules,
        info,
        readd,
        remove,
        (*notes, *loopback_note),
        config,
        vbox_changes=changes,
    )


def undo_host_names(
    s: Session, info: VMInfo | None, switched: bool
) -> tuple[tuple[Command, ...], tuple[str, ...]]:
    """dns.host-names' extradata (ours by its mapping id) removed, and 10.0.2.2's way to the
    host's loopback closed again where a run of ours opened it: a stopped VM takes that, a
    running one is told how."""
    settings = s.view.vm_settings()
    if info is None or settings is None:
        return (), ()
    ours = f"/HostResolverMappings/{vbox.MAPPING_ID}/"
    keys = sorted(key for key in settings.extradata if ours in key)
    changes = tuple(s.vbox.extradata_command(s.name, key) for key in keys)
    adapter = settings.adapter(info.nat_nic or 1)
    if not switched or adapter is None or not adapter.localhost_reachable:
        return changes, ()
    close = s.vbox.localhost_reachable_command(s.name, False, info.nat_nic or 1)
    if info.running:
        return changes, (f"10.0.2.2 still reaches the Mac's loopback: run `{close.line()}` once "
                         "the VM is stopped",)  # fmt: skip
    return (*changes, close), ()


def vm_original(
    s: Session, copies: tuple[tuple[str, tuple[str, ...]], ...]
) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """The VM's files that differ from docker-machine's, with the copy that puts each back
    (history.guest_original), read from the VM in one round trip."""
    if not copies:
        return (), ()
    paths = sorted({path for target, saved in copies for path in (target, *saved) if path})
    found = dict(zip(paths, s.guest().read_files(paths)))
    return history.guest_original(copies, found)


def _differs(target: Path, copy: Path) -> bool:
    try:
        return target.read_bytes() != copy.read_bytes()
    except FileNotFoundError:
        return True


def apply(s: Session, plan: RestorePlan) -> None:
    s.journal.record(undid=plan.run)
    if plan.guest:
        guest = s.guest()  # on the SSH port VirtualBox shows now, before config.json is put back
        pair = [saved for saved, _ in plan.guest if posixpath.basename(saved) in VM_PAIR]
        if len(pair) == 2:  # the VM's certificate and key, as that run backed them up
            found = dict(zip([posixpath.basename(p) for p in pair], guest.read_files(pair)))
            refuse_a_broken_pair(s, plan.run, found[VM_PAIR[0]], found[VM_PAIR[1]])
    if plan.local or plan.remove or plan.config is not None:
        config_path = s.machine.config_path
        s.journal.back_up([*plan.local, *plan.remove, *([config_path] * (plan.config is not None))])
        for target, copy in plan.local.items():
            atomic_write(writable_target(target), copy.read_bytes(), copy.stat().st_mode & 0o777)
        if plan.config is not None:
            store.write_config(s.machine, plan.config)
        for path in plan.remove:
            path.unlink()
        s.view.refresh(vm=False)
        names = [p.name for p in plan.local] + ["config.json"] * (plan.config is not None)
        removed = f" (removed {', '.join(p.name for p in plan.remove)})" if plan.remove else ""
        source = (
            "as docker-machine left them" if plan.run == history.ORIGINAL else f"from {plan.run}"
        )
        say(f"put back {', '.join(names) or 'nothing'} {source}{removed}")
    if plan.guest:
        back = restore_guest(s, list(plan.guest), plan.partial)
        store.remember(s.machine, RECORD_KEY, None)  # corp.sync's record: the next run reads
        state = back.detail if back.ok else f"it does not answer through the forward: {back.detail}"
        say(f"put back in the VM {vm_files(plan.guest)} and restarted the daemon ({state})")
    if (plan.rules or plan.readd) and plan.vm:
        nic = plan.vm.nat_nic or 1
        for rule in plan.rules:
            s.vbox.delete_rule(s.name, rule.name, nic, plan.vm.running)
            say(f"deleted NAT rule {rule.spec()!r}")
        if plan.readd:
            s.vbox.add_rule(s.name, plan.readd, nic, plan.vm.running)
            say(f"added NAT rule {plan.readd.spec()!r} back")
        s.view.refresh()
    for command in plan.vbox_changes:
        s.execute(command)
    if plan.vbox_changes:
        s.view.refresh()
        say("took host.docker.internal out of the VM's NAT")


STAGE = Stage("restore", "Restoring the previous certificate", plan, apply)
