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


def cost(module: str) -> tuple[float, set[str]]:
    """Seconds to import `module` (cumulative, outermost), and every top-level package loaded."""
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    total, loaded = 0.0, set()
    for line in err.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            loaded.add(
                m.group(3).split(".")[-1] if "vendor" in m.group(3) else m.group(3).split(".")[0]
            )
            if m.group(3) == module:
                total = int(m.group(1)) / 1e6
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
