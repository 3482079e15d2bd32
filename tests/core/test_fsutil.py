"""read_optional: a local file that may be missing, and only that."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from docker_vpn_helper.core.fsutil import read_optional
from docker_vpn_helper.errors import HelperError


def test_a_file_is_read_whole(tmp_path: Path):
    path = tmp_path / "server.pem"
    path.write_bytes(b"pem\x00\xff")
    assert read_optional(path) == b"pem\x00\xff"
    assert read_optional(str(path)) == b"pem\x00\xff"


def test_a_missing_file_is_none(tmp_path: Path):
    assert read_optional(tmp_path / "server.pem") is None


def test_any_other_failure_is_one_line_naming_the_file(tmp_path: Path):
    folder = tmp_path / "ca-key.pem"
    folder.mkdir()
    with pytest.raises(
        HelperError, match=f"^cannot read {re.escape(str(folder))}: Is a directory$"
    ):
        read_optional(folder)
    with pytest.raises(HelperError, match=f"^cannot read CA key {re.escape(str(folder))}: "):
        read_optional(folder, "CA key")
