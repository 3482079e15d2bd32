"""What the tool did to a machine, run by run, read from its journal's manifests. Pure.

Every run that changed something left `machines/NAME/backups/<UTC stamp>/manifest.json`: the
files it replaced (`local`: {target: copy}, `guest`: [[saved, target], ...], "" where there was
nothing), the NAT rule it added (`nat`: {added, replaced}) and, for a restore, the run it undid
(`undid`: a stamp, or `original`). From that:

- `in_effect`: the runs whose changes are still in place, oldest first; `restore` undoes the last,
  so repeated restores walk back through the history instead of toggling;
- `original`: the machine as docker-machine left it before the tool first touched it: the first
  saved copy of every file, and whether a NAT rule of ours was added (and what it replaced);
- `describe`: one line per run for `restore --list`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ORIGINAL = "original"  # what a `restore --original` records as the run it undid


@dataclass(frozen=True)
class Run:
    stamp: str  # the backup folder's name: the run's UTC start, sortable
    folder: Path
    manifest: Mapping[str, Any]

    @property
    def undid(self) -> str:
        """The run this restore undid (a stamp or ORIGINAL); "" for a run that repaired."""
        return str(self.manifest.get("undid") or "")

    @property
    def when(self) -> str:
        try:
            moment = dt.datetime.strptime(self.stamp[:15], "%Y%m%dT%H%M%S")
        except ValueError:
            return "?"
        return f"{moment:%Y-%m-%d %H:%M:%S} UTC"

    def local(self) -> dict[Path, Path]:
        """{file it replaced: the copy it kept}"""
        entries = self.manifest.get("local") or {}
        return {Path(target): self.folder / copy for target, copy in entries.items()}

    def guest(self) -> list[tuple[str, str]]:
        """[(the copy it kept in the VM, or "" when there was none, the VM's file)]"""
        return [(str(saved), str(target)) for saved, target in self.manifest.get("guest") or []]

    def nat(self) -> tuple[str, str]:
        """(the NAT rule it added, the one that rule replaced): "" where none."""
        nat = self.manifest.get("nat") or {}
        return str(nat.get("added") or ""), str(nat.get("replaced") or "")

    def apiserver(self) -> tuple[str, str]:
        """minikube's VMs: (the API server's NAT rule it added, the kubeconfig of ours it
        created): "" where none (a kubeconfig it rewrote is in `local`)."""
        api = self.manifest.get("apiserver") or {}
        return str(api.get("added") or ""), str(api.get("kubeconfig") or "")

    def loopback_switched(self) -> bool:
        """It let the NAT's 10.0.2.2 reach the host's loopback (dns.host-names, VirtualBox 7)."""
        return bool((self.manifest.get("host_names") or {}).get("localhost_switched"))

    def replaced(self) -> str:
        """What this run replaced, in words."""
        parts = []
        local = self.local()
        if local:
            parts.append("replaced " + ", ".join(sorted(p.name for p in local)))
        guest = self.guest()
        if guest:
            parts.append("the VM's " + ", ".join(Path(t).name for _, t in guest))
        added, instead = self.nat()
        if added:
            parts.append(f"added NAT rule {added}" + (f" instead of {instead}" if instead else ""))
        return "; ".join(parts) or "nothing"


def in_effect(runs: Sequence[Run]) -> list[Run]:
    """The repairing runs whose changes are still in place, oldest first.

    A restore of a repairing run takes it out; a restore of a restore puts back the run that one
    had taken out; `restore --original` takes out everything before it.
    """
    by_stamp = {run.stamp: run for run in runs}
    stack: list[Run] = []
    for run in runs:
        if not run.undid:
            stack.append(run)
        elif run.undid == ORIGINAL:
            stack.clear()
        else:
            target = by_stamp.get(run.undid)
            if target is None:
                continue
            if target in stack:
                stack.remove(target)
            elif target.undid and target.undid in by_stamp:
                stack.append(by_stamp[target.undid])
    return stack


@dataclass(frozen=True)
class Original:
    """What putting a machine back as docker-machine left it takes."""

    local: dict[Path, Path] = field(default_factory=dict)  # {file: its first saved copy}
    # (the VM's file, the copies runs noted of it, oldest first; "" where it did not exist)
    guest: tuple[tuple[str, tuple[str, ...]], ...] = ()
    nat_added: bool = False  # some run added our daemon rule
    nat_replaced: str = ""  # the rule of that name that was there before ours
    loopback_switched: bool = False  # some run let 10.0.2.2 reach the host's loopback


def original(runs: Sequence[Run]) -> Original:
    """The first copy any run kept of each file is the file before the tool touched it."""
    local: dict[Path, Path] = {}
    guest: dict[str, list[str]] = {}
    nat_added, nat_replaced, nat_seen = False, "", False
    loopback = any(run.loopback_switched() and not run.undid for run in runs)
    for run in runs:
        for target, copy in run.local().items():
            local.setdefault(target, copy)
        for saved, target in run.guest():
            guest.setdefault(target, []).append(saved)
        added, instead = run.nat()
        if added and not run.undid:
            nat_added = True
            if not nat_seen:
                nat_replaced, nat_seen = instead, True
    copies = tuple((target, tuple(saved)) for target, saved in guest.items())
    return Original(local, copies, nat_added, nat_replaced, loopback)


def guest_original(
    copies: Sequence[tuple[str, Sequence[str]]], found: Mapping[str, bytes | None]
) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """What puts the VM's files back as docker-machine left them: (copy, file) pairs for the
    files that differ from it ("" copy: remove the file, it did not exist), and the files none
    of whose copies is left. `copies`: Original.guest; `found`: the VM's files and copies as
    they are now (None: missing).

    The oldest copy that exists is docker-machine's file: a run noted its copies before making
    them (write-ahead) and replaces a file only once every copy is made, so a run stopped
    before that never changed the file, and the next run's copy is still the original."""
    pairs, lost = [], []
    for target, saved in copies:
        chosen = next((copy for copy in saved if not copy or found.get(copy) is not None), None)
        if chosen is None:
            lost.append(target)
        elif (found.get(chosen) if chosen else None) != found.get(target):
            pairs.append((chosen, target))
    return tuple(pairs), tuple(lost)


def describe(runs: Sequence[Run]) -> list[str]:
    """One line per run, oldest first: when, what it was, what it replaced, whether it is still
    in effect."""
    effective = {run.stamp for run in in_effect(runs)}
    undone_by: dict[str, str] = {}
    for run in runs:
        if run.undid == ORIGINAL:
            for earlier in runs:
                if earlier.stamp < run.stamp and not earlier.undid:
                    undone_by.setdefault(earlier.stamp, run.stamp)
        elif run.undid:
            undone_by[run.undid] = run.stamp
    lines = []
    for run in runs:
        command = str(run.manifest.get("command") or "")
        if run.undid == ORIGINAL:
            what = "restore --original"
        elif run.undid:
            what = f"restore of {run.undid}"
        else:
            what = command or "a run"
        if run.undid:
            state = ""
        elif run.stamp in effective:
            state = " [in effect]"
        else:
            state = f" [undone by {undone_by.get(run.stamp, 'a later run')}]"
        lines.append(f"{run.stamp}  {run.when}  {what}: {run.replaced()}{state}")
    return lines
