"""Import cost of modules, each in a fresh interpreter: the evidence behind start-up fixes.

    python benchmarks/imports.py [--runs N] MODULE...

For each MODULE prints the minimum over N runs of the cumulative `-X importtime` figure (the
minimum, because a busy machine only ever adds time), and which heavy packages it pulled in.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

HEAVY = ("invoke", "jinja2", "unittest", "asyncio", "yaml", "cryptography", "paramiko", "fabric")


# A line of `python -X importtime`: self µs | cumulative µs | the module, indented by depth.
IMPORT_LINE = re.compile(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)")


def importtime_rows(stderr: str) -> list[tuple[float, int, str]]:
    """(cumulative seconds, depth, module) per line of `-X importtime` output (also used by
    run.py); depth 1 is an import the program itself made."""
    rows = []
    for line in stderr.splitlines():
        m = IMPORT_LINE.match(line)
        if m:
            rows.append((int(m.group(1)) / 1e6, len(m.group(2)), m.group(3)))
    return rows


def cost(module: str) -> tuple[float, set[str]]:
    """Seconds to import `module` (cumulative, outermost), and every top-level package loaded."""
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    total, loaded = 0.0, set()
    for seconds, _, name in importtime_rows(err):
        loaded.add(name.split(".")[-1] if "vendor" in name else name.split(".")[0])
        if name == module:
            total = seconds
    return total, loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("modules", nargs="+")
    args = parser.parse_args()
    for module in args.modules:
        results = [cost(module) for _ in range(args.runs)]
        best = min(seconds for seconds, _ in results)
        heavy = sorted(p for p in HEAVY if p in results[0][1])
        print(f"{best * 1000:8.1f} ms  {module:45} pulls in: {', '.join(heavy) or '-'}")


if __name__ == "__main__":
    main()
