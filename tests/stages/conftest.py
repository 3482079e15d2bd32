import pytest

from docker_vpn_helper import forwarding
from docker_vpn_helper.core.listeners import Listener
from docker_vpn_helper.link import GuestLink

from .standins import RefusedGuest, dockerd, guest, store, store_template  # noqa: F401  (fixtures)

VIRTUALBOX = Listener(812, "VBoxHeadless")  # the VM's process, which holds its NAT forwards


@pytest.fixture(autouse=True)
def no_ssh(monkeypatch):
    """In-process tests never open SSH: the VM refuses, unless a test installs a fake guest."""
    monkeypatch.setattr(GuestLink, "_open_guest", lambda self, port, machine: RefusedGuest(port))


@pytest.fixture(autouse=True)
def virtualbox_listens(monkeypatch):
    """Every host port a NAT rule forwards is held by VirtualBox's process (a test that wants
    another program there, or nothing, says so)."""
    monkeypatch.setattr(forwarding, "port_holders", lambda c, port: [VIRTUALBOX])
