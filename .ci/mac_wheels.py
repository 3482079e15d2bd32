"""Check that requirements.txt installs from wheels on the Macs it promises (README, Dependencies).

Apple silicon and Intel, with macOS's system Python (3.9.6) and a current one (3.13): pip
downloads every pinned package and its dependencies as wheels for that platform, nothing to
compile. The oldest macOS: 10.15 on Intel (the first with a system Python 3, from the
command-line tools), 11 on Apple silicon. pip evaluates environment markers for the machine it runs on, not for --platform, so
requirements.txt's markers are evaluated here for each Mac first.
Needs the package index; exits 1 naming the platform whose download failed.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.requirements import Requirement

REQUIREMENTS = Path(__file__).resolve().parent.parent / "requirements.txt"
MACS = {"arm64": "macosx_11_0_arm64", "x86_64": "macosx_10_15_x86_64"}
PYTHONS = ("3.9.6", "3.13.0")


def pins_for(machine: str, python: str) -> list[str]:
    """requirements.txt's lines that apply on a Mac with this CPU and Python."""
    environment = {
        "platform_system": "Darwin",
        "sys_platform": "darwin",
        "platform_machine": machine,
        "python_version": ".".join(python.split(".")[:2]),
        "python_full_version": python,
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }
    pins = []
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate(environment):
            requirement.marker = None
            pins.append(str(requirement))
    return pins


def main() -> int:
    failed = []
    for machine, platform in MACS.items():
        for python in PYTHONS:
            pins = pins_for(machine, python)
            with tempfile.TemporaryDirectory() as folder:
                command = [
                    sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:",
                    "--platform", platform, "--python-version", python,
                    "--implementation", "cp", "-d", folder, *pins,
                ]  # fmt: skip
                done = subprocess.run(command, capture_output=True, text=True)
                wheels = sorted(p.name for p in Path(folder).glob("*.whl"))
            label = f"macOS {machine}, Python {python}"
            if done.returncode != 0:
                reason = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
                print(f"FAILED {label}: {reason}")
                failed.append(label)
            else:
                print(f"ok     {label}: {len(wheels)} wheels ({', '.join(pins)})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
