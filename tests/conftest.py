"""Tests never see the developer's HOME, ~/.ssh/config, docker-machine store or invoke config."""

from __future__ import annotations

import pytest

from docker_vpn_helper import session


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for name in ("MACHINE_STORAGE_PATH", "SSH_AUTH_SOCK", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    yield home
    session.close_all()
