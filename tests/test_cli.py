"""The console command as a shell user meets it."""

import os
import subprocess
import sys


def test_a_closed_stdout_is_no_traceback():
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `docker-vpn-helper --help | head -0`
    done = subprocess.run(
        [sys.executable, "-m", "docker_vpn_helper", "--help"],
        stdout=write_end,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
    )
    os.close(write_end)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr


def test_version():
    done = subprocess.run(
        [sys.executable, "-m", "docker_vpn_helper", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == "docker-vpn-helper 0.1.0"
