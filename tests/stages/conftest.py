import pytest

from docker_vpn_helper.link import GuestLink

from .standins import RefusedGuest, dockerd, guest, store, store_template  # noqa: F401  (fixtures)


@pytest.fixture(autouse=True)
def no_ssh(monkeypatch):
    """In-process tests never open SSH: the VM refuses, unless a test installs a fake guest."""
    monkeypatch.setattr(GuestLink, "_open_guest", lambda self, port, machine: RefusedGuest(port))
