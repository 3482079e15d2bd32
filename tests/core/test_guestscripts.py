"""The guest's scripts as text (they run against a real sshd in tests/adapters/test_guest.py)."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from docker_vpn_helper.core import guestscripts as scripts


def test_scripts_run_as_root_in_sh_with_every_value_quoted():
    script = scripts.read_file_script("/var/lib/boot2docker/it's here.pem")
    words = shlex.split(script)
    assert words[:3] == ["sudo", "sh", "-c"]
    assert "'/var/lib/boot2docker/it'\"'\"'s here.pem'" in words[3]


def test_sections_and_split_files_read_what_the_scripts_print():
    out = "--mprofile\nX=1\n\n--mcert /c.pem\nPEM\n\n--mend\n"
    assert scripts.sections(out, "--m") == {
        "profile": ("", "X=1\n"),
        "cert": ("/c.pem", "PEM\n"),
        "end": ("", ""),
    }
    assert scripts.split_files("--my\nabc\n\n--mn\n\n", "--m") == [b"abc\n", None]


def test_restart_policies_are_read_by_container_name():
    out = "/web no\n/db always\n\n"
    assert scripts.parse_policies(out) == {"web": "no", "db": "always"}


def test_install_refuses_relative_or_clashing_targets():
    with pytest.raises(ValueError):
        scripts.install_script([("relative.pem", b"x", 0o644)], "/b")
    with pytest.raises(ValueError):
        scripts.install_script([("/a/s.pem", b"x", 0o644), ("/b/s.pem", b"y", 0o644)], "/b")


def test_every_script_is_valid_sh(tmp_path):
    for script in (
        scripts.install_script([("/v/server.pem", b"x", 0o644)], "/b"),
        scripts.restore_script([("/b/server.pem", "/v/server.pem"), ("", "/v/k")], "/c", False),
        scripts.daemon_files_script("/p", "--m"),
        scripts.restart_command(60).shell(),
    ):
        body = shlex.split(script)[3]
        assert subprocess.run(["sh", "-n", "-c", body], capture_output=True).returncode == 0
