"""A healthy `fix --minikube` in the lab (issue 24): its wall time beside a healthy
docker-machine `fix`, and the SSH connections it makes (none when both forwards answer with
the right certificates).

    sudo /path/to/venv/bin/python benchmarks/minikube.py [--runs N] [--keep]

Builds its own lab (--lab-dir /run/dvhmb, --lab-ns dvhmb by default) with the docker-machine VM
`default` and minikube's VM `minikube`, connects the VPN (`drop`), fixes both once, then times
N runs of each command as a user runs it (nothing to change) and counts the lines sshd logged
in minikube's VM meanwhile. Undoes both fixes (`restore --original`) and tears the lab down at
the end unless --keep.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from run import fmt, machine_info  # benchmarks/run.py: this script's folder is on sys.path

BENCH_DIR = Path(__file__).resolve().parent
PROFILE = "minikube"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--keep", action="store_true", help="leave the lab up")
    parser.add_argument("--lab-dir", default=os.environ.get("DVH_BENCH_LAB_DIR", "/run/dvhmb"))
    parser.add_argument("--lab-ns", default=os.environ.get("DVH_BENCH_LAB_NS", "dvhmb"))
    args = parser.parse_args()
    os.environ["DVH_LAB_DIR"] = args.lab_dir
    os.environ["DVH_LAB_NS"] = args.lab_ns
    sys.path.insert(1, str(BENCH_DIR.parent))  # the clone: the lab (lab/) is never installed
    from lab import Lab

    lab = Lab().up()
    lab.up((PROFILE,), flavour="minikube")
    lab.vpn_on("drop")
    env = {**lab.host_env(), "SHELL": "/bin/bash"}
    tool = [sys.executable, "-m", "docker_vpn_helper"]
    commands = {
        "fix --minikube (healthy)": [*tool, "fix", "--minikube"],
        "fix (docker-machine, healthy)": [*tool, "fix", "--machine", "default"],
    }
    try:
        for argv in commands.values():
            first = lab.run_on_host(argv, env=env)
            if first.returncode != 0:
                raise SystemExit(f"the first fix failed: {first.stderr}")
        sshd_log = ["cat", "/var/log/sshd.log"]
        before = lab.guest_run(PROFILE, sshd_log).stdout
        info = machine_info()
        walls: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, argv in commands.items():  # interleaved: the machine's load hits both
                start = time.monotonic()
                done = lab.run_on_host(argv, env=env)
                walls[name].append(time.monotonic() - start)
                if "already fixed: nothing changed" not in done.stderr:
                    raise SystemExit(f"{name} was not healthy: {done.stderr}")
        logged = lab.guest_run(PROFILE, sshd_log).stdout[len(before) :]
        print(
            f"{info['cpu']}, {info['cores']} cores, load {info['loadavg_at_start']}; "
            f"{args.runs} runs each (median [min .. max])"
        )
        for name, values in walls.items():
            print(f"  {name:<32} {fmt(values)}")
        print(f"  sshd lines logged in minikube's VM meanwhile: {len(logged.splitlines())}")
    finally:
        lab.run_on_host([*tool, "restore", "--minikube", "--original"], env=env)
        lab.run_on_host([*tool, "restore", "--machine", "default", "--original"], env=env)
        lab.vpn_off()
        if not args.keep:
            lab.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
