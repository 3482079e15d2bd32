"""Published ports in the lab: how soon ports.watch forwards a new container, and what one
ports.sync costs with 0, 1 and 20 published ports.

    sudo /path/to/venv/bin/python benchmarks/watch.py [--containers N] [--runs N] [--keep]

Builds its own lab (--lab-dir /run/dvhwb, --lab-ns dvhwb by default), fixes a machine behind the
VPN and loads the lab's image, then:

1. with `ports.watch --machine bench` running: N times, `docker run -d --init -p P:8080` (P a new
   port each time) in the guest; from the moment that command returns, a probe on the lab's Mac
   (a thread in its network namespace) tries `GET http://127.0.0.1:P/` every 5 ms until the page
   comes back; then, from just before `docker rm -f`, until 127.0.0.1:P refuses;
2. the watch stopped: with 0, 1 and 20 published ports (no container; one `-p P:8080`; one
   `-p P-P+19:8080-8099`), the `ports.sync` command as a user runs it (its prerequisites find
   the machine fixed) with nothing to change; and the stage alone, in one Python process on the
   lab's Mac (a new Session each time, as a command has): adding the rules (ours deleted first,
   untimed) and then with nothing to change.

Prints the figures (median [min .. max]); tears the lab down at the end unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from run import fmt, machine_info  # benchmarks/run.py: this script's folder is on sys.path

BENCH_DIR = Path(__file__).resolve().parent
MACHINE = "bench"
FIRST_PORT = 18500  # latency: one new port per container
SYNC_PORT = 18700  # sync cost: the single port, and the first of the 20
PROBE_EVERY = 0.005
PROBE_LIMIT = 20.0
TARGET_MEDIAN_S = 0.5  # issue 15: from `docker run -d -p` returning to the port answering

# The stage alone, in one process on the lab's Mac: argv = machine, rounds, adding (0/1).
STAGE_TIMER = """
import contextlib, io, json, sys, time
from invoke import Context
from docker_vpn_helper.core import ports as published
from docker_vpn_helper.session import Session, settings_for
from docker_vpn_helper.stages import ports, step

machine, rounds, adding = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
c = Context()
times = []
for _ in range(rounds):
    if adding:
        s = Session(c, settings_for(c, machine))
        info = s.vm()
        for rule in published.ours(info.rules()):
            s.vbox.delete_rule(machine, rule.name, info.nat_nic, info.running)
    s = Session(c, settings_for(c, machine))
    start = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):
        plan = step(s, ports.STAGE)
    times.append(time.perf_counter() - start)
    assert bool(plan.changes) == adding, plan.describe()
print(json.dumps(times))
"""


class BenchError(Exception):
    pass


def probe(port: int) -> bool:
    """One try at the page on 127.0.0.1:`port` (in the caller's network namespace)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as conn:
            conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
            conn.settimeout(1.0)
            answer = b""
            while chunk := conn.recv(4096):
                answer += chunk
        return b"hello from the lab" in answer
    except OSError:
        return False


def refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


class Mac:
    """A thread inside the lab's Mac (its network namespace) that answers probes on request."""

    def __init__(self, netns: str) -> None:
        from lab import natfwd

        self.asks: queue.Queue = queue.Queue()
        self.answers: queue.Queue = queue.Queue()

        def serve() -> None:
            natfwd.enter_netns(netns)  # this thread only
            while True:
                check, port = self.asks.get()
                self.answers.put(self._until(check, port))

        threading.Thread(target=serve, daemon=True).start()

    @staticmethod
    def _until(check, port: int) -> float | None:
        """Seconds until `check(port)` holds (None: not within PROBE_LIMIT)."""
        start = time.monotonic()
        while not check(port):
            if time.monotonic() - start > PROBE_LIMIT:
                return None
            time.sleep(PROBE_EVERY)
        return time.monotonic() - start

    def start(self, check, port: int) -> None:
        """Start timing until `check(port)` holds: from now."""
        self.asks.put((check, port))

    def seconds(self) -> float:
        seconds = self.answers.get()
        if seconds is None:
            raise BenchError(f"no change on 127.0.0.1 within {PROBE_LIMIT:g} s")
        return seconds


def guest(lab: Any, *argv: str) -> None:
    done = lab.guest_run(MACHINE, list(argv), timeout=120)
    if done.returncode != 0:
        raise BenchError(f"{' '.join(argv)}: {done.stderr.strip()}")


def tool(lab: Any, *argv: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = lab.run_on_host([sys.executable, "-m", "docker_vpn_helper", *argv], timeout=timeout)
    if done.returncode != 0:
        raise BenchError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr[-800:]}")
    return done


def latency(lab: Any, mac: Mac, count: int) -> dict[str, list[float]]:
    from lab.image import IMAGE, http_server
    from lab.paths import HOST_NS, netns_path

    tool_argv = [sys.executable, "-m", "docker_vpn_helper", "ports.watch", "--machine", MACHINE]
    watch = subprocess.Popen(
        ["nsenter", f"--net={netns_path(HOST_NS)}", *tool_argv],
        env=lab.host_env(),
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    said: list[str] = []
    threading.Thread(target=lambda: said.extend(watch.stderr), daemon=True).start()
    figures: dict[str, list[float]] = {"forwarded": [], "dropped": [], "docker run": []}
    try:
        deadline = time.monotonic() + 30
        while not any("nothing to do" in line for line in said):
            if watch.poll() is not None or time.monotonic() > deadline:
                raise BenchError("ports.watch did not start: " + "".join(said))
            time.sleep(0.05)
        for i in range(count):
            port, name = FIRST_PORT + i, f"lat{i}"
            start = time.monotonic()
            guest(lab, "docker", "run", "-d", "--init", "--name", name, "-p", f"{port}:8080",
                  IMAGE, *http_server(8080))  # fmt: skip
            figures["docker run"].append(time.monotonic() - start)
            mac.start(probe, port)
            figures["forwarded"].append(mac.seconds())
            mac.start(refused, port)  # from before `rm -f`: the rule goes while it runs
            guest(lab, "docker", "rm", "-f", name)
            figures["dropped"].append(mac.seconds())
            print(f"  {name}: {figures['forwarded'][-1]:.3f} s", file=sys.stderr, flush=True)
    finally:
        watch.send_signal(signal.SIGINT)
        code = watch.wait(30)
        if code != 0:
            raise BenchError(f"ports.watch exited {code}: " + "".join(said[-20:]))
    return figures


def sync_costs(lab: Any, runs: int) -> dict[str, list[float]]:
    from lab.image import IMAGE, http_server

    figures: dict[str, list[float]] = {}
    last = SYNC_PORT + 19
    setups = {
        0: [],
        1: ["-p", f"{SYNC_PORT}:8080"],
        20: ["-p", f"{SYNC_PORT}-{last}:8080-8099"],
    }
    for count, publish in setups.items():
        print(f"  ports.sync with {count} published ports", file=sys.stderr, flush=True)
        guest(lab, "sh", "-c", "docker rm -f $(docker ps -aq) >/dev/null 2>&1 || true")
        if publish:
            guest(lab, "docker", "run", "-d", "--init", "--name", "sync", *publish, IMAGE,
                  *http_server(8080))  # fmt: skip
        tool(lab, "ports.sync", "--machine", MACHINE)  # the rules as they should be
        command = []
        for _ in range(runs):
            start = time.monotonic()
            tool(lab, "ports.sync", "--machine", MACHINE)
            command.append(time.monotonic() - start)
        figures[f"ports.sync command, {count} ports, nothing to change"] = command
        stage = [sys.executable, "-c", STAGE_TIMER, MACHINE, str(runs)]
        for adding in (False, True) if count else (False,):
            done = lab.run_on_host([*stage, "1" if adding else "0"], timeout=600)
            if done.returncode != 0:
                raise BenchError(f"the stage timer failed: {done.stderr[-800:]}")
            what = f"adding {count} rules" if adding else "nothing to change"
            figures[f"ports.sync stage alone, {count} ports, {what}"] = json.loads(done.stdout)
    guest(lab, "docker", "rm", "-f", "sync")
    tool(lab, "ports.sync", "--machine", MACHINE)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--containers", type=int, default=20, help="latency samples (20)")
    parser.add_argument("--runs", type=int, default=5, help="runs per sync figure (5)")
    parser.add_argument("--lab-dir", default=os.environ.get("DVH_BENCH_LAB_DIR", "/run/dvhwb"))
    parser.add_argument("--lab-ns", default=os.environ.get("DVH_BENCH_LAB_NS", "dvhwb"))
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--keep", action="store_true", help="leave the lab up at the end")
    args = parser.parse_args()
    # The lab reads these at import: our own folder and namespaces, never another lab's.
    os.environ["DVH_LAB_DIR"] = args.lab_dir
    os.environ["DVH_LAB_NS"] = args.lab_ns
    sys.path.insert(1, str(BENCH_DIR.parent))  # the clone: the lab (lab/) is never installed
    from lab import Lab
    from lab.paths import HOST_NS, netns_path

    info = machine_info()
    lab = Lab()
    try:
        lab.up((MACHINE,), cert_profile="v0.16")
        for other in set(lab.status()["machines"]) - {MACHINE}:
            lab.remove_machine(other)
        lab.vpn_on("drop")
        tool(lab, "fix", "--machine", MACHINE)
        lab.load_image(MACHINE)
        print(f"latency over {args.containers} containers", file=sys.stderr, flush=True)
        figures = latency(lab, Mac(netns_path(HOST_NS)), args.containers)
        figures.update(sync_costs(lab, args.runs))
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            for step in (lab.vpn_off, lab.down):
                try:
                    step()
                except Exception as exc:  # keep cleaning up
                    print(f"cleanup: {exc}", file=sys.stderr)
    info["loadavg_at_end"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(" ".join(f"{key}={value}" for key, value in info.items()))
    print("median [min .. max]")
    labels = {
        "docker run": "`docker run -d -p` itself (guest)",
        "forwarded": "ports.watch: run returned -> 127.0.0.1:P answers",
        "dropped": "ports.watch: rm -f started -> 127.0.0.1:P refuses",
    }
    for key, values in figures.items():
        print(f"  {labels.get(key, key):62} {fmt(values)}  n={len(values)}")
    median = statistics.median(figures["forwarded"])
    met = median <= TARGET_MEDIAN_S
    print(f"target: median forward latency <= {TARGET_MEDIAN_S} s: {'MET' if met else 'MISSED'}")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "figures": figures}, indent=1))
    return 0 if met else 2


if __name__ == "__main__":
    sys.exit(main())
