"""doctor"""

from __future__ import annotations

import json as json_module

from invoke import task
from invoke.exceptions import Exit

from .common import MINIKUBE_HELP, SHARED_HELP

DOCTOR_HELP = {
    "machine": SHARED_HELP["machine"],
    "storage-path": SHARED_HELP["storage-path"],
    "port": SHARED_HELP["port"],
    "json": "print the findings as JSON (for scripts)",
    **MINIKUBE_HELP,
}


@task(help=DOCTOR_HELP, auto_shortflags=False)
def doctor(c, machine=None, storage_path=None, port=0, json_=False, minikube=False, profile=""):
    """Diagnose a machine and what `docker` in this shell uses, changing nothing.

    Each finding names the command that fixes it; a summary line ends with the one command to
    run. Exit 1 when something needs fixing.
    """
    from ..stages.doctor import FAIL, diagnose, summary
    from .common import session

    # Plans without applying them (a dry run's Session), and reads only: no lock.
    s = session(c, machine, storage_path, port, dry_run=True, lock=False)
    findings = diagnose(s)
    line, command = summary(s, findings)
    if json_:
        report = {"machine": s.name, "healthy": not any(f.status == FAIL for f in findings)}
        report["findings"] = [f.as_dict() for f in findings]
        report["summary"] = line
        report["run"] = command
        print(json_module.dumps(report, indent=2))
    else:
        width = max(len(f.check) for f in findings)
        print(f"docker-vpn-helper doctor: machine {s.name!r}")
        for f in findings:
            status = f.status if f.status in ("ok", "info") else f.status.upper()
            print(f"  {status:<5} {f.check:<{width}}  {f.seen}")
            if f.fix:
                print(f"  {'':<5} {'':<{width}}  fix: {f.fix}")
        print(line)
    if any(f.status == FAIL for f in findings):
        raise Exit(code=1)
