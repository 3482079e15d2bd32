"""The real-format samples in tests/core/data (provenance in data/README.md)."""

from pathlib import Path

DATA = Path(__file__).parent / "data"


def load(name: str) -> str:
    """A sample exactly as stored (newline="" keeps CRLF samples CRLF)."""
    with open(DATA / name, encoding="utf-8", newline="") as fh:
        return fh.read()
