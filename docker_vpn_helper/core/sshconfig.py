"""The machine's entry in ~/.ssh/config: a block between marker comments. Pure.

ssh takes the first value it finds for each option, so a new block goes first in the file and
ends with `Host *`, which gives the lines after it back to every host, as they were before.
"""

from __future__ import annotations

from pathlib import Path

from .templating import render

MARKER = "docker-vpn-helper"


def markers(alias: str) -> tuple[str, str]:
    return f"# BEGIN {MARKER} {alias}", f"# END {MARKER} {alias}"


def _argument(path: Path) -> str:
    """An ssh_config argument: double-quoted, `%` doubled (ssh expands %d, %h, ... in paths)."""
    text = str(path)
    if '"' in text or "\n" in text or "\r" in text:
        raise ValueError(
            f"{text} contains a double quote or a line break: ssh_config cannot name it"
        )
    return '"' + text.replace("%", "%%") + '"'


def render_block(alias: str, machine: str, port: int, user: str, key: Path) -> str:
    """The block for `alias`; raise ValueError when the key's path cannot be written in it."""
    begin, end = markers(alias)
    return render(
        "ssh_config.j2",
        begin=begin,
        end=end,
        alias=alias,
        machine=machine,
        port=port,
        user=user,
        identity_file=_argument(key),
    )


def with_block(text: str, alias: str, block: str) -> str:
    """`text` with `alias`'s block replaced by `block`, or `block` put first when there is none.

    Raise ValueError when only one of the two markers is there (a hand-edited file).
    """
    begin, end = markers(alias)
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.rstrip("\r\n") == begin]
    ends = [i for i, line in enumerate(lines) if line.rstrip("\r\n") == end]
    if not starts and not ends:
        return block + ("\n" + text if text else "")
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise ValueError(f"the markers {begin!r} / {end!r} do not enclose one block")
    return "".join(lines[: starts[0]]) + block + "".join(lines[ends[0] + 1 :])
