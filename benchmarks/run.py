"""What one docker-vpn-helper run costs in the lab, next to the floors and the 2015 sequence.

From a clone, with the tool installed in a virtualenv (see docs/LAB.md; root on Linux):

    sudo .venv/bin/python benchmarks/run.py --runs N [--json FILE] [--lab-dir D --lab-ns NS]

It measures the docker_vpn_helper that interpreter imports (an editable install: the clone; a
`pip install .`: site-packages; commands run outside the clone so `python -m` cannot mix them up).
It builds its own lab (--lab-dir /run/dvhlab-bench and --lab-ns dvhbench by default, or
$DVH_BENCH_LAB_DIR / $DVH_BENCH_LAB_NS, which sudo drops; never $DVH_LAB_DIR, so that it never
meets another lab), and tears it down at the end, failure or not. Per run: a fresh broken
machine (VPN on, no forward, a docker-machine v0.16 certificate without 127.0.0.1) gets `fix`,
then a second `fix` (nothing to do), `env.print`, `--list`, `doctor`, and the 2015 helper's sequence
(baseline_2015.sh). Then the floors (floors.py), start-up and import costs. Prints a table and
the targets, each MET or MISS; the last line, on stderr, says which were missed. Exit status: 0
every target met, 2 some missed, 1 the benchmark itself failed.

Everything is counted from outside the tool's process: wall time; every VBoxManage,
docker-machine, sudo, openssl, ip and ps the tool (or the baseline) starts directly, by logging
shims first on PATH (not what those start in turn); SSH connections from the guest's sshd log and
daemon restarts from the init script's "Starting dockerd" lines (GuestLog); stage times from when
each `=====[machine] <stage>=====` banner arrives on the run's stderr (Streamed.stages).
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import json
import os
import platform
import re
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

from imports import importtime_rows  # benchmarks/imports.py: this script's folder is on sys.path

BENCH_DIR = Path(__file__).resolve().parent
MACHINE = "bench"
SHIMMED = ("VBoxManage", "docker-machine", "sudo", "openssl", "ip", "ps")
HEAVY = ("paramiko", "cryptography", "fabric", "jinja2", "invoke")
# A run's time outside its stages (Streamed.stages): before the first banner, Python, imports,
# argument parsing and the first stage's plan (a banner is printed once its stage has planned);
# after the last output, what runs at exit (atexit, CPython's finalisation) and the process's end.
STARTUP = "(start-up: to the first banner)"
EXIT = "(exit: after the last output)"
RESTART_STAGE = "Restarting the Docker daemon"
# report.banner: "=====[<machine>] <stage title>=====" on stderr.
BANNER = re.compile(r"^=====\[[^]]*\] (.*)=====$")
# The guest's logs (see GuestLog): how many times the init script started dockerd, then sshd's log.
# dockerd and its containerd write to that log too: count the words wherever they are in a line.
GUEST_LOGS = (
    "grep -a -o 'Starting dockerd: ' /var/lib/boot2docker/docker.log 2>/dev/null | grep -c .; "
    "cat /var/log/sshd.log"
)
SSH_PEER = re.compile(r"(\d{1,3}(?:\.\d{1,3}){3} port \d+)")
GUEST_COUNTS = ("ssh_connections", "ssh_unauthenticated", "daemon_restarts", "dockerd_pid_changed")
# VirtualBox's share of a broken run, measured alone: the three calls a never-fixed machine's
# `fix` makes, in its order, the rule on a spare port (and deleted again, untimed).
FLOOR_RULE = "benchfloor"
BROKEN_VBOX_CALLS = (
    f"VBoxManage showvminfo {MACHINE} --machinereadable >/dev/null && "
    "VBoxManage list vms >/dev/null && "
    f"VBoxManage controlvm {MACHINE} natpf1 '{FLOOR_RULE},tcp,127.0.0.1,2399,,2376'"
)
VBOX_SEQUENCE = "VBoxManage: a broken run's 3 calls (stand-ins)"
SETTLE = "lab: until the machine is idle after add_machine (not ours)"
HEALTHY_FLOOR = "floor: healthy fix (python+invoke, showvminfo, 1 TLS)"

# Targets of issues 7 and 14 (lab, medians): a healthy machine is proven without SSH (0
# connections, 0 restarts, only `showvminfo` asked); a broken one takes 1 SSH connection, 1 restart.
HEALTHY_MAX_S = 0.6
HEALTHY_OVER_FLOOR = 1.3  # issue 20: a healthy fix within 1.3 times its floor (floors.healthy)
HEALTHY_VBOX = ["showvminfo"]
BROKEN_OVER_RESTART_S = 0.8
ENV_PRINT_MAX_S = 0.15
BASELINE_RATIO = 10.0


class BenchError(Exception):
    """A step of the benchmark failed: reported, then the lab is torn down."""


# ---- figures -----------------------------------------------------------------------------------


def spread(values: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def fmt(values: list[float], unit: str = "s") -> str:
    if not values:
        return "-"
    s = spread(values)
    if unit == "ms":
        return f"{s['median'] * 1000:8.1f} ms  [{s['min'] * 1000:.1f} .. {s['max'] * 1000:.1f}]"
    return f"{s['median']:8.3f} s   [{s['min']:.3f} .. {s['max']:.3f}]"


def machine_info() -> dict[str, str]:
    """Enough to tell two machines' figures apart."""
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        load = "?"
    return {
        "cpu": model,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "loadavg_at_start": load,
    }


# ---- running things on the lab's Mac ----------------------------------------------------------


def write_shims(folder: Path, path: str, log: Path) -> None:
    """Logging wrappers for the programs we count; nested calls (a shim's children) go unlogged."""
    for name in SHIMMED:
        real = shutil.which(name, path=path)
        if real is None:
            continue
        script = (
            "#!/bin/sh\n"
            'if [ -z "${DVH_BENCH_NESTED:-}" ]; then\n'
            f"  printf '%s %s\\n' {name} \"${{1:-}}\" >> '{log}'\n"
            "fi\n"
            "export DVH_BENCH_NESTED=1\n"
            f'exec "{real}" "$@"\n'
        )
        target = folder / name
        target.write_text(script)
        target.chmod(0o755)


def read_spawns(log: Path) -> tuple[Counter, list[str]]:
    """(count per program, the VBoxManage subcommands) logged since the last reset."""
    lines = log.read_text().splitlines() if log.exists() else []
    log.write_text("")
    counts: Counter = Counter(line.split(" ", 1)[0] for line in lines)
    vbox = [line.split(" ", 1)[1] for line in lines if line.startswith("VBoxManage ")]
    return counts, vbox


class GuestLog:
    """SSH connections and daemon starts, read from the guest's own logs between two looks.

    sshd (lab/files/rc.boot2docker: `sshd -E /var/log/sshd.log`, LogLevel INFO) writes
    "Accepted publickey for docker from <peer> port <port> ..." per authenticated connection and,
    for one that ends before authenticating, "Connection closed by [authenticating user X]
    <peer> port <port> [preauth]" (or "... reset by ..."). Every connection that reached sshd
    is counted by its peer port, once, in the look that first shows it (a line written after a
    run ended still belongs to that run when its port was seen before). The init script
    (lab/files/docker.init) appends "Starting dockerd: <date>" to the daemon's log each time it
    starts dockerd: a restart is one more such line. dockerd's PID is read too, as a cross-check
    (the report shows both; a target needs them to agree).
    """

    def __init__(self, lab: Any, machine: str) -> None:
        self.lab = lab
        self.machine = machine
        self.ssh_lines = 0
        self.peers: set[str] = set()
        self.starts = 0
        self.pid: int | None = None

    def _read(self) -> tuple[int, list[str], int | None]:
        out = self.lab.guest_run(self.machine, ["sh", "-c", GUEST_LOGS]).stdout.splitlines()
        starts = int(out[0]) if out and out[0].isdigit() else 0
        return starts, out[1:], self.lab.daemon_pid(self.machine)

    def reset(self) -> None:
        """Start counting from now (a fresh VM)."""
        self.starts, lines, self.pid = self._read()
        self.ssh_lines = len(lines)
        self.peers = {m.group(1) for m in map(SSH_PEER.search, lines) if m}

    def since(self) -> dict[str, Any]:
        """What happened in the guest since the last look."""
        starts, lines, pid = self._read()
        new = lines[self.ssh_lines :]
        accepted, other = set(), set()
        for line in new:
            m = SSH_PEER.search(line)
            if m is None or line.startswith("Server listening") or m.group(1) in self.peers:
                continue
            (accepted if line.startswith("Accepted ") else other).add(m.group(1))
        other -= accepted  # a peer's earlier line, e.g. a failed key before the accepted one
        counts = {
            "ssh_connections": len(accepted),
            "ssh_unauthenticated": len(other),
            "daemon_restarts": starts - self.starts,
            "dockerd_pid_changed": pid != self.pid,
        }
        self.ssh_lines, self.starts, self.pid = len(lines), starts, pid
        self.peers |= accepted | other
        return counts


class Streamed:
    """One command's run, read as it happens: when each stderr line and the last output arrived
    (time.monotonic()), and when the process ended."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.start = self.end = self.last_output = 0.0
        self.returncode = 0
        self.stdout = ""
        self.stderr_lines: list[tuple[float, str]] = []

    @property
    def stderr(self) -> str:
        return "".join(f"{text}\n" for _, text in self.stderr_lines)

    def stages(self) -> dict[str, float]:
        """Each stage's time from the banners' arrival: a stage runs from its banner to the next
        (the last: to the last output), start-up from the start to the first banner, exit from
        the last output to the process's end. `stages.step` prints a banner once the stage has
        planned, so a stage's time holds its apply and the next stage's plan, and start-up the
        first stage's plan."""
        banners = [
            (t, m.group(1)) for t, m in ((t, BANNER.match(x)) for t, x in self.stderr_lines) if m
        ]
        if not banners:
            raise BenchError(f"{' '.join(self.argv)} printed no stage banner: {self.stderr[-800:]}")
        stages = {STARTUP: banners[0][0] - self.start}
        ends = [t for t, _ in banners[1:]] + [self.last_output]
        for (t, title), end in zip(banners, ends):
            name = "Done" if title.startswith("Done") else title
            stages[name] = stages.get(name, 0.0) + end - t
        stages[EXIT] = self.end - self.last_output
        return stages


class Runner:
    """Times commands on the lab's Mac (nsenter into its host namespace, as Lab.run_on_host
    does), with the counting shims first on PATH."""

    def __init__(self, lab: Any, work: Path, host_netns: str) -> None:
        self.lab = lab
        self.work = work
        self.log = work / "spawns.log"
        self.guest = GuestLog(lab, MACHINE)
        self.enter = ["nsenter", f"--net={host_netns}"]
        shims = work / "shims"
        shims.mkdir()
        env = lab.host_env()
        write_shims(shims, env["PATH"], self.log)
        env["PATH"] = f"{shims}{os.pathsep}{env['PATH']}"
        env.pop("DVH_BENCH_NESTED", None)
        self.env = env
        self.py = sys.executable

    def streamed(
        self, argv: list[str], timeout: float = 120.0, codes: tuple[int, ...] = (0,)
    ) -> Streamed:
        """Run argv, reading stdout and stderr as they come; raise BenchError unless it exits
        with one of `codes`."""
        run = Streamed(argv)
        run.start = time.monotonic()
        child = subprocess.Popen(
            [*self.enter, *argv],
            env=self.env,
            cwd=self.work,  # not a clone: `python -m` would import the package found there
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        assert child.stdout is not None and child.stderr is not None
        out, err = bytearray(), b""
        deadline = run.start + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(child.stdout, selectors.EVENT_READ, "out")
            sel.register(child.stderr, selectors.EVENT_READ, "err")
            while sel.get_map():
                if time.monotonic() > deadline:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(child.pid, signal.SIGKILL)
                    child.wait()
                    raise BenchError(f"{' '.join(argv)} did not end within {timeout} s")
                for key, _ in sel.select(max(0.0, deadline - time.monotonic())):
                    chunk = os.read(key.fd, 65536)
                    now = time.monotonic()
                    if not chunk:
                        sel.unregister(key.fileobj)
                        continue
                    run.last_output = now
                    if key.data == "out":
                        out += chunk
                        continue
                    *lines, err = (err + chunk).split(b"\n")
                    run.stderr_lines += [(now, ln.decode(errors="replace")) for ln in lines]
        run.returncode = child.wait()
        run.end = time.monotonic()
        child.stdout.close()
        child.stderr.close()
        if err:
            run.stderr_lines.append((run.end, err.decode(errors="replace")))
        run.stdout = out.decode(errors="replace")
        if not run.last_output:
            run.last_output = run.end
        if run.returncode not in codes:
            raise BenchError(
                f"{' '.join(argv)} exited {run.returncode}: {run.stderr.strip()[-800:]}"
            )
        return run

    def timed(
        self, argv: list[str], timeout: float = 120.0, codes: tuple[int, ...] = (0,)
    ) -> tuple[float, Streamed]:
        run = self.streamed(argv, timeout, codes)
        return run.end - run.start, run

    def tool(self, *args: str) -> list[str]:
        return [self.py, "-m", "docker_vpn_helper", *args]

    def fix(self) -> dict[str, Any]:
        """One `fix`: its wall time, stages, what it spawned, and what the guest saw of it."""
        read_spawns(self.log)
        run = self.streamed(self.tool("fix", "--machine", MACHINE, "--shell", "bash"))
        spawned, vbox = read_spawns(self.log)
        return {
            "wall": run.end - run.start,
            "stages": run.stages(),
            "guest": self.guest.since(),
            "spawned": dict(spawned),
            "vbox": vbox,
        }


def busy_cores(seconds: float) -> float:
    """How many cores the whole machine kept busy over the next `seconds` (/proc/stat)."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as stat:
            ticks = [int(t) for t in stat.readline().split()[1:]]
        return sum(ticks), ticks[3] + ticks[4]  # all, idle + iowait

    total, idle = sample()
    time.sleep(seconds)
    total2, idle2 = sample()
    spent = total2 - total
    return (os.cpu_count() or 1) * (spent - (idle2 - idle)) / spent if spent else 0.0


def wait_until_quiet(limit: float = 5.0) -> float:
    """Wait until the machine is idle (two 0.1 s windows under 0.25 busy cores); the seconds
    waited. A machine the lab has just built leaves the kernel ~0.5 s of work (a kworker in
    ipv6_addrconf: the namespaces and veths of the removed and the added VM); a real broken
    machine is an idle VM the VPN cut off, so the broken run must not share the CPU with it."""
    start = time.perf_counter()
    quiet = 0
    while quiet < 2 and time.perf_counter() - start < limit:
        quiet = quiet + 1 if busy_cores(0.1) < 0.25 else 0
    return time.perf_counter() - start


# ---- imports -------------------------------------------------------------------------------------


def import_profile(stderr: str) -> dict[str, Any]:
    """Top-level imports by cumulative time (from -X importtime) and which heavy ones loaded."""
    rows = []
    loaded = set()
    for seconds, depth, name in importtime_rows(stderr):
        loaded.add(name.split(".")[0])
        if depth == 1:  # a top-level import (not one done by another module)
            rows.append((seconds, name))
    rows.sort(reverse=True)
    return {
        "top": rows[:8],
        "total": sum(r[0] for r in rows),
        "heavy": {pkg: pkg in loaded for pkg in HEAVY},
    }


# ---- the benchmark ---------------------------------------------------------------------------------


def floors(r: Runner, lab: Any, runs: int, add: Callable[[str, float], None]) -> dict[str, Any]:
    """Start-up and VirtualBox costs and the healthy fix's floor (each `runs` times, through
    `add`), then floors.py's SSH, TLS and restart floors (returned)."""
    for _ in range(runs):
        add("python -c pass", r.timed([r.py, "-c", "pass"])[0])
        add(
            "python -c 'import docker_vpn_helper.tasks'",
            r.timed([r.py, "-c", "import docker_vpn_helper.tasks"])[0],
        )
        add("VBoxManage --version (lab stand-in)", r.timed(["VBoxManage", "--version"])[0])
        add(VBOX_SEQUENCE, r.timed(["sh", "-c", BROKEN_VBOX_CALLS])[0])
        r.timed(["VBoxManage", "controlvm", MACHINE, "natpf1", "delete", FLOOR_RULE])
        add("docker-machine version (lab stand-in)", r.timed(["docker-machine", "version"])[0])
    certs = str(lab.paths.machine_dir(MACHINE))
    for _ in range(runs):
        floor = [r.py, str(BENCH_DIR / "floors.py"), "--healthy-floor", MACHINE, "--certs", certs]
        add(HEALTHY_FLOOR, r.timed(floor)[0])
    read_spawns(r.log)
    status = lab.status()["machines"][MACHINE]
    _, out = r.timed(
        [
            r.py,
            str(BENCH_DIR / "floors.py"),
            "--ssh-port",
            str(status["ssh_port"]),
            "--certs",
            certs,
            "--runs",
            str(runs),
            "--restarts",
            str(runs),  # as many as the broken runs: dockerd's restart moves by ~0.1 s
        ],
        timeout=300,
    )
    return json.loads(out.stdout)


def bench(lab: Any, runs: int, work: Path, host_netns: str) -> dict[str, Any]:
    r = Runner(lab, work, host_netns)
    results: dict[str, Any] = {"broken": [], "healthy": [], "timings": {}}
    t = results["timings"]

    def add(key: str, value: float) -> None:
        t.setdefault(key, []).append(value)

    def one_run() -> None:
        if MACHINE in lab.status()["machines"]:
            lab.remove_machine(MACHINE)
        start = time.perf_counter()
        lab.add_machine(MACHINE, cert_profile="v0.16")
        add("lab: add_machine (not ours)", time.perf_counter() - start)
        r.guest.reset()
        add(SETTLE, wait_until_quiet())
        broken, healthy = r.fix(), r.fix()
        env_print = r.timed(r.tool("env.print", "--machine", MACHINE, "--shell", "bash"))[0]
        listing = r.timed(r.tool("--list"))[0]
        # doctor's host-only probe (bounded to doctor.REACH_TIMEOUT) runs beside its checks:
        # behind the VPN, which drops the VM's address, doctor's wall shows that it overlaps.
        # (exit 1: this shell's docker does not point at the machine, as the benchmark has it)
        doctor = r.timed(r.tool("doctor", "--machine", MACHINE), codes=(0, 1))[0]
        # env.print, --list and doctor: no SSH connection, no restart expected
        results.setdefault("quick_commands_guest", []).append(r.guest.since())
        read_spawns(r.log)
        baseline = [str(BENCH_DIR / "baseline_2015.sh"), MACHINE, str(lab.paths.store)]
        wall, _ = r.timed(["bash", *baseline])
        results["baseline_spawned"] = dict(read_spawns(r.log)[0])
        results.setdefault("baseline_guest", []).append(r.guest.since())
        results["broken"].append(broken)
        results["healthy"].append(healthy)
        add("env.print", env_print)
        add("--list", listing)
        add("doctor (VPN dropping the VM's address)", doctor)
        add("baseline 2015 (healthy machine)", wall)

    for i in range(runs):
        print(f"run {i + 1}/{runs}", file=sys.stderr, flush=True)
        try:
            one_run()
        except BenchError as exc:
            vm = lab.status()["machines"].get(MACHINE, {})
            if vm.get("state") == "running" and vm.get("daemon_pid"):
                raise
            # Another lab's `down` can kill our guest (see PERFORMANCE.md): run it again, once.
            print(f"  the VM died under the run ({exc}); running it again", file=sys.stderr)
            results["retried"] = results.get("retried", 0) + 1
            one_run()

    print("floors", file=sys.stderr, flush=True)
    r.fix()  # the baseline replaced the certificate: make the machine ours again
    results["floors"] = floors(r, lab, runs, add)

    imports = {}
    for label, args in (
        ("env.print", ["env.print", "--machine", MACHINE, "--shell", "bash"]),
        ("--list", ["--list"]),
        ("fix (healthy)", ["fix", "--machine", MACHINE, "--shell", "bash"]),
    ):
        _, out = r.timed([r.py, "-X", "importtime", "-m", "docker_vpn_helper", *args])
        imports[label] = import_profile(out.stderr)
    results["imports"] = imports
    return results


# ---- the report ------------------------------------------------------------------------------------


def targets_of(res: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """The targets (issues 7, 14 and 20) as (target, met, figures), from the medians."""
    fl = res["floors"]
    med = statistics.median
    healthy, broken = res["healthy"], res["broken"]
    h_wall = med([x["wall"] for x in healthy])
    b_wall = med([x["wall"] for x in broken])
    restart = med(fl["daemon_restart_until_answer"])
    env_wall = med(res["timings"]["env.print"])
    h_floor = med(res["timings"][HEALTHY_FLOOR])
    base = med(res["timings"]["baseline 2015 (healthy machine)"])

    def seen(runs: list[dict[str, Any]], name: str) -> list[Any]:
        return sorted({x["guest"][name] for x in runs})

    h_ssh, h_unauth = seen(healthy, "ssh_connections"), seen(healthy, "ssh_unauthenticated")
    h_restarts, h_pids = seen(healthy, "daemon_restarts"), seen(healthy, "dockerd_pid_changed")
    h_vbox = sorted({" ".join(x["vbox"]) for x in healthy})
    b_ssh, b_unauth = seen(broken, "ssh_connections"), seen(broken, "ssh_unauthenticated")
    b_restarts, b_pids = seen(broken, "daemon_restarts"), seen(broken, "dockerd_pid_changed")
    env_heavy = res["imports"]["env.print"]["heavy"]
    return [
        (
            "healthy: 0 SSH connections (none reached sshd)",
            h_ssh == [0] and h_unauth == [0],
            f"{h_ssh}, not authenticated {h_unauth}",
        ),
        (
            "healthy: 0 daemon restarts",
            h_restarts == [0] and h_pids == [False],
            f"{h_restarts}, dockerd's PID changed {h_pids}",
        ),
        (
            "healthy: 1 VirtualBox query (showvminfo)",
            all(x["vbox"] == HEALTHY_VBOX for x in healthy),
            f"{h_vbox}",
        ),
        (f"healthy: wall <= {HEALTHY_MAX_S} s", h_wall <= HEALTHY_MAX_S, f"{h_wall:.3f} s"),
        (
            f"healthy: wall <= {HEALTHY_OVER_FLOOR:g} x its floor",
            h_wall <= HEALTHY_OVER_FLOOR * h_floor,
            f"{h_wall:.3f} s vs {HEALTHY_OVER_FLOOR:g} x {h_floor:.3f} = "
            f"{HEALTHY_OVER_FLOOR * h_floor:.3f} s ({h_wall / h_floor:.2f}x)",
        ),
        (
            "broken: 1 SSH connection",
            b_ssh == [1] and b_unauth == [0],
            f"{b_ssh}, not authenticated {b_unauth}",
        ),
        (
            "broken: 1 daemon restart",
            b_restarts == [1] and b_pids == [True],
            f"{b_restarts}, dockerd's PID changed {b_pids}",
        ),
        (
            f"broken: wall <= restart floor + {BROKEN_OVER_RESTART_S} s",
            b_wall <= restart + BROKEN_OVER_RESTART_S,
            f"{b_wall:.3f} s vs {restart:.3f} + {BROKEN_OVER_RESTART_S} = "
            f"{restart + BROKEN_OVER_RESTART_S:.3f} s",
        ),
        (
            f"env.print: wall <= {ENV_PRINT_MAX_S} s",
            env_wall <= ENV_PRINT_MAX_S,
            f"{env_wall:.3f} s",
        ),
        (
            "env.print: imports neither paramiko nor cryptography",
            not env_heavy["paramiko"] and not env_heavy["cryptography"],
            f"paramiko={env_heavy['paramiko']}, cryptography={env_heavy['cryptography']}",
        ),
        (
            f"healthy fix >= {BASELINE_RATIO:g}x faster than the 2015 sequence",
            base / h_wall >= BASELINE_RATIO,
            f"{base:.3f} / {h_wall:.3f} = {base / h_wall:.1f}x",
        ),
    ]


def report(info: dict[str, str], res: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """Print the tables; return the targets as (target, met, figures)."""
    print("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    if res.get("retried"):
        print(f"note: {res['retried']} run(s) repeated because the VM died under them")
    print()
    for kind in ("broken", "healthy"):
        runs = res[kind]
        print(f"fix on a {kind} machine ({len(runs)} runs): median [min .. max]")
        print(f"  {'wall':48} {fmt([x['wall'] for x in runs])}")
        print("    (each stage from its banner to the next: its apply and the next stage's plan)")
        for stage in runs[0]["stages"]:
            values = [x["stages"].get(stage, 0.0) for x in runs]
            print(f"    {stage:46} {fmt(values)}")
        if kind == "broken":
            beyond = [x["wall"] - x["stages"][RESTART_STAGE] for x in runs]
            print(f"  {'beyond its own daemon restart (wall - that stage)':48} {fmt(beyond)}")
            vbox = statistics.median(res["timings"][VBOX_SEQUENCE])
            ours = [b - vbox for b in beyond]
            print(f"  {'  minus VirtualBox (its 3 calls, timed alone)':48} {fmt(ours)}")
        for name in GUEST_COUNTS:
            values = [x["guest"][name] for x in runs]
            print(f"  {name:48} {sorted(set(values))} per run")
        spawned = sorted({p for x in runs for p in x["spawned"]} | set(SHIMMED))
        for prog in spawned:
            values = [x["spawned"].get(prog, 0) for x in runs]
            print(f"  spawned {prog:40} {sorted(set(values))} per run")
        subcommands = Counter(v.split(" ")[0] for x in runs for v in x["vbox"])
        print(f"  VBoxManage subcommands (all runs): {dict(subcommands)}")
        print()

    print("other commands and floors: median [min .. max]")
    for name, values in res["timings"].items():
        print(f"  {name:50} {fmt(values)}")
    fl = res["floors"]
    print(f"  {'floor: import paramiko (once)':50} {fmt([fl['import_paramiko']])}")
    print(f"  {'floor: load id_rsa with paramiko (once)':50} {fmt([fl['load_key']])}")
    print(
        f"  {'floor: SSH handshake + 1 command (paramiko)':50} {fmt(fl['ssh_handshake_command'])}"
    )
    print(f"  {'floor: TLS GET /version (python ssl, new ctx)':50} {fmt(fl['tls_version'])}")
    print(f"  {'floor: daemon restart command returns':50} {fmt(fl['daemon_restart_command'])}")
    print(
        f"  {'floor: daemon restart until it answers TLS':50} {fmt(fl['daemon_restart_until_answer'])}"
    )
    print(f"  baseline 2015 spawns per run: {res.get('baseline_spawned')}")
    for label, key in (
        ("baseline 2015", "baseline_guest"),
        ("env.print, --list, doctor", "quick_commands_guest"),
    ):
        seen = {name: sorted({x[name] for x in res[key]}) for name in GUEST_COUNTS}
        print(f"  {label} in the guest per run: {seen}")
    print()

    for label, prof in res["imports"].items():
        heavy = ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in prof["heavy"].items())
        print(f"imports of {label}: {prof['total']:.3f} s top-level cumulative; imported: {heavy}")
        for seconds, name in prof["top"]:
            print(f"    {seconds * 1000:8.1f} ms  {name}")
    print()

    targets = targets_of(res)
    print("targets:")
    for name, met, figures in targets:
        print(f"  [{'MET ' if met else 'MISS'}] {name:58} {figures}")
    return targets


def verdict(targets: list[tuple[str, bool, str]]) -> tuple[int, str]:
    """The exit status and the line that explains it: 0 when every target was met, else 2 and
    the missed targets with their figures."""
    missed = [f"{name} ({figures})" for name, met, figures in targets if not met]
    if not missed:
        return 0, f"benchmark: all {len(targets)} targets met"
    return 2, (
        f"benchmark: exit status 2 because {len(missed)} of {len(targets)} targets were missed: "
        + "; ".join(missed)
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="exit status: 0 every target met; 2 some missed (the last line on stderr names "
        "each); 1 the benchmark itself failed",
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (default 5)")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument(
        "--lab-dir",
        default=os.environ.get("DVH_BENCH_LAB_DIR", "/run/dvhlab-bench"),
        help="the benchmark's own lab folder (default /run/dvhlab-bench)",
    )
    parser.add_argument(
        "--lab-ns",
        default=os.environ.get("DVH_BENCH_LAB_NS", "dvhbench"),
        help="prefix of its namespaces (default dvhbench)",
    )
    parser.add_argument("--keep", action="store_true", help="leave the lab up at the end")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    # The lab reads these at import: our own folder and namespaces, never another lab's.
    os.environ["DVH_LAB_DIR"] = args.lab_dir
    os.environ["DVH_LAB_NS"] = args.lab_ns
    # The tool as this interpreter has it installed (editable: the clone; else site-packages),
    # imported before the clone goes on sys.path for the lab (lab/ is never installed).
    try:
        import docker_vpn_helper
    except ImportError:
        parser.error(f"install the tool for {sys.executable} first: pip install --no-deps -e .")
    sys.path.insert(1, str(BENCH_DIR.parent))
    from lab import Lab
    from lab.paths import HOST_NS, netns_path

    # What `pip install` does: byte-compile the package. Without it an editable checkout under
    # PYTHONDONTWRITEBYTECODE (set on our CI machines) compiles every module on every run.
    compileall.compile_dir(Path(docker_vpn_helper.__file__).parent, quiet=1)
    info = machine_info()
    info["tool"] = str(Path(docker_vpn_helper.__file__).parent)
    lab = Lab()
    work = Path(tempfile.mkdtemp(prefix="dvh-bench-"))
    started = time.perf_counter()
    try:
        lab.up((MACHINE,), cert_profile="v0.16")
        for other in set(lab.status()["machines"]) - {MACHINE}:
            lab.remove_machine(other)  # its NAT rules could hold our host port
        lab.vpn_on("drop")
        results = bench(lab, args.runs, work, netns_path(HOST_NS))
    except BenchError as exc:
        print(f"benchmark failed (exit status 1): {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            for step in (lambda: lab.remove_machine(MACHINE), lab.vpn_off, lab.down):
                try:
                    step()
                except Exception as exc:  # keep cleaning up: the next steps matter more
                    print(f"cleanup: {exc}", file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)
    info["benchmark_seconds"] = f"{time.perf_counter() - started:.0f}"
    targets = report(info, results)
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "results": results}, indent=1))
    code, line = verdict(targets)
    print(line, file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
