"""restore: return a machine to where it was before a run of this tool.

Every run that changed something left `machines/NAME/backups/<UTC time>/` with the files it
replaced and a manifest.json saying what it did; restore undoes the latest such run (or the one
named with --backup): the store's files, the VM's certificate (then a daemon restart), and, on
request, the NAT rule it added. What restore replaces is itself backed up first.
"""

from __future__ import annotations

from pathlib import Path

from ..core.fsutil import atomic_write
from ..core.store import REMOTE_DIR
from ..errors import HelperError
from ..report import say
from ..session import Session
from .daemon import put_back


def find_backup(s: Session, name: str) -> tuple[Path, dict]:
    """The run to undo: the named one, or the latest; (its backup folder, its manifest)."""
    runs = s.earlier_runs()
    if name:
        chosen = [run for run in runs if run[0].name == name]
        if not chosen:
            known = ", ".join(folder.name for folder, _ in runs) or "none"
            raise HelperError(f"no backup {name!r} for {s.name!r} (backups: {known})")
        return chosen[0]
    if not runs:
        root = s.machine.backup_root
        raise HelperError(f"no backups for {s.name!r} in {root}: this tool has not changed it")
    return runs[-1]


def restore_local(s: Session, folder: Path, manifest: dict) -> None:
    originals = {Path(target): folder / copy for target, copy in manifest.get("local", {}).items()}
    if not originals:
        return
    if s.dry_run:
        say(f"would put back {', '.join(str(p) for p in originals)}")
        return
    s.back_up(list(originals))
    for target, copy in originals.items():
        atomic_write(target, copy.read_bytes(), copy.stat().st_mode & 0o777)
    s.reload_machine()
    say(f"put back {', '.join(p.name for p in originals)} from {folder.name}")


def restore_guest(s: Session, manifest: dict) -> None:
    pairs = [tuple(pair) for pair in manifest.get("guest", [])]
    if not pairs:
        return
    if s.dry_run:
        say("would put the previous certificate back in the VM and restart the daemon")
        return
    replaced, back = put_back(s, pairs, backup_dir=f"{REMOTE_DIR}/backups/{s.stamp}")
    s.record(guest=list(zip(replaced, [target for _, target in pairs])))
    state = back.detail if back.ok else f"it does not answer through the forward: {back.detail}"
    say(f"put the previous certificate back in the VM and restarted the daemon ({state})")


def remove_forward(s: Session, manifest: dict) -> None:
    added = manifest.get("nat", {}).get("added")
    if not added:
        say("this run did not add a NAT rule: nothing to remove")
        return
    info = s.vm()
    rule_name = added.split(",", 1)[0]
    if info is None or not any(
        r.name == rule_name for r in info.forwarding.get(info.nat_nic or 1, ())
    ):
        say(f"NAT rule {rule_name!r} is already gone")
        return
    if s.dry_run:
        say(f"would delete NAT rule {added!r}")
        return
    s.vbox.delete_rule(s.name, rule_name, info.nat_nic or 1, info.running)
    s.forget_vm()
    say(f"deleted NAT rule {added!r}")


def restore(s: Session, backup: str = "", forward: bool = False) -> None:
    folder, manifest = find_backup(s, backup)
    say(f"undoing the run of {folder.name}")
    restore_local(s, folder, manifest)
    restore_guest(s, manifest)
    if forward:
        remove_forward(s, manifest)
