"""benchmarks/run.py's verdict: which targets it missed and why it exits 2 (issue 21, item 11)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load_run():
    """benchmarks/run.py as a module (it imports its neighbour imports.py, as run as a script)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location("bench_run", BENCHMARKS / "run.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCHMARKS))


TARGETS = [
    ("healthy: 0 SSH connections (none reached sshd)", True, "[0], not authenticated [0]"),
    ("healthy: wall <= 0.6 s", False, "0.712 s"),
    ("env.print: wall <= 0.3 s", False, "0.341 s"),
]


def test_missed_targets_are_named_with_their_figures_and_exit_2():
    code, line = load_run().verdict(TARGETS)
    assert code == 2
    assert line == (
        "benchmark: exit status 2 because 2 of 3 targets were missed: "
        "healthy: wall <= 0.6 s (0.712 s); env.print: wall <= 0.3 s (0.341 s)"
    )


def test_all_targets_met_is_exit_0():
    met = [(name, True, figures) for name, _, figures in TARGETS]
    assert load_run().verdict(met) == (0, "benchmark: all 3 targets met")


def test_help_gives_the_exit_statuses():
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "run.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "2 some missed (the last line on stderr names each)" in " ".join(done.stdout.split())
