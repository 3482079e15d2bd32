"""last_line: a failing command's reason, for one-line errors."""

from __future__ import annotations

from docker_vpn_helper.core.text import last_line


def test_the_last_non_blank_line_stripped():
    assert last_line("noise\n  the reason  \n\n", default="-") == "the reason"


def test_the_first_text_with_a_line_wins():
    # stderr first: its blank lines do not hide stdout's reason, and stdout never hides stderr's.
    assert last_line(" \n", "out\n", default="-") == "out"
    assert last_line("err\n", "out\n", default="-") == "err"


def test_the_default_when_nothing_was_said():
    assert last_line("", "\n\t\n", default="exit status 3") == "exit status 3"
    assert last_line(default="no output") == "no output"
