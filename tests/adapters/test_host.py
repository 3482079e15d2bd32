"""Local commands: their answers, and the one-line errors for the ways they fail."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from invoke import Context

from docker_vpn_helper.adapters import host
from docker_vpn_helper.core.listeners import Listener
from docker_vpn_helper.errors import HelperError


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_command_that_fails_is_answered_for_the_caller_to_judge():
    answer = python(
        "import sys; print('VMState=\"running\"'); sys.stderr.write('note'); sys.exit(3)"
    )
    output = host.run(Context(), answer, timeout=30)
    assert (output.stdout, output.stderr, output.exited) == ('VMState="running"\n', "note", 3)
    assert not output.ok and output.last_line() == "note"


def test_a_command_that_does_not_answer_times_out_in_one_line():
    with pytest.raises(HelperError, match=r"^VBoxManage did not answer within 0.2 s: "):
        host.run(Context(), python("import time; time.sleep(60)"), timeout=0.2, what="VBoxManage")


def test_a_missing_program_is_named(tmp_path):
    missing = str(tmp_path / "VBoxManage")
    with pytest.raises(HelperError, match="is not installed or not on PATH \\(VBoxManage\\)"):
        host.run(Context(), [missing, "--version"], timeout=30, what="VBoxManage")


def test_values_are_quoted_never_interpreted_by_the_shell(tmp_path):
    marker = tmp_path / "touched"
    output = host.run(Context(), ["echo", f"$(touch {marker})"], timeout=30)
    assert output.stdout == f"$(touch {marker})\n" and not marker.exists()


def test_port_holders_names_the_process_listening_on_linux():
    """This very process listens on a loopback port: it is named, with its pid."""
    if host.platform() != "linux":
        pytest.skip("reads /proc")
    import os
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        comm = Path("/proc/self/comm").read_text().strip()
        assert host.port_holders(Context(), port) == [Listener(os.getpid(), comm)]
    assert host.port_holders(Context(), port) == []
