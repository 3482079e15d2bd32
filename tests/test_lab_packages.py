"""The lab's Debian packages: one list for .ci/run, the README and lab.up (issue 17, item 7)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from docker_vpn_helper.errors import HelperError
from lab import packages

CLONE = Path(__file__).resolve().parents[1]


def test_ci_installs_the_list():
    assert "$(cat lab/debian-packages.txt)" in (CLONE / ".ci" / "run").read_text()
    assert {"tini", "docker.io", "openssh-server", "fish", "tcsh"} <= set(packages.packages())


def test_the_refusal_names_the_programs_and_prints_the_apt_line(tmp_path):
    line = packages.refusal(search=str(tmp_path))
    assert line.startswith("the lab needs programs this host lacks: ip (iproute2), ")
    assert "tini (tini)" in line and "sshd (openssh-server)" in line
    install = line.split("; install them with: ", 1)[1]
    assert install == packages.apt_line(["util-linux"])
    assert install.startswith(
        "sudo apt-get install -y --no-install-recommends openssh-server openssh-client socat"
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the lab is Linux only")
def test_lab_up_checks_the_packages_before_building_anything(tmp_path, monkeypatch):
    from lab import Lab

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(packages, "SEARCH", str(tmp_path / "empty"))
    folder = tmp_path / "lab"
    with pytest.raises(HelperError) as caught:
        Lab(folder).up()
    assert caught.value.reason.startswith("the lab needs programs this host lacks: ")
    assert packages.apt_line(["util-linux"]) in caught.value.reason
    assert not folder.exists()
