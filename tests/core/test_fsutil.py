"""read_optional: a local file that may be missing, and only that; ProcessLock."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from docker_vpn_helper.core.fsutil import Busy, ProcessLock, read_optional
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


def test_the_lock_names_its_last_holder_and_refuses_a_second_one(tmp_path: Path):
    path = tmp_path / ".lock"
    first = ProcessLock(path)
    assert first.acquire() == ""  # a new lock file: nobody held it
    with pytest.raises(Busy, match=f"^pid {os.getpid()}$"):
        ProcessLock(path).acquire()
    first.release()
    path.write_text("4242")  # another process held it since, and let go
    again = ProcessLock(path)
    assert again.acquire() == "4242"
    assert path.read_text() == str(os.getpid())
    again.release()
