"""Tests never see the developer's HOME, ~/.ssh/config, docker-machine store or invoke config."""

from __future__ import annotations

import os

import pytest

# The lab tests build a lab of their own, never the one `invoke lab.up` built in /run/dvhlab:
# set before anything imports lab.paths, which reads it once (namespaces are named after the
# folder). DVH_LAB_DIR and DVH_LAB_NS, when given, still choose the lab.
os.environ.setdefault("DVH_LAB_DIR", "/run/dvhlab-tests")

from docker_vpn_helper import settings
from docker_vpn_helper.adapters import corporate

from .support.runs import close_all

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    hidden = ("MACHINE_STORAGE_PATH", "SSH_AUTH_SOCK", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
    for name in (*hidden, "MINIKUBE_HOME", "KUBECONFIG"):
        monkeypatch.delenv(name, raising=False)
    yield home
    close_all()  # the test's run ends


@pytest.fixture(autouse=True)
def no_user_ssh_config(monkeypatch):
    """Hide ~/.ssh/config from Fabric even if HOME is the developer's.

    Fabric decides whether to parse the file with `os.path.isfile`; answering False for that
    one path (as Fabric's own test suite does) keeps every other file check intact.
    """
    real_isfile = os.path.isfile

    def isfile(path):
        return path != os.path.expanduser("~/.ssh/config") and real_isfile(path)

    monkeypatch.setattr(os.path, "isfile", isfile)


@pytest.fixture(autouse=True)
def networks_conf(tmp_path_factory, monkeypatch):
    """VirtualBox's /etc/vbox/networks.conf, never the real one: as a docker-machine user on
    VirtualBox 6.1.28+ has it (192.168.99.0/24 allowed). A test may rewrite or remove it."""
    conf = tmp_path_factory.mktemp("etc-vbox") / "networks.conf"
    conf.write_text("* 192.168.99.0/24\n")
    monkeypatch.setitem(settings.DEFAULTS, "vbox_networks_conf", str(conf))
    return conf


@pytest.fixture(autouse=True)
def no_host_corp(tmp_path_factory, monkeypatch):
    """The machine's own local roots (/usr/local/share/ca-certificates) and proxy variables stay
    out of corp.sync: a test that wants some gives them."""
    monkeypatch.setattr(corporate, "LINUX_LOCAL_ROOTS", tmp_path_factory.mktemp("local-roots"))
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
