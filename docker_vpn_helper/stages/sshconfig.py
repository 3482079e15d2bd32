"""env.ssh-config: the `Host docker-machine-NAME` entry that DOCKER_HOST=ssh://... needs.

The docker CLI's SSH transport runs the system `ssh` with nothing but the host name, so the
port of the NAT `ssh` forward, the user and docker-machine's key must come from ~/.ssh/config.
This path needs no daemon certificate at all: the daemon is reached over SSH, on the VPN or not.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..core import sshconfig
from ..core.fsutil import atomic_write, backup_files
from ..core.plans.sshconfig import SshConfigPlan
from ..environment import ssh_alias
from ..errors import HelperError
from ..report import say
from ..session import Session
from . import Stage


def user_ssh_config() -> Path:
    """~/.ssh/config; a symlink (dotfiles) is followed, so that its target gets the change."""
    path = Path(os.path.expanduser("~/.ssh/config"))
    return path.resolve() if path.is_symlink() else path


def plan(s: Session) -> SshConfigPlan:
    alias = ssh_alias(s.name)
    m = s.machine
    path = user_ssh_config()
    try:
        block = sshconfig.render_block(alias, s.name, m.ssh_port, m.ssh_user, m.ssh_key)
        current = path.read_text() if path.exists() else ""
        updated = sshconfig.with_block(current, alias, block)
    except ValueError as exc:
        raise HelperError(f"cannot write {path}: {exc}") from None
    except OSError as exc:
        raise HelperError(f"cannot read {path}: {exc.strerror or exc}") from None
    if updated == current:
        return SshConfigPlan(path, alias, m.ssh_port, m.ssh_user)
    verb = "updated" if sshconfig.markers(alias)[0] in current else "added"
    return SshConfigPlan(path, alias, m.ssh_port, m.ssh_user, updated, verb)


def apply(s: Session, plan: SshConfigPlan) -> None:
    path, updated = plan.path, plan.updated
    assert updated is not None
    if path.exists():
        copies = backup_files([path], s.journal.folder)
        mode = path.stat().st_mode & 0o777
        say(f"backed up {path} to {copies[path]}")
    else:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        mode = 0o600
    atomic_write(path, updated.encode(), mode)
    say(f"{plan.verb} Host {plan.alias} (127.0.0.1:{plan.port}, user {plan.user}) in {path}; "
        f"use it with DOCKER_HOST=ssh://{plan.alias} (env.print --transport ssh)")  # fmt: skip


STAGE = Stage("env.ssh-config", "Writing the SSH client configuration", plan, apply)
