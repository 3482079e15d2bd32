"""restore: return a machine to where it was before a run of this tool.

Every run that changed something left `machines/NAME/backups/<UTC time>/` with the files it
replaced and a manifest.json saying what it did; restore undoes the latest such run (or the one
named with --backup): the store's files, the VM's certificate (then a daemon restart), and, on
request, the NAT rule it added. What restore replaces is itself backed up first.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

from ..adapters.host import program_name
from ..core.certs import pair_matches
from ..core.fsutil import atomic_write, read_optional, writable_target
from ..core.store import REMOTE_DIR
from ..core.vbox import NatRule, VMInfo
from ..errors import HelperError
from ..report import say
from ..session import Session
from . import Stage
from .daemon import put_back

VM_PAIR = ("server.pem", "server-key.pem")  # the names install_files backs them up under


@dataclass(frozen=True)
class RestorePlan:
    """What undoing one run puts back: store files, VM files, the NAT rule it added."""

    run: str  # the backup folder's name
    local: dict[Path, Path]  # {target: saved copy}
    guest: tuple[tuple[str, str], ...]  # (saved, target) in the VM
    rule: NatRule | None = None  # the rule that run added, still there
    vm: VMInfo | None = None  # where that rule is
    notes: tuple[str, ...] = ()
    partial: bool = False  # that run was stopped before it made every VM backup

    @property
    def changes(self) -> tuple[str, ...]:
        return ("restore",) if self.local or self.guest or self.rule else ()

    def seen(self) -> str:
        return f"the run of {self.run} left nothing to put back"

    def actions(self) -> list[str]:
        done = []
        if self.local:
            done.append(f"put back {', '.join(str(p) for p in self.local)}")
        if self.guest:
            done.append("put the previous certificate back in the VM and restart the daemon")
        if self.rule:
            done.append(f"delete NAT rule {self.rule.spec()!r}")
        return done


def find_backup(s: Session, name: str) -> tuple[Path, dict]:
    """The run to undo: the named one, or the latest; (its backup folder, its manifest)."""
    runs = s.journal.earlier_runs()
    if name:
        chosen = [run for run in runs if run[0].name == name]
        if not chosen:
            known = ", ".join(folder.name for folder, _ in runs) or "none"
            raise HelperError(f"no backup {name!r} for {s.name!r} (backups: {known})")
        return chosen[0]
    if not runs:
        raise HelperError(
            f"no backups for {s.name!r} in {s.journal.root}: this tool has not changed it"
        )
    return runs[-1]


def refuse_a_broken_pair(s: Session, folder: Path, cert: bytes | None, key: bytes | None) -> None:
    """A server certificate and key that do not belong together are not put back (a run
    killed between writing them left such a pair, which the next run backed up): name the
    backup before it instead."""
    if cert is None or key is None or pair_matches(cert, key):
        return
    runs = [run.name for run, _ in s.journal.earlier_runs()]
    before = [name for name in runs if name < folder.name]
    instead = (
        f"restore the one before it with `{program_name()} restore --machine {s.name} --backup "
        f"{before[-1]}`"
        if before
        else "there is no earlier backup to restore"
    )
    raise HelperError(
        f"the backup {folder.name} holds a server.pem and server-key.pem that do not match "
        f"(left by an interrupted run): not restored; {instead}"
    )


def plan(s: Session, backup: str = "", forward: bool = False) -> RestorePlan:
    s.machine  # noqa: B018  (a machine the store lacks is an error, not "no backups")
    folder, manifest = find_backup(s, backup)
    local = {Path(target): folder / copy for target, copy in manifest.get("local", {}).items()}
    auth = s.machine.auth
    refuse_a_broken_pair(
        s,
        folder,
        read_optional(local[auth.server_cert]) if auth.server_cert in local else None,
        read_optional(local[auth.server_key]) if auth.server_key in local else None,
    )
    guest = tuple((str(saved), str(target)) for saved, target in manifest.get("guest", []))
    notes = [f"undoing the run of {folder.name}"]
    rule, info = None, None
    added = manifest.get("nat", {}).get("added")
    if forward and not added:
        notes.append("this run did not add a NAT rule: nothing to remove")
    elif forward:
        rule = NatRule.parse(added)
        info = s.view.vm()
        if info is None or not any(r.name == rule.name for r in info.rules()):
            notes.append(f"NAT rule {rule.name!r} is already gone")
            rule = None
    partial = manifest.get("guest_state") == "installing"
    return RestorePlan(folder.name, local, guest, rule, info, tuple(notes), partial)


def apply(s: Session, plan: RestorePlan) -> None:
    if plan.guest:
        guest = s.guest()  # on the SSH port VirtualBox shows now, before config.json is put back
        pair = [saved for saved, _ in plan.guest if posixpath.basename(saved) in VM_PAIR]
        if len(pair) == 2:  # the VM's certificate and key, as that run backed them up
            found = dict(zip([posixpath.basename(p) for p in pair], guest.read_files(pair)))
            folder = s.journal.root / plan.run
            refuse_a_broken_pair(s, folder, found[VM_PAIR[0]], found[VM_PAIR[1]])
    if plan.local:
        s.journal.back_up(list(plan.local))
        for target, copy in plan.local.items():
            atomic_write(writable_target(target), copy.read_bytes(), copy.stat().st_mode & 0o777)
        s.view.refresh()
        say(f"put back {', '.join(p.name for p in plan.local)} from {plan.run}")
    if plan.guest:
        pairs = list(plan.guest)
        targets = [target for _, target in pairs]
        backup_dir = f"{REMOTE_DIR}/backups/{s.journal.stamp}"
        s.journal.intend_guest([(f"{backup_dir}/{posixpath.basename(t)}", t) for t in targets], "")
        replaced, back = put_back(s, pairs, backup_dir=backup_dir, skip_missing=plan.partial)
        s.journal.guest_installed(list(zip(replaced, targets)))
        if back.ok:
            s.journal.settle_guest([], "served")
        state = back.detail if back.ok else f"it does not answer through the forward: {back.detail}"
        say(f"put the previous certificate back in the VM and restarted the daemon ({state})")
    if plan.rule and plan.vm:
        s.vbox.delete_rule(s.name, plan.rule.name, plan.vm.nat_nic or 1, plan.vm.running)
        s.view.refresh()
        say(f"deleted NAT rule {plan.rule.spec()!r}")


STAGE = Stage("restore", "Restoring the previous certificate", plan, apply)
