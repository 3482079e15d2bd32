"""restore"""

from __future__ import annotations

from .common import MINIKUBE_HELP, run_stage, stage


@stage(
    backup="which run to undo: a folder name under machines/NAME/backups (default: the latest "
    "run still in effect, so repeated restores walk back)",
    forward="also delete the NAT rule that run added",
    original="put the machine back as docker-machine left it before this tool's first run: its "
    "certificate (store and VM), its ServerCertSANs, no NAT rule of ours",
    list="list this tool's runs on the machine (when, what each replaced, whether it is still in "
    "effect) and change nothing",
    **MINIKUBE_HELP,
)
def restore(
    c,
    machine=None,
    storage_path=None,
    port=0,
    dry_run=False,
    backup="",
    forward=False,
    original=False,
    list_=False,
    minikube=False,
    profile="",
):
    """Undo the latest run still in effect, or with --original all of them.

    The previous certificate goes back into the store and the VM (daemon restarted); --original
    goes back to docker-machine's own; --list shows the history.
    """
    if list_:
        from ..core.history import describe
        from .common import session

        s = session(c, machine, storage_path, port, dry_run, lock=False)  # reads only
        s.machine  # noqa: B018  (a machine the store lacks is an error)
        runs = s.journal.history()
        print(f"docker-vpn-helper restore: the runs on {s.name!r} ({s.journal.root})")
        for line in describe(runs) or ["none: this tool has not changed it"]:
            print(f"  {line}")
        return
    from ..stages.restore import STAGE

    run_stage(
        c,
        STAGE,
        machine,
        storage_path,
        port,
        dry_run,
        backup=backup,
        forward=forward,
        original=original,
    )
