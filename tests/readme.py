"""The README's examples, for the tests that run them as written (tests/test_readme.py, and the
lab's tests/lab/test_readme.py for what needs a VM).

A block the tests run is marked in the README with `<!-- test: NAME -->` on the line before its
opening fence (an HTML comment: invisible where the README is rendered).
"""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
_BLOCK = re.compile(r"<!-- test: (\S+) -->\n```\w*\n(.*?)\n```", re.S)


def blocks() -> dict[str, str]:
    """{name: the block's text} for every marked block."""
    return {name: body for name, body in _BLOCK.findall(README.read_text())}


def block(name: str) -> str:
    return blocks()[name]


def lines(name: str) -> list[str]:
    return block(name).splitlines()


def command(line: str) -> str:
    """A line without its trailing `# comment` (a `#` after two spaces, as the README writes them)."""
    return re.split(r"\s{2,}# ", line, maxsplit=1)[0].rstrip()
