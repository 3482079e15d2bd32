"""corp.sync's planner: what the VM lacks of the host's roots and proxy, and the files that
give it to the VM. Pure.

Roots go into /var/lib/boot2docker/certs (boot2docker loads them at every boot) and, to take
effect now, into the running system bundle; the proxy into our block of the boot2docker
profile. The daemon reads both only when it starts: it is restarted when the bundle or the
profile changed, not for a root the bundle had already.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .. import proxy, trust
from ..commands import Command
from ..store import STATE_FILE
from .base import Plan

PROFILE_PATH = "/var/lib/boot2docker/profile"
RECORD_KEY = "corp"  # in the machine's state file: what the VM was given (Wanted.record)
LOOPBACK_NOTE = (
    "the host's proxy listens on its loopback: the VM reaches it as 10.0.2.2, VirtualBox's NAT "
    "gateway (a VM made by VirtualBox 7 needs its NAT to reach the host's loopback: "
    "`VBoxManage modifyvm NAME --nat-localhostreachable1 on` while it is stopped)"
)
UNREACHABLE = (
    "the VM's NAT does not let 10.0.2.2 reach the host's loopback, where the proxy listens "
    "(VirtualBox 7): stop the VM, run `VBoxManage modifyvm {name} --nat-localhostreachable1 on`, "
    "start it"
)
PAC_NOTE = (
    "the system proxy names a PAC file ({pac}): PAC files are not followed; set vpnhelper.proxy"
)


@dataclass(frozen=True)
class VMTrust:
    """What the VM has: its profile (None: none), the files of its certs folder, its running
    bundle (None: not found)."""

    profile: str | None
    certs: Mapping[str, bytes]
    bundle: bytes | None

    def persisted(self) -> set[str]:
        """Fingerprints of the roots boot2docker loads at boot."""
        return {fp for data in self.certs.values() for fp in trust.fingerprints(data)}


@dataclass(frozen=True)
class CorpPlan(Plan):
    """corp.sync: the host's extra roots and proxy, given to the VM's daemon."""

    roots: tuple[trust.Root, ...] = ()  # the host's extra roots
    persist: tuple[trust.Root, ...] = ()  # not yet in /var/lib/boot2docker/certs
    load: tuple[trust.Root, ...] = ()  # not yet in the running bundle
    bundle: bytes = b""  # the running bundle with `load` appended
    profile: str = ""  # the profile with our proxy block, when it changes
    proxy_lines: tuple[str, ...] = ()  # our block's lines, credentials masked
    host_proxy: str = ""  # the host's proxy as seen, masked ("" none)
    vm_proxy: tuple[tuple[str, str], ...] = ()  # what the daemon's profile exports now, masked
    notes: tuple[str, ...] = ()
    off: str = ""  # why the stage does nothing (turned off by a setting)
    certain: bool = True  # False: the VM cannot be read yet (dry run)
    restart_command: Command | None = None  # the daemon's restart in the VM, when one is due
    unreachable: str = ""  # the VM's NAT cannot reach the host's loopback, where the proxy is
    record: Mapping[str, object] | None = None  # what to remember the VM has, once it has it

    @property
    def chores(self) -> tuple[str, ...]:
        if self.record is None:
            return ()
        return (
            f"record in the machine's {STATE_FILE} what the VM has of the host's roots and proxy",
        )

    @property
    def proxy_changes(self) -> bool:
        return bool(self.profile)

    @property
    def restart(self) -> bool:
        return bool(self.load) or self.proxy_changes

    @property
    def commands(self) -> tuple[Command, ...]:
        """The restart, run after the files are written (they go through Guest.install_files
        and the journal, not a command of their own)."""
        return (self.restart_command,) if self.restart and self.restart_command else ()

    @property
    def changes(self) -> tuple[str, ...]:
        if not self.certain:
            return ("corp",) if self.roots or self.proxy_lines else ()
        return ("corp",) if self.persist or self.load or self.proxy_changes else ()

    def files(self) -> list[tuple[str, bytes, int]]:
        """(guest path, content, mode) of every file to write, for Guest.install_files."""
        done = [(root.guest_path, root.pem, 0o644) for root in self.persist]
        if self.load:
            done.append((trust.GUEST_BUNDLE, self.bundle, 0o644))
        if self.proxy_changes:
            done.append((PROFILE_PATH, self.profile.encode(), 0o644))
        return done

    @property
    def problem(self) -> str:
        if not self.certain or self.off:
            return ""
        parts = []
        missing = {r.fingerprint for r in (*self.persist, *self.load)}
        if missing:
            names = ", ".join(r.describe() for r in self.roots if r.fingerprint in missing)
            parts.append(f"the VM lacks {len(missing)} of the host's roots: {names}")
        if self.unreachable:
            parts.append(self.unreachable)
        if self.proxy_changes:
            parts.append(
                f"the VM's proxy ({self.vm_proxy_text()}) differs from the host's ({self.host_proxy or 'none'})"
            )
        return "; ".join(parts)

    def vm_proxy_text(self) -> str:
        return ", ".join(f"{name}={value}" for name, value in self.vm_proxy) or "none"

    def seen(self) -> str:
        if self.off:
            return self.off
        roots = (
            f"trusts the host's {len(self.roots)} extra root(s)"
            if self.roots
            else "needs no extra root (the host has none)"
        )
        way = (
            f"uses the host's proxy ({self.host_proxy})"
            if self.host_proxy
            else "needs no proxy (the host uses none)"
        )
        return f"the VM {roots} and {way}"

    def actions(self) -> list[str]:
        if not self.changes:
            return []
        if not self.certain:
            done = [
                f"give the VM, once it runs, what it lacks of: {r.describe()}" for r in self.roots
            ]
            done += [f"write to {PROFILE_PATH} if it differs: {line}" for line in self.proxy_lines]
            return done
        done = [f"copy {r.describe()} to {r.guest_path}" for r in self.persist]
        done += [
            f"add {r.describe()} to the running bundle {trust.GUEST_BUNDLE}" for r in self.load
        ]
        if self.proxy_changes:
            lines = self.proxy_lines or ("(remove the proxy lines of ours)",)
            done += [f"write to {PROFILE_PATH}: {line}" for line in lines]
        why = "the daemon reads roots and proxy when it starts"
        return done + [command.describe(why) for command in self.commands]
        return done


@dataclass(frozen=True)
class Wanted:
    """What the host wants the VM to have, read on the host alone: its extra roots (when
    followed), our profile lines (None: the proxy is not followed) and what was noted on the
    way."""

    roots: tuple[trust.Root, ...] = ()
    proxy: proxy.VMProxy | None = None
    notes: tuple[str, ...] = ()
    host_text: str = ""  # the host's proxy as seen, masked
    unreachable: str = ""

    def record(self, vm_id: str) -> dict[str, object]:
        """What corp.sync remembers in the machine's state file once the VM has it: the VM's
        UUID, the roots' fingerprints, a SHA-256 of our profile lines (a digest, so that the
        file holds no proxy password; None: the proxy is not followed)."""
        lines = None if self.proxy is None else "\n".join(self.proxy.lines())
        return {
            "vm": vm_id,
            "roots": sorted(r.fingerprint for r in self.roots),
            "proxy": None if lines is None else hashlib.sha256(lines.encode()).hexdigest(),
        }


def want(
    found: trust.Found,
    host: proxy.HostProxy,
    vm_addresses: Sequence[str],
    *,
    roots_on: bool = True,
    proxy_on: bool = True,
    loopback_reachable: bool | None = None,
    name: str = "NAME",
) -> Wanted:
    """The host's side of the comparison: `found`: its roots, `host`: its proxy."""
    roots = found.roots if roots_on else ()
    notes = list(found.skipped) if roots_on else []
    wanted, host_text, unreachable = None, "", ""
    if proxy_on:
        if host.pac and not host.any:
            notes.append(PAC_NOTE.format(pac=proxy.mask(host.pac)))
        wanted = proxy.wanted(host, vm_addresses)
        if any(u != proxy.for_the_vm(u) for u in (host.http, host.https) if u):
            if loopback_reachable is False:
                unreachable = UNREACHABLE.format(name=name)
                notes.append(unreachable)
            elif loopback_reachable is None:
                notes.append(LOOPBACK_NOTE)
        host_text = ", ".join(
            proxy.mask(u) for u in dict.fromkeys(u for u in (host.http, host.https) if u)
        )
        if host_text:
            host_text += f" from {host.source}"
    else:
        notes.append("the proxy is not followed (vpnhelper.corp_proxy is off)")
    if not roots_on:
        notes.append("no roots are copied (vpnhelper.corp_roots is off)")
    return Wanted(roots, wanted, tuple(notes), host_text, unreachable)


def plan_corp(
    found: trust.Found,
    host: proxy.HostProxy,
    vm: VMTrust,
    vm_addresses: Sequence[str],
    *,
    roots_on: bool = True,
    proxy_on: bool = True,
    restart_command: Command | None = None,
    loopback_reachable: bool | None = None,
    name: str = "NAME",
) -> CorpPlan:
    """What the VM lacks: roots (by fingerprint, in the certs folder and in the running bundle)
    and our proxy block in its profile; `found`: the host's roots, `host`: its proxy."""
    if not roots_on and not proxy_on:
        return CorpPlan(off="turned off (vpnhelper.corp_roots and vpnhelper.corp_proxy are off)")
    wanted = want(
        found,
        host,
        vm_addresses,
        roots_on=roots_on,
        proxy_on=proxy_on,
        loopback_reachable=loopback_reachable,
        name=name,
    )
    return compare(wanted, vm, restart_command)


def compare(
    wanted: Wanted,
    vm: VMTrust,
    restart_command: Command | None = None,
    recorded: object = None,
    vm_id: str = "",
) -> CorpPlan:
    """`wanted` against what was read in the VM; the plan records the VM's state (its chore,
    or after its writes) when the VM will have all of `wanted` and `recorded` (the state
    file's) does not say so already."""
    roots, notes = wanted.roots, list(wanted.notes)
    persisted = vm.persisted()
    running = trust.fingerprints(vm.bundle or b"")
    persist = tuple(r for r in roots if r.fingerprint not in persisted)
    load = tuple(r for r in roots if r.fingerprint not in running) if vm.bundle is not None else ()
    complete = vm.bundle is not None or not roots
    if roots and vm.bundle is None:
        notes.append(f"the VM has no {trust.GUEST_BUNDLE}: the roots take effect at its next boot")
    profile, lines = "", ()
    if wanted.proxy is not None:
        lines = tuple(wanted.proxy.masked_lines())
        if vm.profile is None:
            if wanted.proxy.values:
                complete = False
                notes.append(f"the VM has no {PROFILE_PATH}: its proxy is left alone")
        else:
            edited = proxy.edit_profile(vm.profile, wanted.proxy)
            profile = edited if edited != vm.profile else ""
            overridden = _overridden(edited, wanted.proxy)
            complete = complete and not overridden
            notes += overridden
    current = proxy.effective(vm.profile or "")
    record = wanted.record(vm_id)
    return CorpPlan(
        roots=roots,
        persist=persist,
        load=load,
        bundle=trust.bundle_with(vm.bundle or b"", load) if load else b"",
        profile=profile,
        proxy_lines=lines,
        host_proxy=wanted.host_text,
        vm_proxy=tuple((k, proxy.mask_text(v)) for k, v in current.items()),
        notes=tuple(notes),
        restart_command=restart_command,
        unreachable=wanted.unreachable,
        record=record if complete and (record != recorded or persist or load or profile) else None,
    )


def as_recorded(wanted: Wanted) -> CorpPlan:
    """Nothing to do, without reading the VM: the state file records that the VM was given
    exactly `wanted`, and the daemon (restarted since with it) serves the store's certificate
    through our forward, so the VM's persistent disk is the one that was written."""
    lines = () if wanted.proxy is None else tuple(wanted.proxy.masked_lines())
    vm_proxy = () if wanted.proxy is None else wanted.proxy.values
    note = f"the VM has what an earlier run gave it ({STATE_FILE} records it): not read over SSH"
    return CorpPlan(
        roots=wanted.roots,
        proxy_lines=lines,
        host_proxy=wanted.host_text,
        vm_proxy=tuple((k, proxy.mask_text(v)) for k, v in vm_proxy),
        notes=(*wanted.notes, note),
        unreachable=wanted.unreachable,
    )


def _overridden(profile: str, wanted: proxy.VMProxy) -> list[str]:
    """A note when lines of the user's own, after our block, still set another proxy."""
    after = proxy.effective(profile)
    ours = dict(wanted.values)
    differ = [n for n in ("HTTP_PROXY", "HTTPS_PROXY") if n in ours and after.get(n) != ours[n]]
    if not differ:
        return []
    return [
        f"lines of your own after ours in {PROFILE_PATH} set {', '.join(differ)} "
        f"otherwise ({', '.join(proxy.mask_text(after.get(n, '')) or 'empty' for n in differ)}): they are kept and win"
    ]


def projected(found: trust.Found, host: proxy.HostProxy, vm_addresses: Sequence[str]) -> CorpPlan:
    """A dry run's plan before the VM runs: what would be compared once it does."""
    wanted = proxy.wanted(host, vm_addresses)
    return CorpPlan(roots=found.roots, proxy_lines=tuple(wanted.masked_lines()), certain=False)
