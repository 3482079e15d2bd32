"""Command output cut down for one-line error messages."""

from __future__ import annotations


def last_line(*texts: str, default: str) -> str:
    """The last non-blank line of the first text that has one (a failing command's last words
    are usually its reason), stripped; `default` when none has any."""
    for text in texts:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if lines:
            return lines[-1]
    return default
